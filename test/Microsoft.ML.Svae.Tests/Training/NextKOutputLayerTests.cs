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
    [InlineData(1, false, Items)]
    [InlineData(5, false, Items)]
    [InlineData(70, false, Items)]     // 9 blocks of 8 rows
    [InlineData(301, false, Items)]    // 16 blocks of 19 rows
    [InlineData(70, false, 37)]        // rows longer than the vector loops' steps, with a tail
    [InlineData(1, true, Items)]
    [InlineData(40, true, 37)]
    public void TheFusedPassHasTheLossAndGradientsOfAFloat64LinearLogSoftmaxGather(int rows, bool large, int items)
    {
        using var scope = NewDisposeScope();
        var (hidden, weight, bias, targets, weights) = Case(rows, large, items);
        Assert.True(NextKOutputLayer.TakesFusedPath(hidden, weight, bias, targets, weights));
        if (large)
            Assert.True(hidden.mm(weight.t()).add(bias).abs().max().item<float>() >= 1000);
        var expected = Reference(hidden, weight, bias, targets, weights);
        var actual = Fused(hidden, weight, bias, targets, weights);

        Assert.True(double.IsFinite(actual.Loss));
        Assert.True(Math.Abs(expected.Loss - actual.Loss) <= 1e-5 * Math.Max(1, Math.Abs(expected.Loss)), $"loss {actual.Loss} against {expected.Loss}");
        AssertClose(expected.Hidden, actual.Hidden, "∂a");
        AssertClose(expected.Weight, actual.Weight, "∂W");
        AssertClose(expected.Bias, actual.Bias, "∂b");
    }

    [Theory]
    [InlineData(1, Items)]
    [InlineData(70, 37)]
    [InlineData(301, 37)]
    public void TheBFloat16PassIsTheFloat64ReferenceWithinBFloat16Rounding(int rows, int items)
    {
        // TrainingPrecisionTests derives the bound: 2⁻⁶ of a tensor's scale; here the scale is its largest element.
        using var scope = NewDisposeScope();
        var (hidden, weight, bias, targets, weights) = Case(rows, large: false, items);
        var expected = Reference(hidden, weight, bias, targets, weights);
        var actual = Fused(hidden, weight, bias, targets, weights, TrainingPrecision.BFloat16);

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
        int before = get_num_threads();
        try
        {
            set_num_threads(1);
            var one = Fused(hidden, weight, bias, targets, weights, precision);
            set_num_threads(2);
            var two = Fused(hidden, weight, bias, targets, weights, precision);
            Assert.Equal(BitConverter.SingleToInt32Bits(one.Loss), BitConverter.SingleToInt32Bits(two.Loss));
            Assert.Equal(one.Hidden.data<float>().ToArray(), two.Hidden.data<float>().ToArray());
            Assert.Equal(one.Weight.data<float>().ToArray(), two.Weight.data<float>().ToArray());
            Assert.Equal(one.Bias.data<float>().ToArray(), two.Bias.data<float>().ToArray());
        }
        finally
        {
            set_num_threads(before);
        }
    }

    [Fact]
    public void TheBFloat16RoundingIsLibTorchsCast()
    {
        // Random values of many magnitudes, values halfway between two bfloat16 numbers (ties to even, both ways), and
        // the row's tail that the vector loop leaves to the scalar one (an odd length).
        using var scope = NewDisposeScope();
        using var generator = new Generator(3, CPU);
        var random = randn(new long[] { 997 }, generator: generator) * exp(randn(new long[] { 997 }, generator: generator) * 5);
        var values = random.data<float>().ToArray().Concat(new[] { 1.00390625f, 1.01171875f, -1.00390625f, 0f, -0f, 1e-40f, 3.3895e38f }).ToArray();
        var expected = MemoryMarshalBits(tensor(values).to(ScalarType.BFloat16));
        var actual = new ushort[values.Length];
        NextKOutputLayer.SingleToBFloat16(values, actual);
        Assert.Equal(expected, actual);

        // The pass's other kernels: bfloat16 read back (plus a zero bias) with its maximum, and the scaled row written in
        // bfloat16 while it is added into an accumulator.
        var back = new float[values.Length];
        float max = NextKOutputLayer.WidenAddMax(actual, new float[values.Length], back);
        var widened = tensor(values).to(ScalarType.BFloat16).to(ScalarType.Float32).data<float>().ToArray();
        Assert.Equal(widened, back);
        Assert.Equal(widened.Max(), max);

        var scaled = values.Select(v => v * 0.75f).ToArray();
        var row = (float[])values.Clone();
        var accumulated = Enumerable.Repeat(1f, values.Length).ToArray();
        var stored = new ushort[values.Length];
        NextKOutputLayer.ScaleAccumulate(row, 0.75f, accumulated, stored);
        Assert.Equal(scaled, row);
        Assert.Equal(scaled.Select(v => 1f + v).ToArray(), accumulated);
        Assert.Equal(MemoryMarshalBits(tensor(scaled).to(ScalarType.BFloat16)), stored);
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

    [Fact]
    public void TheExpOfThePassIsMathFExpWithinTwoUlp()
    {
        // Every value the pass exponentiates is ≤ 0 (the row's maximum is subtracted first).
        var values = Enumerable.Range(0, 4001).Select(i => -i * 0.02f).Concat(new[] { -1e-7f, -0f, -86.5f, -86.6f }).ToArray();
        var row = (float[])values.Clone();
        float total = NextKOutputLayer.ExpSum(row, 0);
        double expected = 0;
        for (int i = 0; i < values.Length; i++)
        {
            float exact = MathF.Exp(values[i]);
            expected += exact;
            Assert.True(Math.Abs(row[i] - exact) <= 2 * MathF.BitIncrement(exact) - 2 * exact, $"exp({values[i]}) = {row[i]}, MathF.Exp {exact}");
        }
        Assert.Equal(expected, total, 1e-5 * expected);
        // Below −86.6 the result stays at exp(−86.6) (≈ 2.5e-38): nothing subnormal.
        var far = Enumerable.Repeat(-500f, 32).ToArray();
        NextKOutputLayer.ExpSum(far, 0);
        Assert.All(far, v => Assert.True(v > 0 && float.IsNormal(v) && v < 3e-38f, $"{v}"));
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
