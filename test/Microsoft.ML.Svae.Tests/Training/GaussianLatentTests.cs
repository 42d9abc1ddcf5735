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
}
