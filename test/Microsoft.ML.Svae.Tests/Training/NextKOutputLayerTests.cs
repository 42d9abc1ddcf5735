using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Svae.Tests.Training;

/// <summary>
/// The output layer + next-k loss on the CPU (<see cref="NextKOutputLayer"/>): the products and one managed pass over the
/// logits (issue 16), against a float64 autograd reference <c>Linear → log_softmax → gather</c>.
/// </summary>
public class NextKOutputLayerTests
{
    private const int Inner = 6, Items = 11, K = 3;

    /// <summary>Runs <paramref name="action"/> with the pass's 512-bit loops on (where the CPU has them) or forced off.</summary>
    private static T WithVector512<T>(bool vector512, Func<T> action)
    {
        NextKOutputLayer.UseVector512 = vector512;
        try
        {
            return action();
        }
        finally
        {
            NextKOutputLayer.UseVector512 = true;
        }
    }

    /// <summary>
    /// A case of <paramref name="rows"/> units: row r has 1 + r % k valid targets, and every third row repeats a target.
    /// With <paramref name="large"/>, small integer activations and integer weights and bias make logits of ±1e3 that
    /// float32 holds exactly (so float32 and float64 see the same logits); else tanh activations and Gaussian weights.
    /// </summary>
    private static (Tensor Hidden, Tensor Weight, Tensor Bias, Tensor Targets, Tensor Weights) Case(int rows, bool large, int items = Items)
    {
        using var generator = new Generator(5 + (ulong)rows, CPU);
        Tensor hidden, weight, bias;
        if (large)
        {
            hidden = randint(-2, 3, new long[] { rows, Inner }, generator: generator).to(ScalarType.Float32);
            weight = randint(-400, 401, new long[] { items, Inner }, generator: generator).to(ScalarType.Float32);
            bias = randint(-300, 301, new long[] { items }, generator: generator).to(ScalarType.Float32);
        }
        else
        {
            hidden = randn(new long[] { rows, Inner }, generator: generator).tanh();
            weight = randn(new long[] { items, Inner }, generator: generator);
            bias = randn(new long[] { items }, generator: generator);
        }
        var targets = randint(0, items, new long[] { rows, K }, generator: generator);
        var weights = zeros(rows, K);
        for (int r = 0; r < rows; r++)
        {
            weights[r].narrow(0, 0, 1 + r % K).fill_(1);
            if (r % 3 == 0)
                targets[r][K - 1] = targets[r][0];   // a repeated target (valid where the row has k targets)
        }
        return (hidden, weight, bias, targets, weights);
    }

    /// <summary>Float64 autograd: Linear, log_softmax, gather, the mean over the valid targets, summed; backward from 2·loss.</summary>
    private static (double Loss, Tensor Hidden, Tensor Weight, Tensor Bias) Reference(Tensor hidden, Tensor weight, Tensor bias, Tensor targets, Tensor weights)
    {
        var a = hidden.to(ScalarType.Float64).requires_grad_();
        var w = weight.to(ScalarType.Float64).requires_grad_();
        var b = bias.to(ScalarType.Float64).requires_grad_();
        var mask = weights.to(ScalarType.Float64);
        var logits = nn.functional.linear(a, w, b);
        var loss = -((logits.log_softmax(1).gather(1, targets) * mask).sum(1) / mask.sum(1)).sum();
        (loss * 2).backward();
        return (loss.item<double>(), a.grad!, w.grad!, b.grad!);
    }

    private static (float Loss, Tensor Hidden, Tensor Weight, Tensor Bias) Fused(Tensor hidden, Tensor weight, Tensor bias, Tensor targets, Tensor weights,
        TrainingPrecision precision = TrainingPrecision.Float32)
    {
        var a = hidden.clone().requires_grad_();
        var w = weight.clone().requires_grad_();
        var b = bias.clone().requires_grad_();
        var loss = NextKOutputLayer.MultiSetNll(a, w, b, targets, weights, precision);
        Assert.Empty(loss.shape);
        Assert.Equal(ScalarType.Float32, loss.dtype);
        (loss * 2).backward();
        return (loss.item<float>(), a.grad!, w.grad!, b.grad!);
    }

    [Theory]
    [InlineData(1, false, Items, true)]
    [InlineData(5, false, Items, true)]
    [InlineData(70, false, Items, true)]     // 9 blocks of 8 rows
    [InlineData(301, false, Items, true)]    // 16 blocks of 19 rows
    [InlineData(70, false, 37, true)]        // rows longer than the vector loops' steps, with a tail
    [InlineData(1, true, Items, true)]
    [InlineData(40, true, 37, true)]
    [InlineData(70, false, 53, true)]
    [InlineData(1, false, Items, false)]     // the same without the 512-bit loops (Vector<T> and TensorPrimitives)
    [InlineData(301, false, Items, false)]
    [InlineData(70, false, 37, false)]
    [InlineData(40, true, 37, false)]
    [InlineData(70, false, 53, false)]
    public void TheFusedPassHasTheLossAndGradientsOfAFloat64LinearLogSoftmaxGather(int rows, bool large, int items, bool vector512)
    {
        using var scope = NewDisposeScope();
        var (hidden, weight, bias, targets, weights) = Case(rows, large, items);
        Assert.True(NextKOutputLayer.TakesFusedPath(hidden, weight, bias, targets, weights));
        if (large)
            Assert.True(hidden.mm(weight.t()).add(bias).abs().max().item<float>() >= 1000);
        var expected = Reference(hidden, weight, bias, targets, weights);
        var actual = WithVector512(vector512, () => Fused(hidden, weight, bias, targets, weights));

        Assert.True(double.IsFinite(actual.Loss));
        Assert.True(Math.Abs(expected.Loss - actual.Loss) <= 1e-5 * Math.Max(1, Math.Abs(expected.Loss)), $"loss {actual.Loss} against {expected.Loss}");
        AssertClose(expected.Hidden, actual.Hidden, "∂a");
        AssertClose(expected.Weight, actual.Weight, "∂W");
        AssertClose(expected.Bias, actual.Bias, "∂b");
    }

    [Theory]
    [InlineData(1, Items, true)]
    [InlineData(70, 37, true)]
    [InlineData(301, 37, true)]
    [InlineData(70, 53, true)]
    [InlineData(1, Items, false)]
    [InlineData(70, 37, false)]
    [InlineData(70, 53, false)]
    public void TheBFloat16PassIsTheFloat64ReferenceWithinBFloat16Rounding(int rows, int items, bool vector512)
    {
        // TrainingPrecisionTests derives the bound: 2⁻⁶ of a tensor's scale; here the scale is its largest element.
        using var scope = NewDisposeScope();
        var (hidden, weight, bias, targets, weights) = Case(rows, large: false, items);
        var expected = Reference(hidden, weight, bias, targets, weights);
        var actual = WithVector512(vector512, () => Fused(hidden, weight, bias, targets, weights, TrainingPrecision.BFloat16));

        Assert.NotEqual(expected.Loss, actual.Loss);
        Assert.True(Math.Abs(expected.Loss - actual.Loss) <= rows / 64.0 * Math.Max(1, Math.Abs(expected.Loss) / rows), $"loss {actual.Loss} against {expected.Loss}");
        AssertClose(expected.Hidden, actual.Hidden, "∂a", 1.0 / 64);
        AssertClose(expected.Weight, actual.Weight, "∂W", 1.0 / 64);
        AssertClose(expected.Bias, actual.Bias, "∂b", 1.0 / 64);
    }

    [Fact]
    public void ByHandOneUnitWithARepeatedTargetCountsItTwice()
    {
        // One unit over 3 items, logits (0, ln 2, ln 5) less a bias that evens them: x = (0, 0, 0) after the bias, so the
        // softmax is 1/3 each. Targets (2, 2, 0), all valid: ŵ = 1/3 each, item 2 twice.
        // Loss = Σ_j ŵ_j (lse − x_tj) = ln 3. ∂/∂x = softmax − scatter(ŵ) = (1/3 − 1/3, 1/3, 1/3 − 2/3) = (0, 1/3, −1/3).
        using var scope = NewDisposeScope();
        var hidden = tensor(new float[] { 1 }, new long[] { 1, 1 }).requires_grad_();
        var weight = tensor(new float[] { 0, (float)Math.Log(2), (float)Math.Log(5) }, new long[] { 3, 1 }).requires_grad_();
        var bias = tensor(new float[] { 0, -(float)Math.Log(2), -(float)Math.Log(5) }).requires_grad_();
        var targets = tensor(new long[] { 2, 2, 0 }, new long[] { 1, 3 });
        var loss = NextKOutputLayer.MultiSetNll(hidden, weight, bias, targets, ones(1, 3), TrainingPrecision.Float32);
        loss.backward();

        Assert.Equal(Math.Log(3), loss.item<float>(), 6);
        var expected = new[] { 0, 1.0 / 3, -1.0 / 3 };
        var biasGradient = bias.grad!.data<float>().ToArray();
        var weightGradient = weight.grad!.data<float>().ToArray();   // ∂W = Gᵀ·a with a = 1
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(expected[i], biasGradient[i], 6);
            Assert.Equal(expected[i], weightGradient[i], 6);
        }
        // ∂a = G·W = (1/3) ln 2 − (1/3) ln 5.
        Assert.Equal((Math.Log(2) - Math.Log(5)) / 3, hidden.grad!.item<float>(), 6);
    }

    [Theory]
    [InlineData(TrainingPrecision.Float32)]
    [InlineData(TrainingPrecision.BFloat16)]
    public void WithoutGradientsTheLossIsTheSameBits(TrainingPrecision precision)
    {
        using var scope = NewDisposeScope();
        var (hidden, weight, bias, targets, weights) = Case(70, large: false);
        float recorded = Fused(hidden, weight, bias, targets, weights, precision).Loss;
        float unrecorded;
        using (no_grad())
            unrecorded = NextKOutputLayer.MultiSetNll(hidden, weight, bias, targets, weights, precision).item<float>();
        // No input needs a gradient: the loss alone too.
        float constants = NextKOutputLayer.MultiSetNll(hidden, weight, bias, targets, weights, precision).item<float>();
        Assert.Equal(BitConverter.SingleToInt32Bits(recorded), BitConverter.SingleToInt32Bits(unrecorded));
        Assert.Equal(BitConverter.SingleToInt32Bits(recorded), BitConverter.SingleToInt32Bits(constants));
    }

    [Theory]
    [InlineData(TrainingPrecision.Float32)]
    [InlineData(TrainingPrecision.BFloat16)]
    public void OneAndTwoThreadsGiveTheSameBits(TrainingPrecision precision)
    {
        using var scope = NewDisposeScope();
        var (hidden, weight, bias, targets, weights) = Case(301, large: false);
        try
        {
            // The pass's own thread count (libtorch's stays at the one thread per test that TestSetup sets).
            NextKOutputLayer.Threads = 1;
            var one = Fused(hidden, weight, bias, targets, weights, precision);
            NextKOutputLayer.Threads = 2;
            var two = Fused(hidden, weight, bias, targets, weights, precision);
            Assert.Equal(BitConverter.SingleToInt32Bits(one.Loss), BitConverter.SingleToInt32Bits(two.Loss));
            Assert.Equal(one.Hidden.data<float>().ToArray(), two.Hidden.data<float>().ToArray());
            Assert.Equal(one.Weight.data<float>().ToArray(), two.Weight.data<float>().ToArray());
            Assert.Equal(one.Bias.data<float>().ToArray(), two.Bias.data<float>().ToArray());
        }
        finally
        {
            NextKOutputLayer.Threads = null;
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void TheBFloat16RoundingIsLibTorchsCast(bool vector512)
    {
        vector512 &= NextKOutputLayer.UseVector512;
        // Random values of many magnitudes, values halfway between two bfloat16 numbers (ties to even, both ways), and
        // the row's tail that the vector loop leaves to the scalar one (an odd length).
        using var scope = NewDisposeScope();
        using var generator = new Generator(3, CPU);
        var random = randn(new long[] { 997 }, generator: generator) * exp(randn(new long[] { 997 }, generator: generator) * 5);
        var values = random.data<float>().ToArray().Concat(new[] { 1.00390625f, 1.01171875f, -1.00390625f, 0f, -0f, 1e-40f, 3.3895e38f }).ToArray();
        var expected = MemoryMarshalBits(tensor(values).to(ScalarType.BFloat16));
        var actual = new ushort[values.Length];
        BFloat16Rows.Round(values, actual, wide: false);
        Assert.Equal(expected, actual);

        // The pass's other kernels: bfloat16 read back (plus a zero bias) with its maximum, and the scaled row written in
        // bfloat16 while it is added into an accumulator.
        var back = new float[values.Length];
        float max = NextKOutputLayer.WidenAddMax(actual, new float[values.Length], back, vector512);
        var widened = tensor(values).to(ScalarType.BFloat16).to(ScalarType.Float32).data<float>().ToArray();
        Assert.Equal(widened, back);
        Assert.Equal(widened.Max(), max);

        var scaled = values.Select(v => v * 0.75f).ToArray();
        var row = (float[])values.Clone();
        var accumulated = Enumerable.Repeat(1f, values.Length).ToArray();
        var stored = new ushort[values.Length];
        NextKOutputLayer.ScaleAccumulate(row, 0.75f, accumulated, stored, vector512);
        Assert.Equal(scaled, row);
        Assert.Equal(scaled.Select(v => 1f + v).ToArray(), accumulated);
        Assert.Equal(MemoryMarshalBits(tensor(scaled).to(ScalarType.BFloat16)), stored);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void NaNsRoundToTheQuietNaN0x7FC0(bool vector512)
    {
        // NaNs of both signs and several payloads (some that the rounding alone would carry into the sign or make an
        // infinity), in the vector loops and in the scalar tails, give 0x7FC0 (c10's scalar float → BFloat16 conversion);
        // libtorch's vectorized tensor cast gives another NaN (0xFFFF on this machine): NaN for NaN, the other lanes alike.
        vector512 &= NextKOutputLayer.UseVector512;
        uint[] nanBits = { 0x7FC00000u, 0xFFC00000u, 0x7F800001u, 0xFFFFFFFFu, 0x7FFFFFFFu, 0xFF800001u, 0x7FBFFFFFu };
        var values = Enumerable.Range(0, 37).Select(i => i % 3 == 0 ? BitConverter.UInt32BitsToSingle(nanBits[i / 3 % nanBits.Length]) : i * 0.5f).ToArray();
        using var scope = NewDisposeScope();
        var cast = MemoryMarshalBits(tensor(values).to(ScalarType.BFloat16));
        var expected = values.Select((v, i) => float.IsNaN(v) ? (ushort)0x7FC0 : cast[i]).ToArray();
        for (int i = 0; i < values.Length; i += 3)
            Assert.True((cast[i] & 0x7FFF) > 0x7F80, $"libtorch's cast of NaN gave {cast[i]:X4}");
        var actual = new ushort[values.Length];
        BFloat16Rows.Round(values, actual, wide: false);
        Assert.Equal(expected, actual);
        var stored = new ushort[values.Length];
        NextKOutputLayer.ScaleAccumulate((float[])values.Clone(), 1f, new float[values.Length], stored, vector512);
        Assert.Equal(expected, stored);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void EachKernelIsItsScalarReferenceAtEveryLength(bool vector512)
    {
        // Lengths 0..96 and 1010: every vector loop's step, tail and fall-through, with the 512-bit loops and without.
        vector512 &= NextKOutputLayer.UseVector512;
        var random = new Random(7);
        foreach (int length in Enumerable.Range(0, 97).Append(1010))
        {
            var source = Enumerable.Range(0, length).Select(_ => (float)(random.NextDouble() * 40 - 20)).ToArray();
            var bias = Enumerable.Range(0, length).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();

            // x += bias with the maximum.
            var x = (float[])source.Clone();
            float max = NextKOutputLayer.AddMax(x, bias, vector512);
            var sums = source.Select((v, i) => v + bias[i]).ToArray();
            Assert.Equal(sums, x);
            Assert.Equal(length == 0 ? float.NegativeInfinity : sums.Max(), max);

            // bfloat16 widened, plus the bias, with the maximum.
            var bfloat16 = source.Select(v => (ushort)(BitConverter.SingleToUInt32Bits(v) >> 16)).ToArray();
            var widened = new float[length];
            max = NextKOutputLayer.WidenAddMax(bfloat16, bias, widened, vector512);
            var expectedWidened = bfloat16.Select((b, i) => BitConverter.UInt32BitsToSingle((uint)b << 16) + bias[i]).ToArray();
            Assert.Equal(expectedWidened, widened);
            Assert.Equal(length == 0 ? float.NegativeInfinity : expectedWidened.Max(), max);

            // exp(x − max) with its sum: within 2 ulp of MathF.Exp each.
            x = (float[])source.Clone();
            float shift = length == 0 ? 0 : source.Max();
            float total = NextKOutputLayer.ExpSum(x, shift, vector512);
            double expectedTotal = 0;
            for (int i = 0; i < length; i++)
            {
                float exact = MathF.Exp(source[i] - shift);
                expectedTotal += exact;
                Assert.True(Math.Abs(x[i] - exact) <= 2 * (MathF.BitIncrement(exact) - exact), $"length {length}: exp({source[i] - shift}) = {x[i]}, MathF.Exp {exact}");
            }
            Assert.True(Math.Abs(total - expectedTotal) <= 1e-5 * Math.Max(1, expectedTotal), $"length {length}: sum {total}, expected {expectedTotal}");

            // Scaled, accumulated, stored in bfloat16 (libtorch's cast), and without the stored row.
            foreach (bool store in new[] { true, false })
            {
                x = (float[])source.Clone();
                var accumulated = (float[])bias.Clone();
                var stored = new ushort[store ? length : 0];
                NextKOutputLayer.ScaleAccumulate(x, 0.3f, accumulated, stored, vector512);
                var scaled = source.Select(v => v * 0.3f).ToArray();
                Assert.Equal(scaled, x);
                Assert.Equal(scaled.Select((v, i) => bias[i] + v).ToArray(), accumulated);
                if (store)
                {
                    using var cast = tensor(scaled).to(ScalarType.BFloat16);
                    Assert.Equal(length == 0 ? Array.Empty<ushort>() : MemoryMarshalBits(cast), stored);
                }
            }
        }
    }

    [Theory]
    [InlineData(TrainingPrecision.Float32)]
    [InlineData(TrainingPrecision.BFloat16)]
    public void ANaNActivationGivesANaNLoss(TrainingPrecision precision)
    {
        // A diverged network must not train on as if nothing happened: the training loop stops on a non-finite loss.
        using var scope = NewDisposeScope();
        var (hidden, weight, bias, targets, weights) = Case(5, large: false, items: 37);
        hidden[3][2] = tensor(float.NaN);
        Assert.True(float.IsNaN(Fused(hidden, weight, bias, targets, weights, precision).Loss));
    }

    [Theory]
    [InlineData(TrainingPrecision.Float32, true)]
    [InlineData(TrainingPrecision.BFloat16, true)]
    [InlineData(TrainingPrecision.Float32, false)]
    [InlineData(TrainingPrecision.BFloat16, false)]
    public void ANaNWeightOfOneNonTargetItemGivesANaNLossAndNaNGradients(TrainingPrecision precision, bool vector512)
    {
        // The NaN sits in one column of the logits, inside the first 16 (the vector loops' first step), of an item that is
        // no target: only the vector loops' maximum, exp and sum carry it into the loss.
        using var scope = NewDisposeScope();
        var (hidden, weight, bias, targets, weights) = Case(5, large: false, items: 53);
        targets = targets.masked_fill(targets.eq(5), 6);
        weight[5][1] = tensor(float.NaN);
        var fused = WithVector512(vector512, () => Fused(hidden, weight, bias, targets, weights, precision));
        Assert.True(float.IsNaN(fused.Loss));
        Assert.True(fused.Weight.isnan().any().item<bool>());
    }

    [Fact]
    public void AUnitWithoutAValidTargetIsNamed()
    {
        using var scope = NewDisposeScope();
        var (hidden, weight, bias, targets, weights) = Case(4, large: false);
        weights[2].zero_();
        foreach (var precision in new[] { TrainingPrecision.Float32, TrainingPrecision.BFloat16 })
        {
            var error = Assert.Throws<ArgumentException>(() => NextKOutputLayer.MultiSetNll(hidden, weight, bias, targets, weights, precision));
            Assert.StartsWith("Row 2 of the next-k target weights has no valid target; every unit needs at least one.", error.Message);
        }
    }

    [Fact]
    public void AnEmptyTensorHasNoAddress()
    {
        using var scope = NewDisposeScope();
        var error = Assert.Throws<InvalidOperationException>(() => CpuTensorMemory.Address(zeros(0, 3)));
        Assert.Equal("A managed kernel needs a contiguous CPU buffer of at least one element; got Float32 [0, 3] on cpu.", error.Message);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void TheExpOfThePassIsMathFExpWithinTwoUlp(bool vector512)
    {
        // Every value the pass exponentiates is ≤ 0 (the row's maximum is subtracted first).
        vector512 &= NextKOutputLayer.UseVector512;
        var values = Enumerable.Range(0, 4001).Select(i => -i * 0.02f).Concat(new[] { -1e-7f, -0f, -86.5f, -86.6f }).ToArray();
        var row = (float[])values.Clone();
        float total = NextKOutputLayer.ExpSum(row, 0, vector512);
        double expected = 0;
        for (int i = 0; i < values.Length; i++)
        {
            float exact = MathF.Exp(values[i]);
            expected += exact;
            Assert.True(Math.Abs(row[i] - exact) <= 2 * MathF.BitIncrement(exact) - 2 * exact, $"exp({values[i]}) = {row[i]}, MathF.Exp {exact}");
        }
        Assert.Equal(expected, total, 1e-5 * expected);
        // Below −86.6 the result stays at exp(−86.6) (≈ 2.5e-38): nothing subnormal, in the vector loop and in the tail
        // (35 = 2·16 + 3), and in a row shorter than one vector; a NaN stays NaN.
        foreach (int length in new[] { 35, 5 })
        {
            var far = Enumerable.Repeat(-500f, length).ToArray();
            NextKOutputLayer.ExpSum(far, 0, vector512);
            Assert.All(far, v => Assert.True(v > 0 && float.IsNormal(v) && v < 3e-38f, $"{v}"));
            var nan = Enumerable.Repeat(-1f, length).ToArray();
            nan[length - 1] = float.NaN;
            Assert.True(float.IsNaN(NextKOutputLayer.ExpSum(nan, 0, vector512)));
        }
    }

    [Fact]
    public void BadTargetsAreNamed()
    {
        using var scope = NewDisposeScope();
        var (hidden, weight, bias, targets, weights) = Case(4, large: false);
        var shape = Assert.Throws<ArgumentException>(() => NextKOutputLayer.MultiSetNll(hidden, weight, bias, targets.narrow(0, 0, 3), weights.narrow(0, 0, 3),
            TrainingPrecision.Float32));
        Assert.StartsWith("The next-k targets and their weights must both be [P, k] with the P = 4 rows of the activations; got [3, 3] and [3, 3].", shape.Message);
        var mismatch = Assert.Throws<ArgumentException>(() => NextKOutputLayer.MultiSetNll(hidden, weight, bias, targets, weights.narrow(1, 0, 2),
            TrainingPrecision.Float32));
        Assert.StartsWith("The next-k targets and their weights must both be [P, k] with the P = 4 rows of the activations; got [4, 3] and [4, 2].", mismatch.Message);

        var outside = targets.clone();
        outside[2][1] = tensor(Items);
        var range = Assert.Throws<ArgumentOutOfRangeException>(() => NextKOutputLayer.MultiSetNll(hidden, weight, bias, outside, weights,
            TrainingPrecision.BFloat16));
        Assert.StartsWith($"Target 1 of row 2 is item {Items}, outside the output layer's {Items} items.", range.Message);
        outside[2][1] = tensor(-1L);
        Assert.Throws<ArgumentOutOfRangeException>(() => NextKOutputLayer.MultiSetNll(hidden, weight, bias, outside, weights, TrainingPrecision.Float32));
    }

    private static ushort[] MemoryMarshalBits(Tensor bfloat16)
        => System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ushort>(bfloat16.bytes).ToArray();

    /// <summary>Every element within <paramref name="tolerance"/> of max(1, the reference tensor's largest magnitude).</summary>
    private static void AssertClose(Tensor expected, Tensor actual, string what, double tolerance = 1e-5)
    {
        var e = expected.detach().contiguous().data<double>().ToArray();
        var a = actual.detach().contiguous().data<float>().ToArray();
        Assert.Equal(e.Length, a.Length);
        double scale = Math.Max(1, e.Max(Math.Abs));
        for (int i = 0; i < e.Length; i++)
            Assert.True(Math.Abs(e[i] - a[i]) <= tolerance * scale, $"{what}[{i}] expected {e[i]}, got {a[i]} (scale {scale})");
    }
}
