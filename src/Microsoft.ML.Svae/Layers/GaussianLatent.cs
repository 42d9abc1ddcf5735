using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Svae;

/// <summary>
/// The diagonal Gaussian latent variable shared by the VAEs (SVAE, MVAE, RVAE), in one parameterisation:
/// mean μ and log variance log σ².
/// </summary>
internal static class GaussianLatent
{
    /// <summary>KL(N(μ, σ²) ‖ N(0, I)) summed over the last dimension: <c>½ Σ (σ² − 1 − log σ² + μ²)</c>.</summary>
    public static Tensor KlDivergence(Tensor mean, Tensor logVariance)
        => logVariance.exp().sub(TorchScalars.One).sub(logVariance).Plus(mean.square()).sum(-1).mul(TorchScalars.Half);

    /// <summary>
    /// KL(N(μ_q, σ_q²) ‖ N(μ_p, σ_p²)) of two diagonal Gaussians, summed over the last dimension:
    /// <c>½ Σ (log σ_p² − log σ_q² + (σ_q² + (μ_q − μ_p)²) / σ_p² − 1)</c> (the learned priors of the sequential VAEs).
    /// </summary>
    public static Tensor KlDivergence(Tensor mean, Tensor logVariance, Tensor priorMean, Tensor priorLogVariance)
    {
        using var scope = NewDisposeScope();
        // One expression, evaluated in the order of ½·(log σ_p² − log σ_q² + (σ_q² + (μ_q − μ_p)²)·exp(−log σ_p²) − 1):
        // the order in which the autograd nodes are created decides the order in which the gradients of μ and log σ²
        // are summed, so reordering it changes the trained numbers in the last bits.
        var kl = (priorLogVariance - logVariance)
            .Plus(logVariance.exp().Plus((mean - priorMean).square()) * (-priorLogVariance).exp())
            .sub(TorchScalars.One).mul(TorchScalars.Half);
        return kl.sum(-1).MoveToOuterDisposeScope();
    }

    /// <summary>z = μ + exp(½ log σ²)·ε with ε ~ N(0, I) from <paramref name="generator"/> (the global generator when null).</summary>
    public static Tensor Reparameterize(Tensor mean, Tensor logVariance, Generator? generator)
    {
        using var scope = NewDisposeScope();
        var epsilon = randn(mean.shape, mean.dtype, mean.device, generator: generator);
        return mean.Plus(logVariance.mul(TorchScalars.Half).exp() * epsilon).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// μ and log σ² from an encoder output <c>[..., 2K]</c>: the first K values are μ, the last K log σ² (views
    /// moved to the caller's dispose scope).
    /// </summary>
    public static (Tensor Mean, Tensor LogVariance) Split(Tensor parameters, int latentSize)
    {
        using var scope = NewDisposeScope();
        var mean = parameters.narrow(-1, 0, latentSize);
        var logVariance = parameters.narrow(-1, latentSize, latentSize);
        return (mean.MoveToOuterDisposeScope(), logVariance.MoveToOuterDisposeScope());
    }

    /// <summary>z: <see cref="Reparameterize"/> in training mode, μ in eval mode.</summary>
    public static Tensor Sample(Tensor mean, Tensor logVariance, Generator? generator, bool training)
        => training ? Reparameterize(mean, logVariance, generator) : mean;
}
