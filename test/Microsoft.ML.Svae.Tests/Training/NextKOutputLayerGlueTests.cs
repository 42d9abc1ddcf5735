using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Svae.Tests.Training;

/// <summary>
/// The bfloat16 output layer's glue around its products (issue 16): the managed cast of the weight to bfloat16 and the
/// backward's widening of ∂W and scaling by g give the same bits as libtorch's <c>to</c> and <c>to(float32)</c> then
/// <c>mul_</c> (<see cref="NextKOutputLayer.UseLibTorchGlue"/>), end to end and kernel by kernel.
/// </summary>
public class NextKOutputLayerGlueTests
{
    private static T With<T>(bool libTorchGlue, bool vector512, Func<T> action)
    {
        NextKOutputLayer.UseLibTorchGlue = libTorchGlue;
        NextKOutputLayer.UseVector512 = vector512;
        try
        {
            return action();
        }
        finally
        {
            NextKOutputLayer.UseLibTorchGlue = false;
            NextKOutputLayer.UseVector512 = true;
        }
    }

    private static int[] Bits(Tensor values) => values.detach().contiguous().data<float>().ToArray().Select(BitConverter.SingleToInt32Bits).ToArray();

    /// <summary>The loss and the three gradients' bits, backward from 0.37·loss (so that g is not 1).</summary>
    private static (int Loss, int[] Hidden, int[] Weight, int[] Bias) Run(Tensor hidden, Tensor weight, Tensor bias, Tensor targets, Tensor weights, bool transposedHidden)
    {
        using var scope = NewDisposeScope();
        var a = (transposedHidden ? hidden.t().contiguous().t() : hidden.clone()).requires_grad_();
        var w = weight.clone().requires_grad_();
        var b = bias.clone().requires_grad_();
        var loss = NextKOutputLayer.MultiSetNll(a, w, b, targets, weights, TrainingPrecision.BFloat16);
        (loss * 0.37f).backward();
        return (BitConverter.SingleToInt32Bits(loss.item<float>()), Bits(a.grad!), Bits(w.grad!), Bits(b.grad!));
    }

    [Theory]
    [InlineData(1, 11, true, false)]
    [InlineData(70, 37, true, false)]
    [InlineData(301, 53, true, false)]
    [InlineData(70, 37, false, false)]
    [InlineData(301, 53, false, false)]
    [InlineData(70, 37, true, true)]    // activations that are not contiguous
    public void TheManagedGlueHasTheBitsOfLibTorchsCastsAndScaling(int rows, int items, bool vector512, bool transposedHidden)
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator(17 + (ulong)rows, CPU);
        const int inner = 23;   // rows of the operands that are no multiple of any vector width
        var hidden = randn(new long[] { rows, inner }, generator: generator).tanh();
        var weight = randn(new long[] { items, inner }, generator: generator) * 0.3;
        var bias = randn(new long[] { items }, generator: generator);
        var targets = randint(0, items, new long[] { rows, 3 }, generator: generator);
        var weights = ones(rows, 3);
        weights[0][2] = tensor(0f);

        var expected = With(true, vector512, () => Run(hidden, weight, bias, targets, weights, transposedHidden));
        var actual = With(false, vector512, () => Run(hidden, weight, bias, targets, weights, transposedHidden));
        Assert.Equal(expected.Loss, actual.Loss);
        Assert.Equal(expected.Hidden, actual.Hidden);
        Assert.Equal(expected.Weight, actual.Weight);
        Assert.Equal(expected.Bias, actual.Bias);
        Assert.Contains(actual.Weight, bits => bits != 0);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void WidenScaleIsToFloat32ThenMulAtEveryLength(bool vector512)
    {
        vector512 &= NextKOutputLayer.UseVector512;
        using var scope = NewDisposeScope();
        using var generator = new Generator(6, CPU);
        // bfloat16 values of many magnitudes with ±0, ±∞, NaN and a subnormal among them; lengths 0..96 and 1010 cover every
        // tail of both vector loops.
        var all = (randn(new long[] { 1010 }, generator: generator) * exp(randn(new long[] { 1010 }, generator: generator) * 4)).to(ScalarType.BFloat16);
        var source = MemoryMarshal.Cast<byte, ushort>(all.bytes).ToArray();
        ushort[] special = { 0x0000, 0x8000, 0x7F80, 0xFF80, 0x7FC0, 0x0001, 0x8001 };
        for (int i = 0; i < source.Length; i += 9)
            source[i] = special[i / 9 % special.Length];
        foreach (float scale in new[] { 0.37f, -2.5f, 1f })
        {
            foreach (int length in Enumerable.Range(0, 97).Append(1010))
            {
                var values = source.AsSpan(0, length).ToArray();
                using var bfloat16 = empty(new long[] { length }, ScalarType.BFloat16);
                if (length > 0)
                    MemoryMarshal.AsBytes(values.AsSpan()).CopyTo(bfloat16.bytes);
                using var factor = tensor(scale);
                var expected = length == 0 ? Array.Empty<int>() : Bits(bfloat16.to(ScalarType.Float32).mul_(factor));
                var actual = new float[length];
                NextKOutputLayer.WidenScale(values, scale, actual, vector512);
                Assert.Equal(expected, actual.Select(BitConverter.SingleToInt32Bits).ToArray());
            }
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void TheBFloat16CastIsLibTorchsAtEveryLength(bool vector512)
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator(8, CPU);
        var random = (randn(new long[] { 1010 }, generator: generator) * exp(randn(new long[] { 1010 }, generator: generator) * 5)).data<float>().ToArray();
        float[] special = { 0f, -0f, float.PositiveInfinity, float.NegativeInfinity, 1e-40f, -1e-40f, 1.00390625f, 1.01171875f, 3.3895e38f };
        for (int i = 0; i < random.Length; i += 11)
            random[i] = special[i / 11 % special.Length];
        foreach (int length in Enumerable.Range(0, 97).Append(1010))
        {
            var values = random.AsSpan(0, length).ToArray();
            var expected = length == 0 ? Array.Empty<ushort>() : MemoryMarshal.Cast<byte, ushort>(tensor(values).to(ScalarType.BFloat16).bytes).ToArray();
            var actual = new ushort[length];
            With(false, vector512, () => { NextKOutputLayer.SingleToBFloat16(values, actual); return 0; });
            Assert.Equal(expected, actual);
        }
    }

    [Fact]
    public void KernelSpansOfDifferentLengthsAreRejected()
    {
        var widen = Assert.Throws<ArgumentException>(() => NextKOutputLayer.WidenScale(new ushort[5], 1f, new float[4], false));
        Assert.StartsWith("The float32 destination holds 4 values; the bfloat16 source has 5.", widen.Message);
        var cast = Assert.Throws<ArgumentException>(() => NextKOutputLayer.SingleToBFloat16(new float[5], new ushort[4]));
        Assert.StartsWith("The bfloat16 destination holds 4 values; the source has 5.", cast.Message);
    }
}
