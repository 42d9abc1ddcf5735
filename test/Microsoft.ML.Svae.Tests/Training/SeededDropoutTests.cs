using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Svae.Tests.Training;

/// <summary>
/// <see cref="SeededDropout"/>'s managed pass on the CPU (issue 16) against libtorch's composition
/// <c>(x · (rand ≥ rate)) / (1 − rate)</c> and its autograd backward on the same generator state: the same bits, values
/// and gradients, signed zeros, infinities and NaNs included, on every vector path.
/// </summary>
public class SeededDropoutTests
{
    /// <summary>The vector paths: 512-bit then <c>Vector&lt;T&gt;</c> then scalar; <c>Vector&lt;T&gt;</c> then scalar; scalar only.</summary>
    public static TheoryData<bool, bool> Paths => new() { { true, true }, { false, true }, { false, false } };

    private static T WithPaths<T>(bool vector512, bool vectors, Func<T> action)
    {
        SeededDropout.UseVector512 = vector512;
        SeededDropout.UseVectors = vectors;
        try
        {
            return action();
        }
        finally
        {
            SeededDropout.UseVector512 = true;
            SeededDropout.UseVectors = true;
        }
    }

    /// <summary>
    /// Gaussian values with every special value mixed in (±0, ±∞, NaN, the smallest subnormal, the largest float), in
    /// the given shape.
    /// </summary>
    private static Tensor Values(long[] shape, ulong seed)
    {
        using var generator = new Generator(seed, CPU);
        var values = randn(shape, generator: generator).data<float>().ToArray();
        float[] special = { 0f, -0f, float.PositiveInfinity, float.NegativeInfinity, float.NaN, float.Epsilon, -float.Epsilon, float.MaxValue, -float.MaxValue };
        for (int i = 0; i < values.Length; i += 7)
            values[i] = special[i / 7 % special.Length];
        return tensor(values).reshape(shape);
    }

    /// <summary>The raw bits of every element (float32, or float64).</summary>
    private static long[] Bits(Tensor values)
        => values.dtype == ScalarType.Float64
            ? values.contiguous().data<double>().ToArray().Select(BitConverter.DoubleToInt64Bits).ToArray()
            : values.contiguous().data<float>().ToArray().Select(v => (long)BitConverter.SingleToInt32Bits(v)).ToArray();

    /// <summary>The output, the input's gradient from <paramref name="outputGradient"/>, and the generator's next draw.</summary>
    private static (long[] Output, long[] Gradient, long[] Next) Run(Func<Tensor, double, Generator, Tensor> dropout, Tensor values,
        Tensor outputGradient, double rate, ulong seed)
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator(seed, CPU);
        var input = values.detach().clone().requires_grad_();
        var output = dropout(input, rate, generator);
        Assert.True(output.requires_grad);
        output.backward([outputGradient]);
        return (Bits(output), Bits(input.grad!), Bits(rand(new long[] { 5 }, generator: generator)));
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void ValuesAndGradientsAreTheCompositionsBits(bool vector512, bool vectors)
    {
        using var scope = NewDisposeScope();
        foreach (var shape in new[] { new long[] { 3, 7, 37 }, new long[] { 1001 }, new long[] { 2, 5, 256 }, new long[] { 1 }, new long[] { 15 }, new long[] { 17 } })
        {
            var values = Values(shape, 11);
            var outputGradient = Values(shape, 12);   // gradients of both signs, with ±0, ±∞ and NaN among them
            foreach (double rate in new[] { 0.2, 0.25, 0.5, 0.1, 0.9, 1e-7, 0.999 })
            {
                var expected = Run(SeededDropout.Composed, values, outputGradient, rate, 42);
                var actual = WithPaths(vector512, vectors, () => Run(SeededDropout.Apply, values, outputGradient, rate, 42));
                Assert.True(SeededDropout.TakesManagedPath(values));
                Assert.Equal(expected.Output, actual.Output);
                Assert.Equal(expected.Gradient, actual.Gradient);
                Assert.Equal(expected.Next, actual.Next);   // the same draws consumed from the generator
            }
        }
    }

    [Fact]
    public void ADroppedNegativeValueIsNegativeZeroAsInTheComposition()
    {
        // The choice stated in the remarks: (x · 0) / (1 − rate) keeps x's sign, and so does the gradient's (g / (1 − rate)) · 0.
        using var scope = NewDisposeScope();
        using var generator = new Generator(3, CPU);
        var input = full(new long[] { 64 }, -2f).requires_grad_();
        var output = SeededDropout.Apply(input, 0.5, generator);
        output.backward([full(new long[] { 64 }, -1f)]);
        var values = output.data<float>().ToArray();
        var gradient = input.grad!.data<float>().ToArray();
        Assert.Contains(values, v => v == 0f);
        for (int i = 0; i < values.Length; i++)
        {
            if (values[i] == 0f)
            {
                Assert.True(float.IsNegative(values[i]), $"value {i} is +0");
                Assert.True(float.IsNegative(gradient[i]) && gradient[i] == 0f, $"gradient {i} is {gradient[i]}");
            }
            else
            {
                Assert.Equal(-4f, values[i]);
                Assert.Equal(-2f, gradient[i]);
            }
        }
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void WithoutAutogradTheValuesAreTheCompositionsBits(bool vector512, bool vectors)
    {
        using var scope = NewDisposeScope();
        var values = Values(new long[] { 4, 9, 33 }, 5);
        foreach (bool noGrad in new[] { true, false })
        {
            // Under no_grad with an input that needs a gradient, and with grad on but an input that needs none.
            var input = noGrad ? values.detach().clone().requires_grad_() : values;
            using var first = new Generator(9, CPU);
            using var second = new Generator(9, CPU);
            Tensor expected, actual;
            using (noGrad ? no_grad() : null)
            {
                expected = SeededDropout.Composed(input, 0.2, first);
                actual = WithPaths(vector512, vectors, () => SeededDropout.Apply(input, 0.2, second));
            }
            Assert.False(actual.requires_grad);
            Assert.Equal(Bits(expected), Bits(actual));
            Assert.Equal(Bits(rand(new long[] { 3 }, generator: first)), Bits(rand(new long[] { 3 }, generator: second)));
        }
    }

    [Fact]
    public void RateZeroReturnsTheInputItself()
    {
        using var scope = NewDisposeScope();
        var input = ones(5, 3).requires_grad_();
        using var generator = new Generator(1, CPU);
        Assert.Same(input, SeededDropout.Apply(input, 0, generator));
        Assert.Same(input, SeededDropout.Apply(input, -0.0, generator));
        // No draw was taken from the generator.
        using var fresh = new Generator(1, CPU);
        Assert.Equal(Bits(rand(new long[] { 4 }, generator: fresh)), Bits(rand(new long[] { 4 }, generator: generator)));
    }

    [Fact]
    public void OtherLayoutsAndDtypesKeepTheComposition()
    {
        using var scope = NewDisposeScope();
        var transposed = Values(new long[] { 6, 11 }, 2).t();
        Assert.False(SeededDropout.TakesManagedPath(transposed));
        Assert.False(SeededDropout.TakesManagedPath(Values(new long[] { 6, 11 }, 2).to(ScalarType.Float64)));
        Assert.False(SeededDropout.TakesManagedPath(empty(0, 4)));
        foreach (var input in new[] { transposed, transposed.to(ScalarType.Float64) })
        {
            var expected = Run(SeededDropout.Composed, input, ones_like(input), 0.3, 8);
            var actual = Run(SeededDropout.Apply, input, ones_like(input), 0.3, 8);
            Assert.Equal(expected.Output, actual.Output);
            Assert.Equal(expected.Gradient, actual.Gradient);
            Assert.Equal(expected.Next, actual.Next);
        }
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void TheKernelsMatchAScalarReferenceAtEveryLength(bool vector512, bool vectors)
    {
        // Lengths 0..96 (every tail of either vector loop) and 1010; the threshold compares exactly (draws equal to it are kept).
        var random = new Random(4);
        foreach (int length in Enumerable.Range(0, 97).Append(1010))
        {
            var values = Enumerable.Range(0, length).Select(_ => (float)(random.NextDouble() * 8 - 4)).ToArray();
            var uniform = Enumerable.Range(0, length).Select(i => i % 5 == 0 ? 0.375f : (float)random.NextDouble()).ToArray();
            const float rate = 0.375f, kept = 0.625f;
            var forward = new float[length];
            var backward = new float[length];
            WithPaths(vector512, vectors, () =>
            {
                SeededDropout.Forward(values, uniform, rate, kept, forward);
                SeededDropout.Backward(values, uniform, rate, kept, backward);
                return 0;
            });
            for (int i = 0; i < length; i++)
            {
                float mask = uniform[i] >= rate ? 1f : 0f;
                Assert.Equal(BitConverter.SingleToInt32Bits(values[i] * mask / kept), BitConverter.SingleToInt32Bits(forward[i]));
                Assert.Equal(BitConverter.SingleToInt32Bits(values[i] / kept * mask), BitConverter.SingleToInt32Bits(backward[i]));
            }
        }
    }

    [Fact]
    public void KernelSpansOfDifferentLengthsAreRejected()
    {
        var error = Assert.Throws<ArgumentException>(() => SeededDropout.Forward(new float[4], new float[3], 0.2f, 0.8f, new float[4]));
        Assert.StartsWith("Dropout's values, draws and result must have one length; got 4, 3 and 4.", error.Message);
    }
}
