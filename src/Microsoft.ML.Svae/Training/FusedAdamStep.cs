using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Svae;

/// <summary>
/// Adam's update of one float32 CPU parameter in one managed pass over its memory (issue 16), for
/// <see cref="ExplicitScalarAdam"/>: the parameter, its gradient and TorchSharp's own <c>exp_avg</c> and
/// <c>exp_avg_sq</c> are read and written in place, chunk by chunk, with <see cref="TensorPrimitives"/>.
/// </summary>
/// <remarks>
/// <para>
/// Why: libtorch's Adam runs about eight elementwise operations per parameter (mul_, add_, mul_, addcmul_, sqrt, div,
/// add_, addcdiv_, and the weight decay's add or mul_), each a full pass over memory that is far larger than the caches
/// for the item embedding and the output layer (3,706 × 256 and 3,706 × 150 floats on ML-1M), plus a fresh
/// temporary for the denominator (and for the coupled decay's gradient). Here every chunk of <see cref="ChunkLength"/>
/// elements goes through those same operations while it sits in L1/L2, so each of the four arrays crosses the memory
/// bus once per step, and nothing is allocated.
/// </para>
/// <para>
/// Arithmetic: the operations of libtorch's kernels in their order, with the same float32 constants (each double
/// rounded to float as libtorch's <c>Scalar.to&lt;float&gt;()</c> does). We measured libtorch 2.10's CPU kernels
/// element for element (float32, vector body and scalar tail): <c>add(other, alpha)</c> is one fused multiply-add
/// <c>fma(other, alpha, self)</c>; <c>addcmul_(t, t, value)</c> is <c>fma(value·t, t, self)</c>; <c>addcdiv_</c> is
/// <c>self + (value·t₁)/t₂</c> with each operation rounded; division by the bias correction is a true division. Those
/// give libtorch's bits. The one difference: libtorch's <c>sqrt</c> is not correctly rounded (about 0.6% of
/// elements differ from the IEEE square root by one ulp), while <see cref="TensorPrimitives.Sqrt{T}(ReadOnlySpan{T}, Span{T})"/>
/// is. So an update equals libtorch's to float rounding (a one-ulp difference in the denominator of a few elements),
/// not bit for bit; for tensors of a few dozen elements it is usually bit for bit.
/// </para>
/// <para>
/// Hardware: the multiply-adds are <see cref="TensorPrimitives.FusedMultiplyAdd{T}(ReadOnlySpan{T}, T, ReadOnlySpan{T}, Span{T})"/>,
/// which must round once. On a CPU without hardware FMA (x64 before Haswell and Piledriver) .NET falls back to a
/// software <c>fma</c> element by element, far slower than a vector multiply-add, so on such CPUs the fused step could
/// be slower than libtorch's. It was measured only on a CPU with FMA (docs/BENCHMARKS.md, "A fused Adam step on the
/// CPU").
/// </para>
/// <para>
/// Results do not depend on the thread count: every element's update reads and writes that element alone, and the
/// chunk boundaries change nothing in the arithmetic.
/// </para>
/// <para>
/// Memory: spans over the tensors' own storage (<see cref="CpuTensorMemory.Floats"/>); the four tensors stay alive
/// through the optimiser's state and the module. Writes through that memory do not
/// bump autograd's version counters as libtorch's in-place operations do; nothing saved for a backward pass outlives
/// an optimiser step on our training paths.
/// </para>
/// </remarks>
internal static class FusedAdamStep
{
    /// <summary>Elements per chunk: the six 16 KB slices of a chunk (four arrays, two scratch) stay in L1/L2.</summary>
    public const int ChunkLength = 4096;

    /// <summary>Parameters with fewer elements than this are updated on the calling thread alone.</summary>
    public const int ParallelThreshold = 1 << 16;

    /// <summary>
    /// Whether the fused pass can update <paramref name="param"/>: it, its gradient and both moment tensors are
    /// float32, dense, contiguous, on the CPU, of one element count and under 2 GB each (TorchSharp's spans).
    /// </summary>
    public static bool Supports(Tensor param, Tensor grad, Tensor expAvg, Tensor expAvgSq)
    {
        long count = param.NumberOfElements;
        foreach (var tensor in (ReadOnlySpan<Tensor>)[param, grad, expAvg, expAvgSq])
        {
            if (tensor.is_sparse || tensor.NumberOfElements != count || !CpuTensorMemory.SpansFloats(tensor))
                return false;
        }
        return true;
    }

    /// <summary>
    /// One Adam update of a parameter that <see cref="Supports"/> accepted, in place: the weight decay (coupled: added
    /// to the gradient; decoupled: <paramref name="c"/>'s shrink applied to the parameter first), the moments, the
    /// bias-corrected denominator and the step. <paramref name="threads"/> above 1 spreads the chunks of large
    /// parameters over that many threads.
    /// </summary>
    public static void Step(Tensor param, Tensor grad, Tensor expAvg, Tensor expAvgSq, in Coefficients c, int threads)
    {
        int count = (int)param.NumberOfElements;
        if (count == 0)
            return;
        int chunks = (count + ChunkLength - 1) / ChunkLength;
        int workers = count < ParallelThreshold ? 1 : Math.Clamp(threads, 1, chunks);
        if (workers == 1)
        {
            Run(param, grad, expAvg, expAvgSq, c, 0, count);
            return;
        }
        // Each worker takes a contiguous run of whole chunks; the spans are taken again on each worker (a span cannot
        // be captured), from the tensors, which the optimiser's state and the module keep alive.
        var coefficients = c;
        Parallel.For(0, workers, new ParallelOptions { MaxDegreeOfParallelism = workers }, w =>
        {
            int start = (int)((long)chunks * w / workers) * ChunkLength;
            int end = Math.Min(count, (int)((long)chunks * (w + 1) / workers) * ChunkLength);
            Run(param, grad, expAvg, expAvgSq, coefficients, start, end);
        });
    }

    private static void Run(Tensor param, Tensor grad, Tensor expAvg, Tensor expAvgSq, in Coefficients c, int start, int end)
    {
        // Spans over the tensors' own CPU memory (CpuTensorMemory).
        var parameter = CpuTensorMemory.Floats(param);
        ReadOnlySpan<float> gradient = CpuTensorMemory.Floats(grad);
        var average = CpuTensorMemory.Floats(expAvg);
        var averageSquare = CpuTensorMemory.Floats(expAvgSq);
        Span<float> scratchA = stackalloc float[ChunkLength];
        Span<float> scratchB = stackalloc float[ChunkLength];
        for (int offset = start; offset < end; offset += ChunkLength)
        {
            int length = Math.Min(ChunkLength, end - offset);
            var p = parameter.Slice(offset, length);
            scoped ReadOnlySpan<float> g = gradient.Slice(offset, length);
            var m = average.Slice(offset, length);
            var v = averageSquare.Slice(offset, length);
            var a = scratchA[..length];
            var b = scratchB[..length];

            if (c.Decoupled)
            {
                // AdamW: param.mul_(1 − lr·wd).
                if (c.Shrink != 1f)
                    TensorPrimitives.Multiply(p, c.Shrink, p);
            }
            else if (c.WeightDecay != 0f)
            {
                // Adam: grad.add(param, wd) = fma(param, wd, grad).
                TensorPrimitives.FusedMultiplyAdd(p, c.WeightDecay, g, a);
                g = a;
            }
            // exp_avg.mul_(β₁).add_(grad, 1 − β₁)
            TensorPrimitives.Multiply(m, c.Beta1, m);
            TensorPrimitives.FusedMultiplyAdd(g, c.OneMinusBeta1, m, m);
            // exp_avg_sq.mul_(β₂).addcmul_(grad, grad, 1 − β₂)
            TensorPrimitives.Multiply(v, c.Beta2, v);
            TensorPrimitives.Multiply(g, c.OneMinusBeta2, b);
            TensorPrimitives.FusedMultiplyAdd(b, g, v, v);
            // denominator = exp_avg_sq.sqrt().div(√(1 − β₂ᵗ)).add_(ε)
            TensorPrimitives.Sqrt(v, b);
            TensorPrimitives.Divide(b, c.Correction2, b);
            TensorPrimitives.Add(b, c.Eps, b);
            // param.addcdiv_(exp_avg, denominator, −lr/(1 − β₁ᵗ)); the gradient (a, when decayed) is no longer needed.
            TensorPrimitives.Multiply(m, c.StepSize, a);
            TensorPrimitives.Divide(a, b, a);
            TensorPrimitives.Add(p, a, p);
        }
    }

    /// <summary>The float32 constants of one parameter's update, each a double rounded once as libtorch rounds it.</summary>
    public readonly record struct Coefficients(
        bool Decoupled, float WeightDecay, float Shrink, float Beta1, float OneMinusBeta1, float Beta2, float OneMinusBeta2,
        float Correction2, float Eps, float StepSize)
    {
        /// <summary>
        /// The constants for step <paramref name="step"/> (from 1) of a group with these options: the bias corrections
        /// <c>1 − βᵗ</c> and the step size <c>−lr/(1 − β₁ᵗ)</c> in double, as TorchSharp computes them.
        /// </summary>
        public static Coefficients For(bool decoupled, double lr, double beta1, double beta2, double eps, double weightDecay, long step)
        {
            double biasCorrection1 = 1 - Math.Pow(beta1, step);
            double biasCorrection2 = 1 - Math.Pow(beta2, step);
            return new Coefficients(decoupled, (float)weightDecay, (float)(1 - lr * weightDecay), (float)beta1, (float)(1 - beta1),
                (float)beta2, (float)(1 - beta2), (float)Math.Sqrt(biasCorrection2), (float)eps, (float)(-(lr / biasCorrection1)));
        }
    }
}
