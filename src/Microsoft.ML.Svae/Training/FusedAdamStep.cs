using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Svae;

/// <summary>
/// Adam's update of one float32 CPU parameter in one managed pass over its memory (issue 16), for
/// <see cref="ExplicitScalarAdam"/>: the parameter, its gradient and TorchSharp's own <c>exp_avg</c> and
/// <c>exp_avg_sq</c> are read and written in place, one vector of elements at a time (<see cref="Update"/>).
/// </summary>
/// <remarks>
/// <para>
/// Why: libtorch's Adam runs about eight elementwise operations per parameter (mul_, add_, mul_, addcmul_, sqrt, div,
/// add_, addcdiv_, and the weight decay's add or mul_), each a full pass over memory that is far larger than the caches
/// for the item embedding and the output layer (3,706 × 256 and 3,706 × 150 floats on ML-1M), plus a fresh
/// temporary for the denominator (and for the coupled decay's gradient). Here each vector of elements is loaded once,
/// goes through those same operations in registers and is stored once: each of the four arrays crosses the memory bus
/// once per step, no intermediate is written anywhere, and nothing is allocated. (Session 9's first version ran the
/// operations as a dozen <see cref="System.Numerics.Tensors.TensorPrimitives"/> passes over 4,096-element chunks, whose
/// six slices outgrew L1; the tests keep that sequence as the reference this pass equals bit for bit.)
/// </para>
/// <para>
/// Arithmetic: the operations of libtorch's kernels in their order, with the same float32 constants (each double
/// rounded to float as libtorch's <c>Scalar.to&lt;float&gt;()</c> does). We measured libtorch 2.10's CPU kernels
/// element for element (float32, vector body and scalar tail): <c>add(other, alpha)</c> is one fused multiply-add
/// <c>fma(other, alpha, self)</c>; <c>addcmul_(t, t, value)</c> is <c>fma(value·t, t, self)</c>; <c>addcdiv_</c> is
/// <c>self + (value·t₁)/t₂</c> with each operation rounded; division by the bias correction is a true division. Those
/// give libtorch's bits. The one difference: libtorch's <c>sqrt</c> is not correctly rounded (about 0.6% of
/// elements differ from the IEEE square root by one ulp), while <see cref="Vector512.Sqrt{T}(Vector512{T})"/> and
/// <see cref="MathF.Sqrt(float)"/> are. So an update equals libtorch's to float rounding (a one-ulp difference in the denominator of a few elements),
/// not bit for bit; for tensors of a few dozen elements it is usually bit for bit.
/// </para>
/// <para>
/// Hardware: the multiply-adds are <see cref="Vector512.FusedMultiplyAdd(Vector512{float}, Vector512{float}, Vector512{float})"/>
/// (and its 256- and 128-bit forms, and <see cref="MathF.FusedMultiplyAdd(float, float, float)"/> for the tail), which
/// must round once. On a CPU without hardware FMA (x64 before Haswell and Piledriver) .NET falls back to a
/// software <c>fma</c> element by element, far slower than a vector multiply-add, so on such CPUs the fused step could
/// be slower than libtorch's. It was measured only on a CPU with FMA (docs/BENCHMARKS.md, "A fused Adam step on the
/// CPU").
/// </para>
/// <para>
/// Results do not depend on the thread count: every element's update reads and writes that element alone, and the
/// chunk boundaries and vector widths change nothing in the arithmetic.
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
    /// <summary>Elements per chunk: the unit <see cref="Step"/> splits a large parameter's elements into among threads.</summary>
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
        int length = end - start;
        Update(CpuTensorMemory.Floats(param).Slice(start, length), CpuTensorMemory.Floats(grad).Slice(start, length),
            CpuTensorMemory.Floats(expAvg).Slice(start, length), CpuTensorMemory.Floats(expAvgSq).Slice(start, length), c);
    }

    private static readonly AsyncLocal<int?> widestVector = new();

    /// <summary>
    /// The width in bits of the vectors <see cref="Update"/> takes: 512, 256 or 128, or 0 for its scalar loop alone; the
    /// widest the CPU accelerates, unless set lower (tests force each narrower path with it). Set per asynchronous flow
    /// (<see cref="AsyncLocal{T}"/>, which flows into <see cref="Step"/>'s workers): a test that sets it does not change
    /// the step for tests running beside it. Reads give the width actually taken: the widest accelerated width not
    /// above the one set.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Set to other than 512, 256, 128 or 0.</exception>
    internal static int VectorBits
    {
        get
        {
            int limit = widestVector.Value ?? 512;
            if (limit >= 512 && Vector512.IsHardwareAccelerated)
                return 512;
            if (limit >= 256 && Vector256.IsHardwareAccelerated)
                return 256;
            return limit >= 128 && Vector128.IsHardwareAccelerated ? 128 : 0;
        }
        set => widestVector.Value = value is 512 or 256 or 128 or 0
            ? value
            : throw new ArgumentOutOfRangeException(nameof(value), value, "The vector width is 512, 256, 128 or 0 (scalar) bits.");
    }

    /// <summary>
    /// One Adam update of equal-length spans in place, in one pass: per vector of elements <paramref name="p"/>,
    /// <paramref name="g"/>, <paramref name="m"/> and <paramref name="v"/> are loaded once, go through the operations
    /// below in registers, and <paramref name="p"/>, <paramref name="m"/> and <paramref name="v"/> are stored once.
    /// </summary>
    /// <remarks>
    /// Per element, in this order, each operation rounded once to float32 (the operations, roundings and order of
    /// libtorch's Adam kernels; see the type's remarks): AdamW's shrink <c>p·(1 − lr·wd)</c> (only when it is not 1), or
    /// Adam's decayed gradient <c>fma(p, wd, g)</c> (only when wd is not 0); <c>m ← fma(g, 1 − β₁, m·β₁)</c>;
    /// <c>v ← fma(g·(1 − β₂), g, v·β₂)</c>; <c>d ← √v / √(1 − β₂ᵗ) + ε</c> (a correctly rounded square root and true
    /// divisions); <c>p ← p + (m·s)/d</c> with <c>s = −lr/(1 − β₁ᵗ)</c>. Every vector path and the scalar tail use
    /// IEEE operations and true fused multiply-adds, so the results do not depend on <see cref="VectorBits"/> or on
    /// where a span starts: the bits of <see cref="System.Numerics.Tensors.TensorPrimitives"/>' pass over the same
    /// sequence (the tests' reference), element for element.
    /// </remarks>
    internal static void Update(Span<float> p, ReadOnlySpan<float> g, Span<float> m, Span<float> v, in Coefficients c)
    {
        int length = p.Length;
        if (g.Length != length || m.Length != length || v.Length != length)
            throw new ArgumentException($"Adam's update needs spans of one length; got parameter {length}, gradient {g.Length}, exp_avg {m.Length}, exp_avg_sq {v.Length}.");
        var decay = c.Decoupled ? (c.Shrink != 1f ? Decay.Shrink : Decay.None) : (c.WeightDecay != 0f ? Decay.Coupled : Decay.None);
        ref float pr = ref MemoryMarshal.GetReference(p);
        ref float gr = ref MemoryMarshal.GetReference(g);
        ref float mr = ref MemoryMarshal.GetReference(m);
        ref float vr = ref MemoryMarshal.GetReference(v);
        int i = VectorBits switch
        {
            512 => Update512(ref pr, ref gr, ref mr, ref vr, length, c, decay),
            256 => Update256(ref pr, ref gr, ref mr, ref vr, length, c, decay),
            128 => Update128(ref pr, ref gr, ref mr, ref vr, length, c, decay),
            _ => 0,
        };
        // The scalar loop: the tail the vectors leave (fewer elements than one vector), or everything at width 0.
        for (; i < length; i++)
        {
            float pi = Unsafe.Add(ref pr, i), gi = Unsafe.Add(ref gr, i);
            if (decay == Decay.Shrink)
                pi *= c.Shrink;
            else if (decay == Decay.Coupled)
                gi = MathF.FusedMultiplyAdd(pi, c.WeightDecay, gi);
            float mi = MathF.FusedMultiplyAdd(gi, c.OneMinusBeta1, Unsafe.Add(ref mr, i) * c.Beta1);
            float vi = MathF.FusedMultiplyAdd(gi * c.OneMinusBeta2, gi, Unsafe.Add(ref vr, i) * c.Beta2);
            float denominator = MathF.Sqrt(vi) / c.Correction2 + c.Eps;
            Unsafe.Add(ref pr, i) = pi + mi * c.StepSize / denominator;
            Unsafe.Add(ref mr, i) = mi;
            Unsafe.Add(ref vr, i) = vi;
        }
    }

    /// <summary>Which weight decay an update applies: none, Adam's (added to the gradient) or AdamW's shrink.</summary>
    private enum Decay { None, Coupled, Shrink }

    // The three vector loops are one loop at three widths; each returns the index of the first element it left.
    // The decay's branch is the same for every element, so the CPU predicts it.

    private static int Update512(ref float pr, ref float gr, ref float mr, ref float vr, int length, in Coefficients c, Decay decay)
    {
        var shrink = Vector512.Create(c.Shrink);
        var weightDecay = Vector512.Create(c.WeightDecay);
        var beta1 = Vector512.Create(c.Beta1);
        var oneMinusBeta1 = Vector512.Create(c.OneMinusBeta1);
        var beta2 = Vector512.Create(c.Beta2);
        var oneMinusBeta2 = Vector512.Create(c.OneMinusBeta2);
        var correction2 = Vector512.Create(c.Correction2);
        var eps = Vector512.Create(c.Eps);
        var stepSize = Vector512.Create(c.StepSize);
        int i = 0;
        for (; i <= length - Vector512<float>.Count; i += Vector512<float>.Count)
        {
            var pv = Vector512.LoadUnsafe(ref pr, (nuint)i);
            var gv = Vector512.LoadUnsafe(ref gr, (nuint)i);
            if (decay == Decay.Shrink)
                pv *= shrink;
            else if (decay == Decay.Coupled)
                gv = Vector512.FusedMultiplyAdd(pv, weightDecay, gv);
            var mv = Vector512.FusedMultiplyAdd(gv, oneMinusBeta1, Vector512.LoadUnsafe(ref mr, (nuint)i) * beta1);
            var vv = Vector512.FusedMultiplyAdd(gv * oneMinusBeta2, gv, Vector512.LoadUnsafe(ref vr, (nuint)i) * beta2);
            var denominator = Vector512.Sqrt(vv) / correction2 + eps;
            (pv + mv * stepSize / denominator).StoreUnsafe(ref pr, (nuint)i);
            mv.StoreUnsafe(ref mr, (nuint)i);
            vv.StoreUnsafe(ref vr, (nuint)i);
        }
        return i;
    }

    private static int Update256(ref float pr, ref float gr, ref float mr, ref float vr, int length, in Coefficients c, Decay decay)
    {
        var shrink = Vector256.Create(c.Shrink);
        var weightDecay = Vector256.Create(c.WeightDecay);
        var beta1 = Vector256.Create(c.Beta1);
        var oneMinusBeta1 = Vector256.Create(c.OneMinusBeta1);
        var beta2 = Vector256.Create(c.Beta2);
        var oneMinusBeta2 = Vector256.Create(c.OneMinusBeta2);
        var correction2 = Vector256.Create(c.Correction2);
        var eps = Vector256.Create(c.Eps);
        var stepSize = Vector256.Create(c.StepSize);
        int i = 0;
        for (; i <= length - Vector256<float>.Count; i += Vector256<float>.Count)
        {
            var pv = Vector256.LoadUnsafe(ref pr, (nuint)i);
            var gv = Vector256.LoadUnsafe(ref gr, (nuint)i);
            if (decay == Decay.Shrink)
                pv *= shrink;
            else if (decay == Decay.Coupled)
                gv = Vector256.FusedMultiplyAdd(pv, weightDecay, gv);
            var mv = Vector256.FusedMultiplyAdd(gv, oneMinusBeta1, Vector256.LoadUnsafe(ref mr, (nuint)i) * beta1);
            var vv = Vector256.FusedMultiplyAdd(gv * oneMinusBeta2, gv, Vector256.LoadUnsafe(ref vr, (nuint)i) * beta2);
            var denominator = Vector256.Sqrt(vv) / correction2 + eps;
            (pv + mv * stepSize / denominator).StoreUnsafe(ref pr, (nuint)i);
            mv.StoreUnsafe(ref mr, (nuint)i);
            vv.StoreUnsafe(ref vr, (nuint)i);
        }
        return i;
    }

    private static int Update128(ref float pr, ref float gr, ref float mr, ref float vr, int length, in Coefficients c, Decay decay)
    {
        var shrink = Vector128.Create(c.Shrink);
        var weightDecay = Vector128.Create(c.WeightDecay);
        var beta1 = Vector128.Create(c.Beta1);
        var oneMinusBeta1 = Vector128.Create(c.OneMinusBeta1);
        var beta2 = Vector128.Create(c.Beta2);
        var oneMinusBeta2 = Vector128.Create(c.OneMinusBeta2);
        var correction2 = Vector128.Create(c.Correction2);
        var eps = Vector128.Create(c.Eps);
        var stepSize = Vector128.Create(c.StepSize);
        int i = 0;
        for (; i <= length - Vector128<float>.Count; i += Vector128<float>.Count)
        {
            var pv = Vector128.LoadUnsafe(ref pr, (nuint)i);
            var gv = Vector128.LoadUnsafe(ref gr, (nuint)i);
            if (decay == Decay.Shrink)
                pv *= shrink;
            else if (decay == Decay.Coupled)
                gv = Vector128.FusedMultiplyAdd(pv, weightDecay, gv);
            var mv = Vector128.FusedMultiplyAdd(gv, oneMinusBeta1, Vector128.LoadUnsafe(ref mr, (nuint)i) * beta1);
            var vv = Vector128.FusedMultiplyAdd(gv * oneMinusBeta2, gv, Vector128.LoadUnsafe(ref vr, (nuint)i) * beta2);
            var denominator = Vector128.Sqrt(vv) / correction2 + eps;
            (pv + mv * stepSize / denominator).StoreUnsafe(ref pr, (nuint)i);
            mv.StoreUnsafe(ref mr, (nuint)i);
            vv.StoreUnsafe(ref vr, (nuint)i);
        }
        return i;
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
