using System.Collections.Concurrent;
using System.Reflection;

namespace Microsoft.ML.Svae;

/// <summary>
/// The one place that reaches into ML.NET internals, by type name and reflection, because ML.NET keeps them
/// internal: the cancellation flag of <c>Microsoft.ML.Runtime.ICancelable</c>, which hosts registered from an
/// <c>MLContext</c> implement and which the context's own (internal) <c>CancelExecution()</c> sets, as AutoML does to
/// stop a trial
/// and the GPU settings that hosts registered from an <c>MLContext</c> forward (<c>Microsoft.ML.Runtime.IHostEnvironmentInternal</c>).
/// </summary>
/// <remarks>
/// Written against Microsoft.ML 5.0.1. When ML.NET renames or removes these members the lookups return
/// <see langword="null"/> and the features degrade silently (no cancellation through the context; the context's GPU
/// settings are not seen from a child host), so <c>MLNetInternalsTests</c> checks every member by name and fails
/// loudly on an ML.NET update. Remove an entry when ML.NET makes it public (e.g. a public <c>IsCanceled</c>).
/// </remarks>
internal static class MLNetInternals
{
    /// <summary>The full name of ML.NET's internal cancellation interface.</summary>
    public const string CancelableInterface = "Microsoft.ML.Runtime.ICancelable";

    /// <summary>The full name of ML.NET's internal host-environment interface (GPU settings).</summary>
    public const string HostEnvironmentInterface = "Microsoft.ML.Runtime.IHostEnvironmentInternal";

    /// <summary>The members this adapter reads: interface full name and property name.</summary>
    public static IReadOnlyList<(string Interface, string Property)> Members { get; } =
    [
        (CancelableInterface, "IsCanceled"),
        (HostEnvironmentInterface, "GpuDeviceId"),
        (HostEnvironmentInterface, "FallbackToCpu"),
    ];

    /// <summary>
    /// Whether <paramref name="env"/> (a host registered from an <c>MLContext</c>) was canceled through ML.NET's
    /// internal <c>CancelExecution()</c> of the context or of a parent host, which AutoML uses to stop a trial.
    /// An <c>MLContext</c> itself does not expose the flag: pass a host registered from it.
    /// </summary>
    public static bool IsCanceled(IHostEnvironment env)
        => Property(env.GetType(), CancelableInterface, "IsCanceled")?.GetValue(env) is true;

    /// <summary>
    /// The GPU settings of the <c>MLContext</c> behind <paramref name="env"/>: read from <see cref="MLContext"/>
    /// directly, or through ML.NET's internal host-environment interface (which hosts registered from an
    /// <c>MLContext</c> implement and forward); <see langword="null"/> when neither is available.
    /// </summary>
    public static (int? GpuDeviceId, bool FallbackToCpu)? GpuSettings(IHostEnvironment env)
    {
        if (env is MLContext context)
            return (context.GpuDeviceId, context.FallbackToCpu);
        var gpuProperty = Property(env.GetType(), HostEnvironmentInterface, "GpuDeviceId");
        if (gpuProperty is null)
            return null;
        try
        {
            var gpu = gpuProperty.GetValue(env) as int?;
            var fallback = Property(env.GetType(), HostEnvironmentInterface, "FallbackToCpu")?.GetValue(env) as bool?;
            return (gpu, fallback ?? true);
        }
        catch (TargetInvocationException)
        {
            return null;
        }
    }

    private static readonly ConcurrentDictionary<(Type, string, string), PropertyInfo?> s_properties = new();

    /// <summary>The property <paramref name="property"/> of the interface named <paramref name="interfaceName"/> that <paramref name="type"/> implements, or <see langword="null"/> (cached per type).</summary>
    internal static PropertyInfo? Property(Type type, string interfaceName, string property)
        => s_properties.GetOrAdd((type, interfaceName, property), static key =>
            key.Item1.GetInterfaces().FirstOrDefault(i => i.FullName == key.Item2)?.GetProperty(key.Item3));
}

/// <summary>ML.NET's channel messages without the sensitivity argument (its own shortcuts are internal).</summary>
internal static class ChannelMessages
{
    /// <summary>Logs an informational message.</summary>
    public static void Info(this IChannel channel, string message) => channel.Info(MessageSensitivity.None, message);

    /// <summary>Logs a trace message (progress detail: shown by live displays, not by plain logs).</summary>
    public static void Trace(this IChannel channel, string message) => channel.Trace(MessageSensitivity.None, message);

    /// <summary>Logs a warning.</summary>
    public static void Warning(this IChannel channel, string message) => channel.Warning(MessageSensitivity.None, message);
}

/// <summary>
/// Stops training between batches: on ML.NET's internal cancellation of the context (through <see cref="MLNetInternals"/>) or
/// on the options' <see cref="SequenceTrainerOptions.CancellationToken"/>.
/// </summary>
internal readonly struct TrainingCancellation
{
    private readonly IHostEnvironment _env;
    private readonly CancellationToken _token;

    public TrainingCancellation(IHostEnvironment env, CancellationToken token)
    {
        _env = env;
        _token = token;
    }

    /// <summary>Throws <see cref="OperationCanceledException"/> when either source asks to stop.</summary>
    public void ThrowIfCanceled()
    {
        _token.ThrowIfCancellationRequested();
        if (MLNetInternals.IsCanceled(_env))
            throw new OperationCanceledException("Operation was canceled.");
    }
}
