using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Svae.Tests.Training;

/// <summary>
/// Issue 12: the operations with explicit Scalar lifetimes compute exactly what TorchSharp's operators compute, and the
/// no-GC-region guard's diagnostic switch.
/// </summary>
public class NativeScalarLifetimeTests
{
    [Theory]
    [InlineData(null, null, false)]
    [InlineData(null, "", false)]
    [InlineData(null, "0", false)]
    [InlineData(null, "yes", false)]
    [InlineData(null, "1", true)]
    [InlineData(null, "true", true)]
    [InlineData(null, " TRUE ", true)]
    [InlineData(true, null, true)]
    [InlineData(true, "0", true)]
    [InlineData(false, "1", false)]
    public void TheGuardIsTurnedOffByTheSwitchOrElseTheVariable(bool? appContextSwitch, string? variable, bool disabled)
        => Assert.Equal(disabled, NativeCallGuard.IsDisabled(appContextSwitch, variable));

    [Fact]
    public void TheGuardIsOnByDefaultAndStartsNoRegionWhenOff()
    {
        Assert.Equal("Microsoft.ML.Svae.DisableNativeCallGuard", NativeCallGuard.DisableSwitchName);
        Assert.Equal("MLNET_SVAE_DISABLE_NATIVE_CALL_GUARD", NativeCallGuard.DisableVariableName);
        Assert.True(NativeCallGuard.Enabled); // the test process sets neither
        using var guard = NativeCallGuard.Enter(enabled: false);
        Assert.False(guard.Started);
    }

    [Fact]
    public void HelpersEqualTheOperatorsTheyReplaceBitForBit()
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator(5, CPU);
        var a = randn(new long[] { 4, 6 }, generator: generator) * 30; // beyond softplus's threshold 20 on both sides
        var b = randn(new long[] { 4, 6 }, generator: generator);
        Assert.True(a.Plus(b).Equals(a + b));
        Assert.True(a.Plus(TorchScalars.Half).Equals(a + 0.5));
        var c = a.clone();
        c.PlusInPlace(b);
        Assert.True(c.Equals(a + b));
        Assert.True(TorchScalars.Range(7, CPU).Equals(arange(7, ScalarType.Int64, CPU)));
        Assert.Equal(ScalarType.Int64, TorchScalars.Range(7, CPU).dtype);
        Assert.True(TorchScalars.SoftplusOwnsItsScalars, "TorchSharp no longer has Tensor.softplus1(Scalar, Scalar): check whether it disposes implicit Scalars now (see TorchScalars).");
        Assert.True(TorchScalars.Softplus(a).Equals(a.softplus()));
        Assert.True(GaussianLatent.KlDivergence(a / 30, b).Equals(0.5 * (b.exp() - 1 - b + (a / 30).square()).sum(-1)));
    }

    [Theory]
    [InlineData(false, 0.0)]
    [InlineData(false, 5e-3)]
    [InlineData(true, 0.0)]
    [InlineData(true, 5e-3)]
    public void AdamWithOwnedScalarsUpdatesExactlyAsTorchSharpsAdam(bool decoupled, double weightDecay)
    {
        using var scope = NewDisposeScope();
        Parameter[] Parameters() => new[]
        {
            new Parameter(randn(new long[] { 3, 5 }, generator: new Generator(11, CPU))),
            new Parameter(randn(new long[] { 5 }, generator: new Generator(12, CPU))),
        };
        var ours = Parameters();
        var theirs = Parameters();
        using var ourOptimizer = ExplicitScalarAdam.Create(ours, 0.01, weightDecay, decoupled, fused: false);
        using optim.Optimizer theirOptimizer = decoupled
            ? optim.AdamW(theirs, 0.01, weight_decay: weightDecay)
            : optim.Adam(theirs, 0.01, weight_decay: weightDecay);
        var input = randn(new long[] { 4, 3 }, generator: new Generator(13, CPU));
        for (int step = 0; step < 6; step++)
        {
            foreach (var (parameters, optimizer) in new[] { (ours, ourOptimizer), (theirs, theirOptimizer) })
            {
                optimizer.zero_grad();
                var loss = (input.matmul(parameters[0]) + parameters[1]).tanh().square().sum();
                loss.backward();
                optimizer.step();
            }
            for (int i = 0; i < ours.Length; i++)
                Assert.True(ours[i].Equals(theirs[i]), $"parameter {i} differs after step {step + 1}");
        }
    }
}
