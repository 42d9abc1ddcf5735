using System.Runtime;

namespace Microsoft.ML.Svae;

/// <summary>
/// Keeps the garbage collector out of one training or scoring step.
/// </summary>
/// <remarks>
/// <para>
/// Cause (issue 12, now known): TorchSharp 0.107.0 converts every primitive operand of a tensor operation (the 1 of
/// <c>x - 1</c>, the 0.5 of <c>0.5 * x</c>, <c>clamp_min(0)</c>, the alpha 1 that <c>a + b</c> passes to
/// <c>add</c>, the betas of <c>Adam.step</c>) to a new <c>Scalar</c> and passes its native handle to libtorch without
/// keeping the managed object alive. A garbage collection triggered by another thread during the native call can
/// finalize it, and the finalizer thread frees the <c>c10::Scalar</c> libtorch is reading: "Expected false to be true"
/// from <c>Scalar::toFloat</c>, "Unknown scalar type". Upstream: dotnet/TorchSharp pull requests #1434 ("Dispose
/// Scalars implicitly created in Tensor operators") and #1496 ("Dispose implicitly converted TorchSharp.Scalar and
/// torch.Tensor"), both open for 0.107.0.
/// </para>
/// <para>
/// Fix: our training and scoring code creates no implicit <c>Scalar</c>s any more; it uses owned ones
/// (<see cref="TorchScalars"/>, and <see cref="ExplicitScalarAdam"/> for the optimiser). The stress benchmark
/// (<c>Svae.Benchmarks stress</c>, docs/BENCHMARKS.md, "Native errors under GC pressure (issue 12)") ran 200 trainings
/// of all eight neural models under GC pressure: the code before the fix failed 16 of them without this guard and
/// 5 with it (the region did not prevent the error); with the fix, none failed with or without it. So this guard is no
/// longer what keeps training safe. It stays on by default, as a second line for conversions we have not seen
/// (inside TorchSharp, or in code added later with the plain operators), until the exit condition below;
/// <see cref="DisableSwitchName"/> or <see cref="DisableVariableName"/> turn it off (diagnostic: the stress benchmark
/// uses the variable). It only covers training and scoring steps, not network initialisation.
/// </para>
/// <para>
/// What it does: no collection can happen inside a no-GC region, so a step's temporaries outlive its native calls;
/// collections happen between steps. The region is best-effort: if the runtime cannot grant it, or the step allocates
/// more than the budget, the step simply runs as before.
/// </para>
/// <para>
/// Exit condition: when the TorchSharp version in Directory.Packages.props includes the upstream fix, remove this guard
/// (and its uses in <see cref="EpochRunner"/> and <see cref="SequenceScoring"/>), <see cref="TorchScalars"/> and
/// <see cref="ExplicitScalarAdam"/>'s owned Scalars on its op-by-op path, and run the stress benchmark with the guard
/// off. <see cref="ExplicitScalarAdam"/> itself stays as long as its fused CPU step (<see cref="FusedAdamStep"/>,
/// issue 16) measures faster than TorchSharp's Adam; only then does <c>optim.Adam</c>/<c>optim.AdamW</c> replace it.
/// </para>
/// </remarks>
internal readonly struct NativeCallGuard : IDisposable
{
    /// <summary>Managed allocation budget of one step: wrappers of tensors, not tensor data (which is native).</summary>
    private const long Budget = 64L << 20;

    /// <summary>The <see cref="AppContext"/> switch that turns the guard off (diagnostic: for the stress benchmark).</summary>
    public const string DisableSwitchName = "Microsoft.ML.Svae.DisableNativeCallGuard";

    /// <summary>The environment variable that turns the guard off when set to <c>1</c> or <c>true</c> (diagnostic).</summary>
    public const string DisableVariableName = "MLNET_SVAE_DISABLE_NATIVE_CALL_GUARD";

    private readonly bool _started;

    private NativeCallGuard(bool started) => _started = started;

    /// <summary>
    /// Whether <see cref="Enter()"/> starts no-GC regions: true unless the <see cref="DisableSwitchName"/> switch is set
    /// (it wins when present) or <see cref="DisableVariableName"/> is <c>1</c>/<c>true</c>. Read once, at first use.
    /// </summary>
    public static bool Enabled { get; } = !IsDisabled(
        AppContext.TryGetSwitch(DisableSwitchName, out bool disabled) ? disabled : null,
        Environment.GetEnvironmentVariable(DisableVariableName));

    /// <summary>The decision of <see cref="Enabled"/> from the switch's value (null when not set) and the variable's.</summary>
    internal static bool IsDisabled(bool? appContextSwitch, string? variable)
        => appContextSwitch ?? (variable?.Trim() is { } value && (value == "1" || value.Equals("true", StringComparison.OrdinalIgnoreCase)));

    /// <summary>Enters a no-GC region for one step (nothing when the guard is turned off, see <see cref="Enabled"/>).</summary>
    public static NativeCallGuard Enter() => Enter(Enabled);

    /// <summary>Enters a no-GC region for one step when <paramref name="enabled"/>; otherwise does nothing.</summary>
    internal static NativeCallGuard Enter(bool enabled)
    {
        if (!enabled || GCSettings.LatencyMode == GCLatencyMode.NoGCRegion)
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

    /// <summary>Whether this guard started a no-GC region.</summary>
    internal bool Started => _started;

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
