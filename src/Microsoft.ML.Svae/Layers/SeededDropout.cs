using System.Numerics;
using System.Runtime.Intrinsics;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Svae;

/// <summary>
/// Inverted dropout whose masks come from a given generator. <c>torch.nn.Dropout</c> draws from the global
/// generator, which other trainings in the same process also advance, so seeded runs would not be
/// reproducible; every model's dropout goes through here instead.
/// </summary>
/// <remarks>
/// <para>
/// What is computed is libtorch's composition <c>(x · (u ≥ rate)) / (1 − rate)</c> with <c>u = rand(x.shape)</c> drawn
/// from the generator, and its autograd backward <c>(g / (1 − rate)) · (u ≥ rate)</c>; the comparison and the division
/// take the rate and <c>1 − rate</c> in the input's float type, as libtorch's type promotion of a scalar does.
/// </para>
/// <para>
/// On the CPU for contiguous float32 input (issue 16) the same <c>rand</c> call on the same generator gives u, and the rest
/// is one managed pass forward and one backward, as an autograd function that keeps u (no bool or float mask, no
/// intermediate product): the values and the gradient are the same bits as the composition's, signed zeros and NaNs
/// included (a dropped element is <c>(x · 0) / (1 − rate)</c>, so −0 for a negative x; its gradient <c>(g / (1 − rate)) · 0</c>,
/// −0 for a negative g). Other devices, dtypes and layouts run the composition in libtorch.
/// </para>
/// </remarks>
internal static class SeededDropout
{
    private static readonly AsyncLocal<bool?> vector512 = new();
    private static readonly AsyncLocal<bool?> vectors = new();

    /// <summary>
    /// Whether the managed pass takes its 512-bit loop: where the CPU has it, unless set to <see langword="false"/>. Set per
    /// asynchronous flow (<see cref="AsyncLocal{T}"/>), so tests can force the other paths without changing the pass for tests
    /// running beside them.
    /// </summary>
    internal static bool UseVector512
    {
        get => Vector512.IsHardwareAccelerated && (vector512.Value ?? true);
        set => vector512.Value = value;
    }

    /// <summary>
    /// Whether the managed pass takes its <see cref="Vector{T}"/> loop (after the 512-bit one, if any): where the CPU
    /// accelerates it, unless set to <see langword="false"/> (then the scalar loop does all that the 512-bit one leaves).
    /// Set per asynchronous flow, as <see cref="UseVector512"/>.
    /// </summary>
    internal static bool UseVectors
    {
        get => Vector.IsHardwareAccelerated && (vectors.Value ?? true);
        set => vectors.Value = value;
    }

    /// <summary>
    /// Zeroes each element of <paramref name="input"/> with probability <paramref name="rate"/> and scales the
    /// rest by <c>1 / (1 − rate)</c>; returns <paramref name="input"/> itself when <paramref name="rate"/> is 0.
    /// </summary>
    /// <param name="input">The activations.</param>
    /// <param name="rate">The drop probability, in [0, 1).</param>
    /// <param name="generator">The source of the mask, on the input's device (the global generator when null).</param>
    public static Tensor Apply(Tensor input, double rate, Generator? generator)
    {
        if (rate <= 0)
            return input;
        if (!TakesManagedPath(input))
            return Composed(input, rate, generator);

        using var scope = NewDisposeScope();
        var uniform = rand(input.shape, input.dtype, input.device, generator: generator);
        if (is_grad_enabled() && input.requires_grad)
            return ManagedDropout.apply(input, uniform, rate).MoveToOuterDisposeScope();
        var output = empty_like(input);
        Forward(CpuTensorMemory.Floats(input), CpuTensorMemory.Floats(uniform), (float)rate, (float)(1 - rate),
            CpuTensorMemory.Floats(output));
        GC.KeepAlive(input);
        GC.KeepAlive(uniform);
        return output.MoveToOuterDisposeScope();
    }

    /// <summary>Whether <see cref="Apply"/> runs the managed pass: contiguous float32 CPU input of at least one element (at most 2 GB).</summary>
    internal static bool TakesManagedPath(Tensor input) => input.numel() > 0 && CpuTensorMemory.SpansFloats(input);

    /// <summary>libtorch's composition: the path off the CPU and for other dtypes or layouts, and the tests' reference.</summary>
    internal static Tensor Composed(Tensor input, double rate, Generator? generator)
    {
        using var scope = NewDisposeScope();
        using var rateScalar = rate.ToScalar();
        using var keptScale = (1 - rate).ToScalar();
        var keep = rand(input.shape, input.dtype, input.device, generator: generator).ge(rateScalar);
        return (input * keep.to(input.dtype)).div(keptScale).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// <paramref name="output"/>[i] = (<paramref name="input"/>[i] · (<paramref name="uniform"/>[i] ≥ <paramref name="rate"/> ? 1 : 0))
    /// / <paramref name="kept"/> (one pass; the spans have one length).
    /// </summary>
    internal static void Forward(ReadOnlySpan<float> input, ReadOnlySpan<float> uniform, float rate, float kept, Span<float> output)
        => Masked(input, uniform, rate, kept, output, divideFirst: false);

    /// <summary>
    /// <paramref name="gradient"/>[i] = (<paramref name="outputGradient"/>[i] / <paramref name="kept"/>) · (<paramref name="uniform"/>[i]
    /// ≥ <paramref name="rate"/> ? 1 : 0) (one pass; the spans have one length).
    /// </summary>
    internal static void Backward(ReadOnlySpan<float> outputGradient, ReadOnlySpan<float> uniform, float rate, float kept, Span<float> gradient)
        => Masked(outputGradient, uniform, rate, kept, gradient, divideFirst: true);

    /// <summary>(v · m) / s, or with <paramref name="divideFirst"/> (v / s) · m, where m is 1 where u ≥ rate and 0 elsewhere.</summary>
    private static void Masked(ReadOnlySpan<float> values, ReadOnlySpan<float> uniform, float rate, float kept, Span<float> result, bool divideFirst)
    {
        if (uniform.Length != values.Length || result.Length != values.Length)
            throw new ArgumentException(
                $"Dropout's values, draws and result must have one length; got {values.Length}, {uniform.Length} and {result.Length}.");
        int i = 0;
        if (UseVector512 && values.Length >= Vector512<float>.Count)
        {
            var threshold = Vector512.Create(rate);
            var scale = Vector512.Create(kept);
            for (; i <= values.Length - Vector512<float>.Count; i += Vector512<float>.Count)
            {
                var mask = Vector512.ConditionalSelect(Vector512.GreaterThanOrEqual(Vector512.Create(uniform.Slice(i)), threshold),
                    Vector512<float>.One, Vector512<float>.Zero);
                var v = Vector512.Create(values.Slice(i));
                (divideFirst ? v / scale * mask : v * mask / scale).CopyTo(result.Slice(i));
            }
        }
        if (UseVectors && values.Length - i >= Vector<float>.Count)
        {
            var threshold = new Vector<float>(rate);
            var scale = new Vector<float>(kept);
            for (; i <= values.Length - Vector<float>.Count; i += Vector<float>.Count)
            {
                var mask = Vector.ConditionalSelect(Vector.GreaterThanOrEqual(new Vector<float>(uniform.Slice(i)), threshold),
                    Vector<float>.One, Vector<float>.Zero);
                var v = new Vector<float>(values.Slice(i));
                (divideFirst ? v / scale * mask : v * mask / scale).CopyTo(result.Slice(i));
            }
        }
        for (; i < values.Length; i++)
        {
            float mask = uniform[i] >= rate ? 1f : 0f;
            result[i] = divideFirst ? values[i] / kept * mask : values[i] * mask / kept;
        }
    }

    /// <summary>The autograd function: inputs (x, the draws u, the rate as a double), output the dropped-out x; keeps u.</summary>
    private sealed class ManagedDropout : autograd.SingleTensorFunction<ManagedDropout>
    {
        public override string Name => nameof(ManagedDropout);

        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            var input = (Tensor)vars[0];
            var uniform = (Tensor)vars[1];
            double rate = (double)vars[2];
            var output = empty_like(input);
            Forward(CpuTensorMemory.Floats(input), CpuTensorMemory.Floats(uniform), (float)rate, (float)(1 - rate),
                CpuTensorMemory.Floats(output));
            GC.KeepAlive(input);
            ctx.save_for_backward([uniform]);
            ctx.save_data("rate", rate);
            return output;
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor grad_output)
        {
            using var scope = NewDisposeScope();
            var uniform = ctx.get_saved_variables()[0];
            double rate = (double)ctx.get_data("rate");
            var outputGradient = grad_output.contiguous();
            var gradient = empty_like(uniform);
            Backward(CpuTensorMemory.Floats(outputGradient), CpuTensorMemory.Floats(uniform), (float)rate, (float)(1 - rate),
                CpuTensorMemory.Floats(gradient));
            GC.KeepAlive(outputGradient);
            GC.KeepAlive(uniform);
            return [gradient.MoveToOuterDisposeScope(), null!, null!];
        }
    }
}
