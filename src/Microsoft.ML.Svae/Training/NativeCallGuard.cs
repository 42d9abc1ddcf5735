using System.Runtime;

namespace Microsoft.ML.Svae;

/// <summary>
/// Keeps the garbage collector out of one training or scoring step.
/// </summary>
/// <remarks>
/// TorchSharp passes the native handles of temporary objects (e.g. the implicit <c>Scalar</c> alpha of
/// <c>a + b</c>) to libtorch without keeping the managed object alive, so a garbage collection during the
/// native call can finalize it and free the memory libtorch is reading. Here that surfaced as rare, random
/// <c>ExternalException</c>s ("Expected false to be true" from <c>Scalar::toFloat</c>, internal asserts),
/// most often in models with many small steps (BPR, FPMC, MVAE). No collection can happen inside a
/// no-GC region, so a step's temporaries outlive its native calls; collections happen between steps.
/// The region is best-effort: if the runtime cannot grant it, or the step allocates more than the budget,
/// the step simply runs as before.
/// <para>
/// Upstream: TorchSharp creates a <c>Scalar</c> for every primitive operand of a tensor operator and leaves it to the
/// finalizer; dotnet/TorchSharp pull requests #1434 ("Dispose Scalars implicitly created in Tensor operators") and
/// #1496 ("Dispose implicitly converted TorchSharp.Scalar and torch.Tensor") dispose them right after the native call.
/// Both were open when this guard was written (TorchSharp 0.107.0). Exit condition: when the TorchSharp version in
/// Directory.Packages.props includes that fix, remove this guard (and its one use in <see cref="EpochRunner"/>) and run
/// the BPR, FPMC and MVAE tests, which surfaced the crash, a few dozen times.
/// </para>
/// </remarks>
internal readonly struct NativeCallGuard : IDisposable
{
    /// <summary>Managed allocation budget of one step: wrappers of tensors, not tensor data (which is native).</summary>
    private const long Budget = 64L << 20;

    private readonly bool _started;

    private NativeCallGuard(bool started) => _started = started;

    /// <summary>Enters a no-GC region for one step.</summary>
    public static NativeCallGuard Enter()
    {
        if (GCSettings.LatencyMode == GCLatencyMode.NoGCRegion)
            return new NativeCallGuard(false); // already inside one (nested step)
        try
        {
            return new NativeCallGuard(GC.TryStartNoGCRegion(Budget));
        }
        catch (InvalidOperationException)
        {
            return new NativeCallGuard(false);
        }
        catch (ArgumentOutOfRangeException)
        {
            return new NativeCallGuard(false);
        }
    }

    /// <summary>Leaves the region (if it is still in force).</summary>
    public void Dispose()
    {
        if (_started && GCSettings.LatencyMode == GCLatencyMode.NoGCRegion)
        {
            try { GC.EndNoGCRegion(); }
            catch (InvalidOperationException) { } // the step outgrew the budget and a collection ended the region
        }
    }
}
