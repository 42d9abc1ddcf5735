using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Svae.Tests.Training;

public class GruSequenceTests
{
    /// <summary>A one-layer batch-first GRU initialised as the models do, from <paramref name="seed"/>.</summary>
    internal static GRU Gru(int input, int hidden, ulong seed)
    {
        var gru = nn.GRU(input, hidden, numLayers: 1, batchFirst: true);
        using var generator = new Generator(seed, CPU);
        RecurrentLayers.ResetGru(gru, hidden, generator);
        return gru;
    }

    /// <summary>
    /// libtorch's GRU on <paramref name="x"/>, backward from <paramref name="upstream"/>: the outputs, the input's gradient
    /// and each parameter's gradient (in <c>parameters()</c> order); the GRU's gradients are zeroed again after.
    /// </summary>
    internal static (Tensor Outputs, Tensor InputGradient, Tensor[] Gradients) TorchGru(GRU gru, Tensor x, Tensor upstream)
    {
        var input = x.clone().requires_grad_();
        var (outputs, _) = gru.call(input, null);
        outputs.backward([upstream]);
        var gradients = gru.parameters().Select(p => p.grad!.clone()).ToArray();
        gru.zero_grad();
        return (outputs, input.grad!, gradients);
    }

    [Theory]
    [InlineData(1, 1, 5, 4)]
    [InlineData(1, 6, 5, 4)]
    [InlineData(3, 1, 5, 4)]
    [InlineData(4, 7, 5, 4)]
    // H = 37: the step kernels' vector loops and their tails (3H = 111 gates per user), users at offsets that are not
    // multiples of the vector width.
    [InlineData(3, 5, 19, 37)]
    public void TheFusedGruHasTheValuesAndGradientsOfTorchGru(int batch, int positions, int inputSize, int hidden)
    {
        using var gru = Gru(inputSize, hidden, seed: 11);
        using var scope = NewDisposeScope();
        using var generator = new Generator(7 + (ulong)(batch * 10 + positions), CPU);
        // Right-padded: row b has positions − b valid positions (at least 1), zero embeddings after them, and the
        // upstream gradient is zero there (as a loss over valid positions gives), except in the last row.
        var lengths = Enumerable.Range(0, batch).Select(b => Math.Max(1, positions - b)).ToArray();
        var valid = zeros(batch, positions, 1);
        for (int b = 0; b < batch; b++)
            valid[b].narrow(0, 0, lengths[b]).fill_(1);
        var x = randn(new long[] { batch, positions, inputSize }, generator: generator).mul(valid);
        var upstream = randn(new long[] { batch, positions, hidden }, generator: generator);
        if (batch > 1)
            upstream[..(batch - 1)].mul_(valid[..(batch - 1)]);

        var (expected, expectedInputGradient, expectedGradients) = TorchGru(gru, x, upstream);

        var actualInput = x.clone().requires_grad_();
        var actual = GruSequence.Fused(gru, actualInput);
        actual.backward([upstream]);

        Assert.Equal(new long[] { batch, positions, hidden }, actual.shape);
        AssertClose(expected, actual);
        AssertClose(expectedInputGradient, actualInput.grad!);
        var names = gru.named_parameters().Select(p => p.name).ToArray();
        Assert.Equal(new[] { "weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0" }, names);
        var actualGradients = gru.parameters().Select(p => p.grad!).ToArray();
        for (int i = 0; i < names.Length; i++)
            AssertClose(expectedGradients[i], actualGradients[i], names[i]);
    }

    [Theory]
    [InlineData(TrainingPrecision.Float32, 3, 5, 37, true)]
    [InlineData(TrainingPrecision.Float32, 3, 1, 37, false)]
    [InlineData(TrainingPrecision.Float32, 8, 6, 200, true)]
    [InlineData(TrainingPrecision.Float32, 8, 1, 200, true)]
    [InlineData(TrainingPrecision.Float32, 8, 4, 200, false)]
    [InlineData(TrainingPrecision.BFloat16, 3, 5, 37, true)]
    [InlineData(TrainingPrecision.BFloat16, 3, 1, 37, false)]
    [InlineData(TrainingPrecision.BFloat16, 8, 6, 200, true)]
    [InlineData(TrainingPrecision.BFloat16, 8, 1, 200, true)]
    [InlineData(TrainingPrecision.BFloat16, 8, 4, 200, false)]
    public void TheFusedGruGivesSession9sBitsForTheOutputAndAllFiveGradients(TrainingPrecision precision, int batch, int positions, int hidden, bool vector512)
    {
        // The restructured fused GRU (row-by-row glue on spans, one backward pass per row, managed bfloat16 casts) against
        // session 9's fused GRU kept in the tests (Session9ReferenceGru: whole-tensor libtorch glue, factors for all steps
        // at once): equal bits for h_1..h_T and the gradients of the input, W_ih, W_hh, b_ih and b_hh, at I = 256 (SVAE's
        // embedding width), H = 37 (rows off every vector width) and 200 (SVAE's), one position and several, on the
        // 512-bit and the Vector<T> paths.
        const int inputSize = 256;
        using var gru = Gru(inputSize, hidden, seed: 29);
        using var scope = NewDisposeScope();
        using var generator = new Generator(31 + (ulong)(batch * 100 + positions * 10 + hidden), CPU);
        var x = randn(new long[] { batch, positions, inputSize }, generator: generator);
        var upstream = randn(new long[] { batch, positions, hidden }, generator: generator);

        float[][] Run(Func<Tensor, Tensor> gruOf)
        {
            var input = x.clone().requires_grad_();
            var output = gruOf(input);
            output.backward([upstream]);
            var results = new List<float[]> { output.detach().contiguous().data<float>().ToArray(), input.grad!.contiguous().data<float>().ToArray() };
            results.AddRange(gru.parameters().Select(p => p.grad!.contiguous().data<float>().ToArray()));
            gru.zero_grad();
            return results.ToArray();
        }

        var expected = Run(input => Session9ReferenceGru.Apply(gru, input, precision == TrainingPrecision.BFloat16));
        float[][] actual;
        GruStepKernels.UseVector512 = vector512;
        try
        {
            actual = Run(input => GruSequence.Fused(gru, input, precision));
        }
        finally
        {
            GruStepKernels.UseVector512 = true;
        }

        var what = new[] { "output", "input gradient", "W_ih gradient", "W_hh gradient", "b_ih gradient", "b_hh gradient" };
        Assert.Equal(what.Length, expected.Length);
        Assert.Equal(what.Length, actual.Length);
        Assert.Equal(batch * positions * hidden, expected[0].Length);
        for (int k = 0; k < what.Length; k++)
        {
            Assert.Equal(expected[k].Length, actual[k].Length);
            int mismatch = Enumerable.Range(0, expected[k].Length)
                .FirstOrDefault(j => BitConverter.SingleToInt32Bits(expected[k][j]) != BitConverter.SingleToInt32Bits(actual[k][j]), -1);
            Assert.True(mismatch < 0, $"{what[k]}[{mismatch}]: session 9 gave {(mismatch < 0 ? 0 : expected[k][mismatch]):R}, the fused GRU {(mismatch < 0 ? 0 : actual[k][mismatch]):R}");
        }
    }

    [Fact]
    public void BackwardWorksAfterTheForwardsScopeIsDisposedAndCollected()
    {
        // As in the models: the forward runs in its own dispose scope, only the output leaves it, and the handles of
        // everything else (the saved buffers included) are gone before backward runs.
        using var gru = Gru(5, 4, seed: 3);
        using var scope = NewDisposeScope();
        using var generator = new Generator(5, CPU);
        var x = randn(new long[] { 2, 6, 5 }, generator: generator);
        var upstream = randn(new long[] { 2, 6, 4 }, generator: generator);
        var (expected, _) = gru.call(x, null);
        expected.backward([upstream]);
        var expectedGradients = gru.parameters().Select(p => p.grad!.clone()).ToArray();
        gru.zero_grad();

        Tensor actual;
        using (NewDisposeScope())
            actual = GruSequence.Fused(gru, x.mul(1)).MoveToOuterDisposeScope();
        GC.Collect();
        GC.WaitForPendingFinalizers();
        actual.backward([upstream]);
        AssertClose(expected, actual);
        var actualGradients = gru.parameters().Select(p => p.grad!).ToArray();
        for (int i = 0; i < actualGradients.Length; i++)
            AssertClose(expectedGradients[i], actualGradients[i], $"parameter {i}");
    }

    [Fact]
    public void OneCellTwoStepsByHand()
    {
        // I = H = 1: W_ih = (r, z, n) = (0.5, −1, 2), W_hh = (1, 0.5, −0.5), b_ih = (0.1, 0, −0.2), b_hh = (0, 0.3, 0.4).
        using var gru = nn.GRU(1, 1, numLayers: 1, batchFirst: true);
        using (no_grad())
        {
            gru.get_parameter("weight_ih_l0")!.copy_(tensor(new float[] { 0.5f, -1, 2 }).view(3, 1));
            gru.get_parameter("weight_hh_l0")!.copy_(tensor(new float[] { 1, 0.5f, -0.5f }).view(3, 1));
            gru.get_parameter("bias_ih_l0")!.copy_(tensor(new float[] { 0.1f, 0, -0.2f }));
            gru.get_parameter("bias_hh_l0")!.copy_(tensor(new float[] { 0, 0.3f, 0.4f }));
        }
        using var scope = NewDisposeScope();
        var x = tensor(new float[] { 1, -2 }, new long[] { 1, 2, 1 }).requires_grad_();
        var outputs = GruSequence.Fused(gru, x);

        static double Sigmoid(double v) => 1 / (1 + Math.Exp(-v));
        double h = 0;
        var expected = new List<double>();
        foreach (double input in new[] { 1.0, -2.0 })
        {
            double r = Sigmoid(0.5 * input + 0.1 + 1 * h + 0);
            double z = Sigmoid(-1 * input + 0 + 0.5 * h + 0.3);
            double n = Math.Tanh(2 * input - 0.2 + r * (-0.5 * h + 0.4));
            h = (1 - z) * n + z * h;
            expected.Add(h);
        }
        var values = outputs.data<float>().ToArray();
        Assert.Equal(expected[0], values[0], 1e-6);
        Assert.Equal(expected[1], values[1], 1e-6);

        // ∂h_2/∂b_hh,z by a central difference of the same formula in doubles.
        outputs.select(1, 1).sum().backward();
        double H2(double bz)
        {
            double state = 0;
            foreach (double input in new[] { 1.0, -2.0 })
            {
                double r = Sigmoid(0.5 * input + 0.1 + state);
                double z = Sigmoid(-input + 0.5 * state + bz);
                double n = Math.Tanh(2 * input - 0.2 + r * (-0.5 * state + 0.4));
                state = (1 - z) * n + z * state;
            }
            return state;
        }
        double numeric = (H2(0.3 + 1e-6) - H2(0.3 - 1e-6)) / 2e-6;
        Assert.Equal(numeric, gru.get_parameter("bias_hh_l0")!.grad![1].item<float>(), 1e-5);
    }

    [Fact]
    public void ABackwardPassThroughARetainedGraphCanRunTwice()
    {
        using var gru = Gru(3, 2, seed: 5);
        using var scope = NewDisposeScope();
        using var generator = new Generator(3, CPU);
        var x = randn(new long[] { 2, 4, 3 }, generator: generator).requires_grad_();
        var loss = GruSequence.Fused(gru, x).square().sum();
        loss.backward(retain_graph: true);
        var once = x.grad!.clone();
        loss.backward();
        AssertClose(once * 2, x.grad!);
    }

    [Fact]
    public void ForwardTakesTheFusedPathOnlyWhileAutogradRecordsOnTheCpu()
    {
        using var gru = Gru(3, 2, seed: 5);
        using var scope = NewDisposeScope();
        var x = randn(2, 3, 3).requires_grad_();
        Assert.True(GruSequence.TakesFusedPath(x));
        Assert.False(GruSequence.TakesFusedPath(zeros(2, 0, 3)));
        using (no_grad())
        {
            Assert.False(GruSequence.TakesFusedPath(x));
            // The module itself runs then: the same values as gru.call, bit for bit.
            var (expected, _) = gru.call(x, null);
            Assert.Equal(expected.data<float>().ToArray(), GruSequence.Forward(gru, x).data<float>().ToArray());
        }
        // While autograd records, Forward is the fused GRU.
        Assert.Equal(GruSequence.Fused(gru, x).detach().data<float>().ToArray(), GruSequence.Forward(gru, x).detach().data<float>().ToArray());
    }

    [Fact]
    public void BadInputsAreRejectedWithTheExpectedShape()
    {
        using var gru = Gru(3, 2, seed: 5);
        using var twoLayers = nn.GRU(3, 2, numLayers: 2, batchFirst: true);
        using var scope = NewDisposeScope();
        var wrongSize = Assert.Throws<ArgumentException>(() => GruSequence.Fused(gru, zeros(2, 4, 5)));
        Assert.Equal("The GRU's input must be [batch, positions ≥ 1, 3]; got [2, 4, 5]. (Parameter 'input')", wrongSize.Message);
        var twoDimensional = Assert.Throws<ArgumentException>(() => GruSequence.Fused(gru, zeros(4, 3)));
        Assert.Equal("The GRU's input must be [batch, positions ≥ 1, 3]; got [4, 3]. (Parameter 'input')", twoDimensional.Message);
        var stacked = Assert.Throws<ArgumentException>(() => GruSequence.Fused(twoLayers, zeros(2, 4, 3)));
        Assert.Equal("The fused GRU runs one unidirectional layer only. (Parameter 'gru')", stacked.Message);
    }

    [Fact]
    public void TheFusedGrusOperationPathForOtherNumberFormatsHasTheValuesAndGradientsOfTorchGru()
    {
        // float64 parameters take the per-step libtorch operations instead of the float32 span kernels.
        using var gru = Gru(5, 4, seed: 13);
        gru.to(ScalarType.Float64);
        using var scope = NewDisposeScope();
        using var generator = new Generator(17, CPU);
        var x = randn(new long[] { 3, 6, 5 }, generator: generator).to(ScalarType.Float64);
        var upstream = randn(new long[] { 3, 6, 4 }, generator: generator).to(ScalarType.Float64);
        var (expected, expectedInputGradient, expectedGradients) = TorchGru(gru, x, upstream);

        var actualInput = x.clone().requires_grad_();
        var actual = GruSequence.Fused(gru, actualInput);
        actual.backward([upstream]);

        Assert.Equal(ScalarType.Float64, actual.dtype);
        AssertClose(expected.to(ScalarType.Float32), actual.to(ScalarType.Float32));
        AssertClose(expectedInputGradient.to(ScalarType.Float32), actualInput.grad!.to(ScalarType.Float32));
        var actualGradients = gru.parameters().Select(p => p.grad!).ToArray();
        for (int i = 0; i < actualGradients.Length; i++)
            AssertClose(expectedGradients[i].to(ScalarType.Float32), actualGradients[i].to(ScalarType.Float32), $"parameter {i}");
    }

    [Fact]
    public void ACpuTensorMemorySpanIsTheTensorsOwnMemory()
    {
        using var scope = NewDisposeScope();
        var tensor = zeros(2, 3);
        var values = CpuTensorMemory.Floats(tensor);
        Assert.Equal(6, values.Length);
        values[4] = 7;
        Assert.Equal(7f, tensor[1, 1].item<float>());
        tensor.fill_(2);
        Assert.Equal(2f, CpuTensorMemory.Floats(tensor)[5]);
    }

    [Fact]
    public void CpuTensorMemoryTakesOnlyContiguousFloat32CpuTensors()
    {
        using var scope = NewDisposeScope();
        Assert.True(CpuTensorMemory.SpansFloats(zeros(2, 3)));
        Assert.False(CpuTensorMemory.SpansFloats(zeros(2, 3).t()));
        Assert.False(CpuTensorMemory.SpansFloats(zeros(new long[] { 2, 3 }, ScalarType.Float64)));
        var error = Assert.Throws<ArgumentException>(() => CpuTensorMemory.Floats(zeros(2, 3).t()));
        Assert.StartsWith("A span needs a contiguous float32 tensor of at most 2 GB in CPU memory; got Float32 [3, 2] on cpu, not contiguous.", error.Message);
    }

    private static void AssertClose(Tensor expected, Tensor actual, string what = "")
    {
        var e = expected.detach().contiguous().data<float>().ToArray();
        var a = actual.detach().contiguous().data<float>().ToArray();
        Assert.Equal(e.Length, a.Length);
        for (int i = 0; i < e.Length; i++)
            Assert.True(Math.Abs(e[i] - a[i]) <= 1e-5f * Math.Max(1, Math.Abs(e[i])), $"{what}[{i}] expected {e[i]}, got {a[i]}");
    }
}
