using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
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

    /// <summary>
    /// The sample z = μ + exp(½ log σ²)·ε <c>[P, K]</c> and the KL divergence summed over all rows,
    /// <c>Σ_p ½ Σ_k (σ² − 1 − log σ² + μ²)</c> (a scalar), from encoder outputs <c>[P, 2K]</c> (μ, then log σ²), in
    /// training mode: the same values as <see cref="Split"/>, <see cref="Reparameterize"/> and
    /// <see cref="KlDivergence(Tensor, Tensor)"/> summed, with ε drawn by the same <c>randn</c> call.
    /// </summary>
    /// <remarks>
    /// On the CPU in float32 while autograd records, one function does it in one pass over the rows forward and one
    /// backward, where the composition runs about twenty small libtorch operations and as many autograd nodes per step
    /// (issue 16). The two differ by rounding only: the exponentials are TensorPrimitives', the sums run in another
    /// order. Elsewhere it is the composition.
    /// </remarks>
    /// <param name="parameters">The encoder's outputs <c>[P, 2K]</c>.</param>
    /// <param name="latentSize">K.</param>
    /// <param name="generator">The source of ε (the global generator when null).</param>
    public static (Tensor Sample, Tensor KlSum) SampleWithKl(Tensor parameters, int latentSize, Generator? generator)
    {
        using var scope = NewDisposeScope();
        if (parameters.dim() != 2 || parameters.shape[1] != 2L * latentSize)
            throw new ArgumentException(
                $"The Gaussian parameters must be [rows, {2L * latentSize}] (μ then log σ²); got [{string.Join(", ", parameters.shape)}].",
                nameof(parameters));
        var epsilon = randn(new[] { parameters.shape[0], (long)latentSize }, parameters.dtype, parameters.device, generator: generator);
        if (is_grad_enabled() && CpuTensorMemory.SpansFloats(parameters))
        {
            var outputs = FusedSample.apply(parameters, epsilon, latentSize);
            return (outputs[0].MoveToOuterDisposeScope(), outputs[1].MoveToOuterDisposeScope());
        }
        var (mean, logVariance) = Split(parameters, latentSize);
        var z = mean.Plus(logVariance.mul(TorchScalars.Half).exp() * epsilon);
        var kl = KlDivergence(mean, logVariance).sum();
        return (z.MoveToOuterDisposeScope(), kl.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// One row pass of <see cref="SampleWithKl"/> forward: z and, in <paramref name="factors"/> <c>[P, 2K]</c>, what the
    /// backward pass needs (½·exp(½ log σ²)·ε, then ½·(σ² − 1)); returns the KL sum (in double).
    /// </summary>
    internal static double SampleRows(ReadOnlySpan<float> parameters, ReadOnlySpan<float> epsilon, Span<float> sample, Span<float> factors, int latentSize)
    {
        int k = latentSize, rows = epsilon.Length / k;
        Span<float> scratch = k <= 1024 ? stackalloc float[k] : new float[k];
        double kl = 0;
        for (int p = 0; p < rows; p++)
        {
            var mean = parameters.Slice(2 * p * k, k);
            var logVariance = parameters.Slice(2 * p * k + k, k);
            var e = epsilon.Slice(p * k, k);
            var z = sample.Slice(p * k, k);
            var sampleFactor = factors.Slice(2 * p * k, k);
            var klFactor = factors.Slice(2 * p * k + k, k);
            // σ = exp(½ log σ²); z = μ + σ·ε; backward's ∂z/∂log σ² = ½·σ·ε.
            TensorPrimitives.Multiply(logVariance, 0.5f, scratch);
            TensorPrimitives.Exp(scratch, scratch);
            TensorPrimitives.Multiply(scratch, e, scratch);
            TensorPrimitives.Add(mean, scratch, z);
            TensorPrimitives.Multiply(scratch, 0.5f, sampleFactor);
            // KL row: ½ Σ (σ² − 1 − log σ² + μ²); backward's ∂KL/∂log σ² = ½·(σ² − 1), ∂KL/∂μ = μ.
            TensorPrimitives.Exp(logVariance, scratch);
            TensorPrimitives.Subtract(scratch, 1f, scratch);
            TensorPrimitives.Multiply(scratch, 0.5f, klFactor);
            TensorPrimitives.Subtract(scratch, logVariance, scratch);
            TensorPrimitives.FusedMultiplyAdd(mean, mean, scratch, scratch);
            kl += 0.5 * TensorPrimitives.Sum(scratch);
        }
        return kl;
    }

    /// <summary>
    /// One row pass of <see cref="SampleWithKl"/> backward: the gradient at the parameters <c>[P, 2K]</c> from the
    /// gradient at z and the KL sum's gradient <paramref name="klGradient"/>: ∂μ = dz + g·μ, ∂log σ² = dz·½σε + g·½(σ² − 1).
    /// </summary>
    internal static void SampleGradientRows(ReadOnlySpan<float> parameters, ReadOnlySpan<float> factors, ReadOnlySpan<float> sampleGradient,
        float klGradient, Span<float> gradient, int latentSize)
    {
        int k = latentSize, rows = sampleGradient.Length / k;
        for (int p = 0; p < rows; p++)
        {
            var dz = sampleGradient.Slice(p * k, k);
            TensorPrimitives.FusedMultiplyAdd(parameters.Slice(2 * p * k, k), klGradient, dz, gradient.Slice(2 * p * k, k));
            var logVarianceGradient = gradient.Slice(2 * p * k + k, k);
            TensorPrimitives.Multiply(factors.Slice(2 * p * k + k, k), klGradient, logVarianceGradient);
            TensorPrimitives.FusedMultiplyAdd(dz, factors.Slice(2 * p * k, k), logVarianceGradient, logVarianceGradient);
        }
    }

    /// <summary>The autograd function of <see cref="SampleWithKl"/> on the CPU: inputs (parameters, ε, K), outputs (z, KL sum).</summary>
    private sealed class FusedSample : autograd.MultiTensorFunction<FusedSample>
    {
        public override string Name => nameof(FusedSample);

        public override List<Tensor> forward(autograd.AutogradContext ctx, params object[] vars)
        {
            var parameters = (Tensor)vars[0];
            var epsilon = (Tensor)vars[1];
            int k = (int)vars[2];
            using var scope = NewDisposeScope();
            long rows = parameters.shape[0];
            var sample = empty(new[] { rows, (long)k }, ScalarType.Float32, parameters.device);
            var factors = empty(new[] { rows, 2L * k }, ScalarType.Float32, parameters.device);
            double kl = rows == 0 ? 0 : SampleRows(CpuTensorMemory.Floats(parameters), CpuTensorMemory.Floats(epsilon),
                CpuTensorMemory.Floats(sample), CpuTensorMemory.Floats(factors), k);
            ctx.save_for_backward([parameters, factors.MoveToOuterDisposeScope()]);
            return [sample.MoveToOuterDisposeScope(), tensor((float)kl).MoveToOuterDisposeScope()];
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, List<Tensor> grad_outputs)
        {
            using var scope = NewDisposeScope();
            var saved = ctx.get_saved_variables();
            var (parameters, factors) = (saved[0], saved[1]);
            long rows = parameters.shape[0];
            int k = (int)(parameters.shape[1] / 2);
            var sampleGradient = grad_outputs[0] is { } dz && dz.numel() > 0 ? dz.contiguous() : zeros(rows, k);
            float klGradient = grad_outputs[1] is { } g && g.numel() > 0 ? g.item<float>() : 0f;
            var gradient = empty(parameters.shape, ScalarType.Float32, parameters.device);
            if (rows > 0)
                SampleGradientRows(CpuTensorMemory.Floats(parameters), CpuTensorMemory.Floats(factors), CpuTensorMemory.Floats(sampleGradient),
                    klGradient, CpuTensorMemory.Floats(gradient), k);
            return [gradient.MoveToOuterDisposeScope(), null!, null!];
        }
    }
}
