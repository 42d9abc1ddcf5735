using System.Collections.Concurrent;
using System.Reflection;

namespace Microsoft.ML.Svae;

/// <summary>
/// The parts of ML.NET's host contract that are internal to ML.NET (its <c>CheckAlive</c> and message
/// extension methods), rebuilt on the public interfaces.
/// </summary>
internal static class HostInterop
{
    private static readonly ConcurrentDictionary<Type, PropertyInfo?> s_isCanceled = new();

    /// <summary>
    /// Throws <see cref="OperationCanceledException"/> when the environment was canceled (ML.NET's internal
    /// <c>ICancelable.IsCanceled</c>, which AutoML sets to stop a trial), as ML.NET's own <c>CheckAlive</c> does.
    /// </summary>
    public static void CheckAlive(this IHostEnvironment env)
    {
        var property = s_isCanceled.GetOrAdd(env.GetType(), static type =>
            type.GetInterfaces().FirstOrDefault(i => i.FullName == "Microsoft.ML.Runtime.ICancelable")?.GetProperty("IsCanceled"));
        if (property?.GetValue(env) is true)
            throw new OperationCanceledException("Operation was canceled.");
    }

    /// <summary>Logs an informational message.</summary>
    public static void Info(this IChannel channel, string message) => channel.Info(MessageSensitivity.None, message);

    /// <summary>Logs a trace message (progress detail: shown by live displays, not by plain logs).</summary>
    public static void Trace(this IChannel channel, string message) => channel.Trace(MessageSensitivity.None, message);

    /// <summary>Logs a warning.</summary>
    public static void Warning(this IChannel channel, string message) => channel.Warning(MessageSensitivity.None, message);
}
