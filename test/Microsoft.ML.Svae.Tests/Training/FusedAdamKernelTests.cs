using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Svae.Tests.Training;

/// <summary>
/// Issue 16: the fused Adam step's one-pass kernel (<see cref="FusedAdamStep.Update"/>) against session 9's
/// <see cref="TensorPrimitives"/> sequence (<see cref="Reference"/>), bit for bit, on every vector path the CPU has.
/// </summary>
public class FusedAdamKernelTests
{
    /// <summary>
    /// Session 9's update, kept as the reference: a dozen <see cref="TensorPrimitives"/> passes over 4,096-element chunks,
    /// in libtorch's order (see <see cref="FusedAdamStep"/>'s remarks).
    /// </summary>
    private static void Reference(Span<float> parameter, ReadOnlySpan<float> gradient, Span<float> average, Span<float> averageSquare, in FusedAdamStep.Coefficients c)
    {
        const int ChunkLength = 4096;
        Span<float> scratchA = new float[ChunkLength];
        Span<float> scratchB = new float[ChunkLength];
        for (int offset = 0; offset < parameter.Length; offset += ChunkLength)
        {
            int length = Math.Min(ChunkLength, parameter.Length - offset);
            var p = parameter.Slice(offset, length);
            var g = gradient.Slice(offset, length);
            var m = average.Slice(offset, length);
            var v = averageSquare.Slice(offset, length);
            var a = scratchA[..length];
            var b = scratchB[..length];
            if (c.Decoupled)
            {
                if (c.Shrink != 1f)
                    TensorPrimitives.Multiply(p, c.Shrink, p);
            }
            else if (c.WeightDecay != 0f)
            {
                TensorPrimitives.FusedMultiplyAdd(p, c.WeightDecay, g, a);
                g = a;
            }
            TensorPrimitives.Multiply(m, c.Beta1, m);
            TensorPrimitives.FusedMultiplyAdd(g, c.OneMinusBeta1, m, m);
            TensorPrimitives.Multiply(v, c.Beta2, v);
            TensorPrimitives.Multiply(g, c.OneMinusBeta2, b);
            TensorPrimitives.FusedMultiplyAdd(b, g, v, v);
            TensorPrimitives.Sqrt(v, b);
            TensorPrimitives.Divide(b, c.Correction2, b);
            TensorPrimitives.Add(b, c.Eps, b);
            TensorPrimitives.Multiply(m, c.StepSize, a);
            TensorPrimitives.Divide(a, b, a);
            TensorPrimitives.Add(p, a, p);
        }
    }

    /// <summary>Runs <paramref name="action"/> with the kernel's vectors at most <paramref name="bits"/> wide.</summary>
    private static void WithVectorBits(int bits, Action action)
    {
        FusedAdamStep.VectorBits = bits;
        try
        {
            Assert.True(FusedAdamStep.VectorBits <= bits);
            action();
        }
        finally
        {
            FusedAdamStep.VectorBits = 512;
        }
    }

    /// <summary>
    /// Values of many magnitudes (2⁻³⁰ to 2⁹, both signs), with exact zeros, negative zeros and subnormals among them;
    /// <paramref name="nonNegative"/> for <c>exp_avg_sq</c>.
    /// </summary>
    private static float[] Values(Random random, int length, bool nonNegative)
    {
        var values = new float[length];
        for (int i = 0; i < length; i++)
        {
            float magnitude = random.Next(23) switch
            {
                0 => 0f,
                1 => 1e-40f * (1 + random.Next(100)), // subnormal
                _ => (float)((1 + random.NextDouble()) * Math.Pow(2, random.Next(-30, 9))),
            };
            values[i] = nonNegative || random.Next(2) == 0 ? magnitude : -magnitude;
        }
        return values;
    }

    /// <summary>Adam and AdamW, each with and without weight decay, at steps 1, 2 and 50 (bias corrections far from and near 1).</summary>
    private static FusedAdamStep.Coefficients[] Schedule(bool decoupled, double weightDecay) =>
    [
        FusedAdamStep.Coefficients.For(decoupled, 1e-3, 0.9, 0.999, 1e-8, weightDecay, 1),
        FusedAdamStep.Coefficients.For(decoupled, 0.03, 0.9, 0.999, 1e-8, weightDecay, 2),
        FusedAdamStep.Coefficients.For(decoupled, 0.5, 0.8, 0.99, 1e-6, weightDecay, 50),
    ];

    private static void AssertSameBits(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        var expectedBits = MemoryMarshal.Cast<float, int>(expected);
        var actualBits = MemoryMarshal.Cast<float, int>(actual);
        for (int i = 0; i < expected.Length; i++)
        {
            if (expectedBits[i] != actualBits[i])
                Assert.Fail($"{what}: element {i} of {expected.Length} is {actual[i]:R} (0x{actualBits[i]:X8}), expected {expected[i]:R} (0x{expectedBits[i]:X8})");
        }
    }

    /// <summary>
    /// Three updates of arrays of <paramref name="length"/> elements, starting <paramref name="offset"/> elements into
    /// their buffers, by the kernel and by the reference: the same bits in the parameter and both moments after each.
    /// </summary>
    private static void AssertKernelEqualsReference(int length, int offset, bool decoupled, double weightDecay, int seed)
    {
        var random = new Random(seed);
        float[] p = Values(random, length + offset, false), g = Values(random, length + offset, false);
        float[] m = Values(random, length + offset, false), v = Values(random, length + offset, true);
        float[] p2 = (float[])p.Clone(), m2 = (float[])m.Clone(), v2 = (float[])v.Clone();
        int step = 0;
        foreach (var c in Schedule(decoupled, weightDecay))
        {
            step++;
            FusedAdamStep.Update(p.AsSpan(offset), g.AsSpan(offset), m.AsSpan(offset), v.AsSpan(offset), c);
            Reference(p2.AsSpan(offset), g.AsSpan(offset), m2.AsSpan(offset), v2.AsSpan(offset), c);
            string what = $"{FusedAdamStep.VectorBits}-bit path, length {length}, offset {offset}, step {step}";
            AssertSameBits(p2, p, $"parameter ({what})");
            AssertSameBits(m2, m, $"exp_avg ({what})");
            AssertSameBits(v2, v, $"exp_avg_sq ({what})");
        }
    }

    public static TheoryData<int, bool, double> PathsAndDecays()
    {
        var data = new TheoryData<int, bool, double>();
        foreach (int bits in new[] { 512, 256, 128, 0 })
        {
            foreach (bool decoupled in new[] { false, true })
            {
                foreach (double weightDecay in new[] { 0.0, 5e-3 })
                    data.Add(bits, decoupled, weightDecay);
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(PathsAndDecays))]
    public void TheKernelEqualsTheTensorPrimitivesSequenceBitForBit(int vectorBits, bool decoupled, double weightDecay)
    {
        // Lengths 0..70 cover an empty span, every tail length of every width and several whole vectors; 1000 and 4097
        // (a chunk plus one, the reference's chunk boundary) and 70,000 (the parallel threshold's size) the long loops.
        // An offset of 3 starts the spans off the vectors' alignment.
        WithVectorBits(vectorBits, () =>
        {
            foreach (int length in Enumerable.Range(0, 71).Concat([1000, 4097, 70_000]))
            {
                AssertKernelEqualsReference(length, 0, decoupled, weightDecay, seed: length);
                if (length is 70 or 4097)
                    AssertKernelEqualsReference(length, 3, decoupled, weightDecay, seed: length + 1);
            }
        });
    }

    [Theory]
    [MemberData(nameof(PathsAndDecays))]
    public void TheParallelStepEqualsTheTensorPrimitivesSequenceBitForBit(int vectorBits, bool decoupled, double weightDecay)
    {
        // 70,000 elements: above the parallel threshold, 18 chunks split over 2 and 3 workers (a ragged last chunk).
        // The forced width flows into Parallel.For's workers (every width gives the same bits, so this checks the split,
        // not which width the workers took).
        const int Length = 70_000;
        Assert.True(Length >= FusedAdamStep.ParallelThreshold);
        WithVectorBits(vectorBits, () =>
        {
            foreach (int threads in new[] { 2, 3 })
            {
                using var scope = NewDisposeScope();
                var random = new Random(threads);
                float[] p = Values(random, Length, false), g = Values(random, Length, false);
                float[] m = Values(random, Length, false), v = Values(random, Length, true);
                Tensor param = tensor(p), grad = tensor(g), expAvg = tensor(m), expAvgSq = tensor(v);
                Assert.True(FusedAdamStep.Supports(param, grad, expAvg, expAvgSq));
                foreach (var c in Schedule(decoupled, weightDecay))
                {
                    FusedAdamStep.Step(param, grad, expAvg, expAvgSq, c, threads);
                    Reference(p, g, m, v, c);
                }
                string what = $"{FusedAdamStep.VectorBits}-bit path, {threads} threads";
                AssertSameBits(p, param.data<float>().ToArray(), $"parameter ({what})");
                AssertSameBits(m, expAvg.data<float>().ToArray(), $"exp_avg ({what})");
                AssertSameBits(v, expAvgSq.data<float>().ToArray(), $"exp_avg_sq ({what})");
            }
        });
    }

    [Fact]
    public void TheFirstStepOfAHandComputedCaseIsTheKernelsResultOnEveryPath()
    {
        // Step 1, β₁ = 0.5, β₂ = 0.75, ε = 0, lr = 0.25, no decay; values exact in float32: m = 0.5g, v = 0.25g²,
        // √v / √(1 − 0.75) = √(0.25g²)/0.5 = |g|, and p ← p − 0.25/(1 − 0.5) · 0.5g/|g| = p − 0.25·sign(g).
        var c = FusedAdamStep.Coefficients.For(false, 0.25, 0.5, 0.75, 0, 0, 1);
        foreach (int bits in new[] { 512, 256, 128, 0 })
        {
            WithVectorBits(bits, () =>
            {
                // 37 elements: two 16-wide vectors (or 4 of 8, 9 of 4) and a tail.
                float[] g = Enumerable.Range(0, 37).Select(i => (i % 2 == 0 ? 1 : -1) * (float)Math.Pow(2, i % 7 - 3)).ToArray();
                float[] p = Enumerable.Range(0, 37).Select(i => i * 0.125f).ToArray();
                float[] m = new float[37], v = new float[37];
                FusedAdamStep.Update(p, g, m, v, c);
                for (int i = 0; i < 37; i++)
                {
                    Assert.Equal(i * 0.125f - 0.25f * MathF.Sign(g[i]), p[i]);
                    Assert.Equal(0.5f * g[i], m[i]);
                    Assert.Equal(0.25f * g[i] * g[i], v[i]);
                }
            });
        }
    }

    [Fact]
    public void SpansOfDifferentLengthsAreRefusedByName()
    {
        var c = FusedAdamStep.Coefficients.For(false, 1e-3, 0.9, 0.999, 1e-8, 0, 1);
        var error = Assert.Throws<ArgumentException>(() => FusedAdamStep.Update(new float[5], new float[5], new float[4], new float[5], c));
        Assert.Equal("Adam's update needs spans of one length; got parameter 5, gradient 5, exp_avg 4, exp_avg_sq 5.", error.Message);
    }

    [Fact]
    public void AVectorWidthOtherThan512256128Or0IsRefused()
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => FusedAdamStep.VectorBits = 64);
        Assert.StartsWith("The vector width is 512, 256, 128 or 0 (scalar) bits.", error.Message);
        Assert.Equal(64, error.ActualValue);
    }
}
