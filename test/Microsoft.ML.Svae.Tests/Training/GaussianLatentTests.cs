using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Svae.Tests.Training;

public class GaussianLatentTests
{
    /// <summary>
    /// The composition SampleWithKl replaces on the CPU: Split, Reparameterize (ε from the same generator) and the KL
    /// summed over rows; returns z, the KL sum, and the parameters' gradient from upstream gradients at z and at the sum.
    /// </summary>
    private static (Tensor Sample, Tensor KlSum, Tensor Gradient) Composed(Tensor parameters, int k, ulong seed, Tensor sampleUpstream, float klUpstream)
    {
        var input = parameters.clone().requires_grad_();
        using var generator = new Generator(seed, CPU);
        var (mean, logVariance) = GaussianLatent.Split(input, k);
        var z = GaussianLatent.Reparameterize(mean, logVariance, generator);
        var kl = GaussianLatent.KlDivergence(mean, logVariance).sum();
        z.mul(sampleUpstream).sum().add(kl.mul(klUpstream)).backward();
        return (z.detach(), kl.detach(), input.grad!);
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(5, 3)]
    // K = 64 (SVAE's default) and K = 37 (vector loops and their tails).
    [InlineData(9, 64)]
    [InlineData(4, 37)]
    public void TheFusedSampleAndKlHaveTheValuesAndGradientsOfTheComposition(int rows, int k)
    {
        using var scope = NewDisposeScope();
        using var data = new Generator(3 + (ulong)(rows * 100 + k), CPU);
        var parameters = randn(new long[] { rows, 2L * k }, generator: data);
        var sampleUpstream = randn(new long[] { rows, k }, generator: data);
        const float klUpstream = 0.37f;
        var (expectedZ, expectedKl, expectedGradient) = Composed(parameters, k, seed: 5, sampleUpstream, klUpstream);

        var input = parameters.clone().requires_grad_();
        using var generator = new Generator(5, CPU);
        var (z, klSum) = GaussianLatent.SampleWithKl(input, k, generator);
        Assert.Equal(new long[] { rows, k }, z.shape);
        Assert.Empty(klSum.shape);
        z.mul(sampleUpstream).sum().add(klSum.mul(klUpstream)).backward();

        // z and the gradient: the composition's bits (training is unchanged); the KL sum: the same to float rounding.
        Assert.True(z.equal(expectedZ).all().item<bool>(), "z differs from μ + exp(½ log σ²)·ε with the same ε");
        Assert.Equal(expectedKl.item<float>(), klSum.item<float>(), 1e-5 * Math.Max(1, Math.Abs(expectedKl.item<float>())));
        Assert.True(input.grad!.equal(expectedGradient).all().item<bool>(),
            $"the parameters' gradient differs from autograd's by up to {input.grad!.sub(expectedGradient).abs().max().item<float>()}");
    }

    [Fact]
    public void TheKlOfAStandardNormalIsZeroAndItsGradientIsTheUpstreamAtZ()
    {
        // μ = 0 and log σ² = 0: q is N(0, I), KL = 0, ∂KL = 0; ∂z/∂μ = 1 and ∂z/∂log σ² = ½·ε.
        using var scope = NewDisposeScope();
        var input = zeros(2, 6).requires_grad_();
        using var generator = new Generator(9, CPU);
        var (z, klSum) = GaussianLatent.SampleWithKl(input, 3, generator);
        using var again = new Generator(9, CPU);
        var epsilon = randn(new long[] { 2, 3 }, generator: again);
        Assert.True(z.allclose(epsilon, rtol: 0, atol: 0));
        Assert.Equal(0f, klSum.item<float>());
        z.sum().add(klSum).backward();
        Assert.True(input.grad!.narrow(1, 0, 3).allclose(ones(2, 3), rtol: 0, atol: 0));
        Assert.True(input.grad!.narrow(1, 3, 3).allclose(epsilon.mul(0.5)));
    }

    [Fact]
    public void ParametersOfTheWrongWidthAreRejectedWithTheirShape()
    {
        using var input = zeros(2, 5);
        var error = Assert.Throws<ArgumentException>(() => GaussianLatent.SampleWithKl(input, 3, null));
        Assert.StartsWith("The Gaussian parameters must be [rows, 6] (μ then log σ²); got [2, 5].", error.Message);
    }

    [Theory]
    [InlineData(true, false)]
    [InlineData(false, true)]
    public void BackwardFromOneOutputAloneIsTheCompositions(bool fromSample, bool fromKl)
    {
        // An output that does not reach the loss gets no gradient: the other one's alone, with the composition's bits.
        using var scope = NewDisposeScope();
        using var data = new Generator(21, CPU);
        var parameters = randn(new long[] { 5, 8 }, generator: data);
        var upstream = randn(new long[] { 5, 4 }, generator: data);
        var (_, _, expected) = Composed(parameters, 4, seed: 2, fromSample ? upstream : zeros(5, 4), fromKl ? 0.5f : 0f);

        var input = parameters.clone().requires_grad_();
        using var generator = new Generator(2, CPU);
        var (z, klSum) = GaussianLatent.SampleWithKl(input, 4, generator);
        (fromSample ? z.mul(upstream).sum() : klSum.mul(0.5f)).backward();
        Assert.True(input.grad!.equal(expected).all().item<bool>());
    }

    [Fact]
    public void TheGeneratorIsLeftWhereTheCompositionLeavesIt()
    {
        using var scope = NewDisposeScope();
        var parameters = randn(3, 10).requires_grad_();
        using var fused = new Generator(17, CPU);
        GaussianLatent.SampleWithKl(parameters, 5, fused);
        using var composed = new Generator(17, CPU);
        var (mean, logVariance) = GaussianLatent.Split(parameters, 5);
        GaussianLatent.Reparameterize(mean, logVariance, composed);
        Assert.True(randn(new long[] { 4 }, generator: fused).equal(randn(new long[] { 4 }, generator: composed)).all().item<bool>());
    }

    [Fact]
    public void WithoutAutogradItIsTheCompositionWithTheSameValues()
    {
        using var scope = NewDisposeScope();
        using var data = new Generator(4, CPU);
        var parameters = randn(new long[] { 6, 6 }, generator: data);
        using var first = new Generator(8, CPU);
        var (fusedZ, fusedKl) = GaussianLatent.SampleWithKl(parameters, 3, first);
        using var second = new Generator(8, CPU);
        using (no_grad())
        {
            var (z, kl) = GaussianLatent.SampleWithKl(parameters, 3, second);
            Assert.True(z.equal(fusedZ.detach()).all().item<bool>());
            Assert.Equal(kl.item<float>(), fusedKl.item<float>(), 1e-5 * Math.Max(1, Math.Abs(kl.item<float>())));
        }
    }

    [Fact]
    public void NoRowsGiveAnEmptySampleAndAZeroKl()
    {
        using var scope = NewDisposeScope();
        var input = zeros(0, 4).requires_grad_();
        var (z, klSum) = GaussianLatent.SampleWithKl(input, 2, null);
        Assert.Equal(new long[] { 0, 2 }, z.shape);
        Assert.Equal(0f, klSum.item<float>());
        klSum.backward();
        Assert.Equal(new long[] { 0, 4 }, input.grad!.shape);
    }

    [Fact]
    public void ALatentSizeBelowOneIsRejected()
    {
        using var input = zeros(2, 0);
        Assert.Throws<ArgumentOutOfRangeException>(() => GaussianLatent.SampleWithKl(input, 0, null));
    }
}
