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
        return Reparameterize(mean, logVariance, epsilon).MoveToOuterDisposeScope();
    }

    /// <summary>z = μ + exp(½ log σ²)·ε for a given ε.</summary>
    public static Tensor Reparameterize(Tensor mean, Tensor logVariance, Tensor epsilon)
        => mean.Plus(logVariance.mul(TorchScalars.Half).exp() * epsilon);

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

    /// <summary>z: <see cref="Reparameterize(Tensor, Tensor, Generator?)"/> in training mode, μ in eval mode.</summary>
    public static Tensor Sample(Tensor mean, Tensor logVariance, Generator? generator, bool training)
        => training ? Reparameterize(mean, logVariance, generator) : mean;

    /// <summary>
    /// The sample z = μ + exp(½ log σ²)·ε <c>[P, K]</c> and the KL divergence summed over all rows,
    /// <c>Σ_p ½ Σ_k (σ² − 1 − log σ² + μ²)</c> (a scalar), from encoder outputs <c>[P, 2K]</c> (μ, then log σ²), in
    /// training mode: the same values as <see cref="Split"/>, <see cref="Reparameterize(Tensor, Tensor, Generator?)"/> and
    /// <see cref="KlDivergence(Tensor, Tensor)"/> summed, with ε drawn by the same <c>randn</c> call.
    /// </summary>
    /// <remarks>
    /// On the CPU in float32 while autograd records, one function does it (issue 16), where the composition runs about
    /// twenty small libtorch operations forward and as many autograd nodes backward: forward the two exponentials
    /// (libtorch's, on the same views) and one pass over the rows; backward one pass that repeats autograd's operations
    /// for the composition in the order autograd accumulates them, so z and the parameters' gradient have the same bits
    /// as the composition's, and training is unchanged. Only the KL sum's value is summed in another order (in double):
    /// it differs from the composition's by float rounding. Elsewhere it is the composition.
    /// </remarks>
    /// <param name="parameters">The encoder's outputs <c>[P, 2K]</c>.</param>
    /// <param name="latentSize">K.</param>
    /// <param name="generator">The source of ε (the global generator when null).</param>
    public static (Tensor Sample, Tensor KlSum) SampleWithKl(Tensor parameters, int latentSize, Generator? generator)
    {
        using var scope = NewDisposeScope();
        ArgumentOutOfRangeException.ThrowIfLessThan(latentSize, 1);
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
        var z = Reparameterize(mean, logVariance, epsilon);
        var kl = KlDivergence(mean, logVariance).sum();
        return (z.MoveToOuterDisposeScope(), kl.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// <see cref="SampleWithKl"/>'s forward pass over the rows: z = μ + σ·ε (a product, then a sum, each rounded, as
    /// libtorch's <c>mean.Plus(std * epsilon)</c>); returns the KL sum <c>Σ ½ Σ_k ((σ² − 1) − log σ² + μ²)</c> in double.
    /// </summary>
    /// <param name="parameters">μ then log σ² per row, <c>[P, 2K]</c>.</param>
    /// <param name="deviation">σ = exp(½ log σ²), <c>[P, K]</c> (libtorch's exp).</param>
    /// <param name="variance">σ² = exp(log σ²), <c>[P, K]</c> (libtorch's exp).</param>
    /// <param name="epsilon">ε, <c>[P, K]</c>.</param>
    /// <param name="sample">z, written, <c>[P, K]</c>.</param>
    /// <param name="latentSize">K.</param>
    internal static double SampleRows(ReadOnlySpan<float> parameters, ReadOnlySpan<float> deviation, ReadOnlySpan<float> variance,
        ReadOnlySpan<float> epsilon, Span<float> sample, int latentSize)
    {
        int k = latentSize, rows = epsilon.Length / k;
        if (parameters.Length != 2 * epsilon.Length || deviation.Length != epsilon.Length || variance.Length != epsilon.Length
            || sample.Length != epsilon.Length || epsilon.Length % k != 0)
            throw new ArgumentException($"The latent's spans must be [P, {2 * k}] and four [P, {k}]; got {parameters.Length}, {deviation.Length}, {variance.Length}, {epsilon.Length}, {sample.Length} values.");
        Span<float> scratch = k <= 1024 ? stackalloc float[k] : new float[k];
        double kl = 0;
        for (int p = 0; p < rows; p++)
        {
            var mean = parameters.Slice(2 * p * k, k);
            var logVariance = parameters.Slice(2 * p * k + k, k);
            var row = sample.Slice(p * k, k);
            TensorPrimitives.Multiply(deviation.Slice(p * k, k), epsilon.Slice(p * k, k), row);
            TensorPrimitives.Add(mean, row, row);
            TensorPrimitives.Subtract(variance.Slice(p * k, k), 1f, scratch);
            TensorPrimitives.Subtract(scratch, logVariance, scratch);
            for (int j = 0; j < k; j++)
                kl += scratch[j] + mean[j] * mean[j];
        }
        return 0.5 * kl;
    }

    /// <summary>
    /// <see cref="SampleWithKl"/>'s backward pass over the rows: the gradient at the parameters <c>[P, 2K]</c> from the
    /// gradient at z and <paramref name="klGradient"/>, the KL sum's, in the operations and the order in which autograd
    /// computes and accumulates them for the composition (so the bits are the same): with g = ½·klGradient,
    /// ∂μ = g·(2μ) + dz and ∂log σ² = (−g + g·σ²) + ((dz·ε)·σ)·½.
    /// </summary>
    internal static void SampleGradientRows(ReadOnlySpan<float> parameters, ReadOnlySpan<float> deviation, ReadOnlySpan<float> variance,
        ReadOnlySpan<float> epsilon, ReadOnlySpan<float> sampleGradient, float klGradient, Span<float> gradient, int latentSize)
    {
        int k = latentSize, rows = epsilon.Length / k;
        if (parameters.Length != 2 * epsilon.Length || gradient.Length != parameters.Length || deviation.Length != epsilon.Length
            || variance.Length != epsilon.Length || sampleGradient.Length != epsilon.Length || epsilon.Length % k != 0)
            throw new ArgumentException($"The latent's gradient spans must be two [P, {2 * k}] and four [P, {k}]; got {parameters.Length}, {gradient.Length}, {deviation.Length}, {variance.Length}, {epsilon.Length}, {sampleGradient.Length} values.");
        float g = klGradient * 0.5f;
        Span<float> fromSample = k <= 1024 ? stackalloc float[k] : new float[k];
        for (int p = 0; p < rows; p++)
        {
            var mean = parameters.Slice(2 * p * k, k);
            var dz = sampleGradient.Slice(p * k, k);
            var meanGradient = gradient.Slice(2 * p * k, k);
            var logVarianceGradient = gradient.Slice(2 * p * k + k, k);
            // μ: the KL's square (g·(2μ)), then the sample's sum (dz).
            TensorPrimitives.Multiply(mean, 2f, meanGradient);
            TensorPrimitives.Multiply(meanGradient, g, meanGradient);
            TensorPrimitives.Add(meanGradient, dz, meanGradient);
            // log σ²: the KL's two terms (−g from − log σ², then g·σ² from exp), then the sample's ((dz·ε)·σ)·½.
            TensorPrimitives.Multiply(variance.Slice(p * k, k), g, logVarianceGradient);
            TensorPrimitives.Add(logVarianceGradient, -g, logVarianceGradient);
            TensorPrimitives.Multiply(dz, epsilon.Slice(p * k, k), fromSample);
            TensorPrimitives.Multiply(fromSample, deviation.Slice(p * k, k), fromSample);
            TensorPrimitives.Multiply(fromSample, 0.5f, fromSample);
            TensorPrimitives.Add(logVarianceGradient, fromSample, logVarianceGradient);
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
            // An output that does not reach the loss gets no gradient (null or an invalid handle in backward), rather than
            // zeros TorchSharp would make from a tensor of this call's dispose scope.
            ctx.set_materialize_grads(false);
            using var scope = NewDisposeScope();
            long rows = parameters.shape[0];
            // σ and σ² from libtorch's exp on the same views as the composition (the same bits).
            var logVariance = parameters.narrow(1, k, k);
            var deviation = logVariance.mul(TorchScalars.Half).exp();
            var variance = logVariance.exp();
            var sample = empty(new[] { rows, (long)k }, ScalarType.Float32, parameters.device);
            double kl = rows == 0 ? 0 : SampleRows(CpuTensorMemory.Floats(parameters), CpuTensorMemory.Floats(deviation),
                CpuTensorMemory.Floats(variance), CpuTensorMemory.Floats(epsilon), CpuTensorMemory.Floats(sample), k);
            ctx.save_for_backward([parameters, deviation.MoveToOuterDisposeScope(), variance.MoveToOuterDisposeScope(), epsilon]);
            return [sample.MoveToOuterDisposeScope(), tensor((float)kl).MoveToOuterDisposeScope()];
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, List<Tensor> grad_outputs)
        {
            using var scope = NewDisposeScope();
            var saved = ctx.get_saved_variables();
            var (parameters, deviation, variance, epsilon) = (saved[0], saved[1], saved[2], saved[3]);
            long rows = parameters.shape[0];
            int k = (int)(parameters.shape[1] / 2);
            var sampleGradient = Defined(grad_outputs[0]) is { } dz ? dz.contiguous() : zeros(rows, k);
            float klGradient = Defined(grad_outputs[1]) is { } g ? g.item<float>() : 0f;
            var gradient = empty(parameters.shape, ScalarType.Float32, parameters.device);
            if (rows > 0)
                SampleGradientRows(CpuTensorMemory.Floats(parameters), CpuTensorMemory.Floats(deviation), CpuTensorMemory.Floats(variance),
                    CpuTensorMemory.Floats(epsilon), CpuTensorMemory.Floats(sampleGradient), klGradient, CpuTensorMemory.Floats(gradient), k);
            return [gradient.MoveToOuterDisposeScope(), null!, null!];
        }

        private static Tensor? Defined(Tensor? gradient) => gradient is null || gradient.IsInvalid ? null : gradient;
    }
}
