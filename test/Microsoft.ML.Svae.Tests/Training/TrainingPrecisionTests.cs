using System.Collections.Concurrent;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Svae.Tests.Training;

/// <summary>
/// SVAE's <see cref="SvaeTrainer.Options.TrainingPrecision"/> (issue 16): the output layer + next-k loss function
/// (<see cref="NextKOutputLayer"/>) and the fused GRU with bfloat16 products, against float32 references.
/// </summary>
/// <remarks>
/// The bfloat16 tolerance: bfloat16 keeps 8 significant bits, so rounding an operand or a product's result moves it by
/// at most 2⁻⁹ of its magnitude. A product's element then moves by at most about 3·2⁻⁹ (two rounded operands, one
/// rounded result) of the sum of the absolute values of its terms, and a gradient that goes through two such products
/// (the loss's gradient from the rounded logits, then G·W) by about twice that: under 2⁻⁶ of the scale
/// Σ|terms|. The tests check every element against 2⁻⁶ of its own scale (computed in float32 from the reference),
/// which is about a hundred times the float32 rounding and a fraction of any real error (a wrong operand, sign or
/// index moves an element by the size of its scale).
/// </remarks>
public class TrainingPrecisionTests
{
    private const double BFloat16Tolerance = 1.0 / 64;

    private static (Tensor Hidden, Linear Output, Tensor Targets, Tensor Weights) OutputLayerCase(int rows)
    {
        const int inner = 6, items = 9, k = 3;
        using var generator = new Generator(13 + (ulong)rows, CPU);
        var hidden = randn(new long[] { rows, inner }, generator: generator).tanh();
        var output = nn.Linear(inner, items);
        using (no_grad())
        {
            output.weight!.copy_(randn(new long[] { items, inner }, generator: generator));
            output.bias!.copy_(randn(new long[] { items }, generator: generator));
        }
        var targets = randint(0, items, new long[] { rows, k }, generator: generator);
        // Row r has 1 + r % k valid targets.
        var weights = zeros(rows, k);
        for (int r = 0; r < rows; r++)
            weights[r].narrow(0, 0, 1 + r % k).fill_(1);
        return (hidden, output, targets, weights);
    }

    /// <summary>Float32: Linear, then log_softmax → gather, by autograd.</summary>
    private static (float Loss, Tensor Hidden, Tensor Weight, Tensor Bias) Reference(Tensor hidden, Linear output, Tensor targets, Tensor weights)
    {
        var input = hidden.detach().clone().requires_grad_();
        output.zero_grad();
        var logits = output.call(input);
        var expected = -((logits.log_softmax(1).gather(1, targets) * weights).sum(1) / weights.sum(1)).sum();
        (expected * 2).backward();
        return (expected.item<float>(), input.grad!.clone(), output.weight!.grad!.clone(), output.bias!.grad!.clone());
    }

    private static (float Loss, Tensor Hidden, Tensor Weight, Tensor Bias) Fused(Tensor hidden, Linear output, Tensor targets, Tensor weights,
        TrainingPrecision precision)
    {
        var input = hidden.detach().clone().requires_grad_();
        output.zero_grad();
        var loss = NextKOutputLayer.MultiSetNll(input, output.weight!, output.bias!, targets, weights, precision);
        (loss * 2).backward();
        Assert.Equal(ScalarType.Float32, input.grad!.dtype);
        Assert.Equal(ScalarType.Float32, output.weight!.grad!.dtype);
        return (loss.item<float>(), input.grad!.clone(), output.weight!.grad!.clone(), output.bias!.grad!.clone());
    }

    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    [InlineData(70)]
    public void TheOutputLayerFunctionInFloat32HasTheValueAndGradientsOfLinearThenTheLoss(int rows)
    {
        using var scope = NewDisposeScope();
        var (hidden, output, targets, weights) = OutputLayerCase(rows);
        using var ownedOutput = output;
        var expected = Reference(hidden, output, targets, weights);
        var actual = Fused(hidden, output, targets, weights, TrainingPrecision.Float32);

        // The managed pass sums the loss in another order than log_softmax then gather: equal to float32 rounding.
        Assert.Equal(expected.Loss, actual.Loss, 1e-5 * Math.Max(1, Math.Abs(expected.Loss)));
        AssertWithin(expected.Hidden, actual.Hidden, 1e-5, "∂a");
        AssertWithin(expected.Weight, actual.Weight, 1e-5, "∂W");
        AssertWithin(expected.Bias, actual.Bias, 1e-5, "∂b");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    [InlineData(64)]
    [InlineData(70)]
    public void TheOutputLayerFunctionInBFloat16IsTheFloat32OneWithinBFloat16Rounding(int rows)
    {
        using var scope = NewDisposeScope();
        var (hidden, output, targets, weights) = OutputLayerCase(rows);
        using var ownedOutput = output;
        var expected = Reference(hidden, output, targets, weights);
        var actual = Fused(hidden, output, targets, weights, TrainingPrecision.BFloat16);

        // The loss: each logit moves by at most 3·2⁻⁹ Σ_d |a_d W_nd|, the NLL of a row by at most twice its largest move.
        double logitScale = hidden.abs().mm(output.weight!.detach().abs().t()).max().item<float>();
        Assert.True(Math.Abs(expected.Loss - actual.Loss) <= rows * 2 * 3.0 / 512 * logitScale,
            $"loss {actual.Loss} against {expected.Loss}");
        // bfloat16 products, not float32 ones: the value differs from float32's.
        Assert.NotEqual(expected.Loss, actual.Loss);

        // Scales Σ|terms| of each gradient element, from the float32 gradient at the logits G (the loss is linear in it).
        var logits = output.call(hidden);
        var g = (logits.softmax(1) * (weights / weights.sum(1, keepdim: true)).sum(1, keepdim: true)
            - zeros_like(logits).scatter_add(1, targets, weights / weights.sum(1, keepdim: true))).mul(2).detach().abs();
        AssertWithinScale(expected.Hidden, actual.Hidden, g.mm(output.weight!.detach().abs()), "∂a");
        AssertWithinScale(expected.Weight, actual.Weight, g.t().mm(hidden.abs()), "∂W");
        // ∂b = Σ_s G_s in float32; G itself moves with the softmax of the rounded logits.
        AssertWithinScale(expected.Bias, actual.Bias, g.sum(0L), "∂b");
    }

    [Theory]
    [InlineData(NextKLikelihood.MultiSet)]
    [InlineData(NextKLikelihood.Mixture)]
    public void SvaesBFloat16LossHasTheFloat32LossAndEveryGradientWithinRounding(NextKLikelihood likelihood)
    {
        // The wiring of SvaeObjective: the same network and batch, z = μ, each parameter's gradient both ways. A term
        // lost in the bfloat16 path (e.g. the output bias) would be off by its whole size.
        int[][] users = [[3, 7, 1, 9, 9, 2], [4, 5], [5, 6, 0, 2], [0, 11, 10, 3, 8, 8, 1]];
        using var network = new SvaeNetwork(12, 8, 10, 9, 4, 7, seed: 3);
        network.eval();
        var data = TinySequences.FromArrays(12, users);
        var batcher = new SequenceBatcher(data, 8, 100);
        using var scope = NewDisposeScope();
        var batch = batcher.Pack([0, 1, 2, 3], CPU);

        (double Loss, Dictionary<string, Tensor> Gradients) Run(TrainingPrecision precision)
        {
            network.zero_grad();
            var loss = SvaeObjective.Loss(network, batch, 3, likelihood, 0.3, precision);
            loss.backward();
            return (loss.item<float>(), network.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad!.clone()));
        }
        var (expectedLoss, expected) = Run(TrainingPrecision.Float32);
        var (actualLoss, actual) = Run(TrainingPrecision.BFloat16);

        Assert.NotEqual(expectedLoss, actualLoss);
        Assert.Equal(expectedLoss, actualLoss, 0.02 * Math.Abs(expectedLoss));
        Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
        foreach (var (name, gradient) in expected)
        {
            double scale = Math.Max(1e-3, gradient.abs().max().item<float>());
            double difference = actual[name].sub(gradient).abs().max().item<float>();
            Assert.True(difference <= 0.1 * scale, $"{likelihood}, {name}: the gradients differ by {difference} (largest float32 element {scale})");
        }
    }

    [Fact]
    public void TheOutputLayerFunctionNamesTheShapesItNeeds()
    {
        using var scope = NewDisposeScope();
        var error = Assert.Throws<ArgumentException>(() => NextKOutputLayer.MultiSetNll(zeros(4, 3), zeros(9, 5), zeros(9),
            zeros(4, 2, ScalarType.Int64), ones(4, 2), TrainingPrecision.BFloat16));
        Assert.StartsWith("The output layer needs activations [P, D], weights [N, D] and a bias [N]; got [4, 3], [9, 5] and [9].", error.Message);
    }

    [Theory]
    [InlineData(1, 1, 6, 5)]
    [InlineData(4, 7, 6, 5)]
    [InlineData(8, 8, 6, 5)]
    [InlineData(9, 8, 6, 5)]
    [InlineData(3, 5, 19, 37)]
    public void TheFusedGruInBFloat16IsTorchGruWithinBFloat16Rounding(int batch, int positions, int inputSize, int hidden)
    {
        using var gru = GruSequenceTests.Gru(inputSize, hidden, seed: 11);
        using var scope = NewDisposeScope();
        using var generator = new Generator(17, CPU);
        var x = randn(new long[] { batch, positions, inputSize }, generator: generator);
        var upstream = randn(new long[] { batch, positions, hidden }, generator: generator);
        var (expected, expectedInputGradient, expectedGradients) = GruSequenceTests.TorchGru(gru, x, upstream);

        var actualInput = x.clone().requires_grad_();
        var actual = GruSequence.Fused(gru, actualInput, TrainingPrecision.BFloat16);
        actual.backward([upstream]);

        Assert.Equal(ScalarType.Float32, actual.dtype);
        Assert.Equal(new long[] { batch, positions, hidden }, actual.shape);
        // Not float32's result (the products were bfloat16), but within bfloat16's rounding of it. The outputs and the
        // gradients are checked against 2⁻⁶ of the largest element of each reference tensor: the GRU's recursion mixes
        // every element of a position's projection into every output after it.
        Assert.NotEqual(expected.detach().data<float>().ToArray(), actual.detach().data<float>().ToArray());
        AssertWithinLargest(expected, actual, "outputs");
        AssertWithinLargest(expectedInputGradient, actualInput.grad!, "∂x");
        var names = gru.named_parameters().Select(p => p.name).ToArray();
        var actualGradients = gru.parameters().Select(p => p.grad!).ToArray();
        for (int i = 0; i < names.Length; i++)
        {
            Assert.Equal(ScalarType.Float32, actualGradients[i].dtype);
            AssertWithinLargest(expectedGradients[i], actualGradients[i], names[i]);
        }
    }

    [Fact]
    public void SvaeLearnsTheCycleWithBFloat16ProductsAndBeatsPopularity()
    {
        var train = TinySequences.Cycle(users: 60, items: 30, minLength: 8, maxLength: 20, noise: 0.1, seed: 1);
        var (foldIn, foldOut) = TinySequences.Split(TinySequences.Cycle(users: 30, items: 30, minLength: 8, maxLength: 20, noise: 0.1, seed: 2));
        var context = new MLContext(seed: 1);
        var messages = new ConcurrentQueue<string>();
        context.Log += (_, e) => messages.Enqueue(e.Message);
        var options = TinySequences.SmallOptions(epochs: 15);
        options.TrainingPrecision = TrainingPrecision.BFloat16;
        using var trained = context.Recommendation().Trainers.Svae(options).TrainModel(new TrainingData(train, foldIn, foldOut));
        var result = trained.Result;

        Assert.All(result.History, e => Assert.True(double.IsFinite(e.TrainingLoss)));
        Assert.True(result.History[^1].TrainingLoss < 0.7 * result.History[0].TrainingLoss,
            $"loss {result.History[0].TrainingLoss} → {result.History[^1].TrainingLoss}");
        var top = SequenceScoring.TopItems(trained.Model, foldIn, 10, CPU);
        var svae = RecommendationEvaluator.Compute(top, 10, foldIn, foldOut, [10]);
        var popularity = RecommendationEvaluator.Compute(SvaeTrainingTests.PopularityTop(ItemCounts.Of(train), foldIn, 10), 10, foldIn, foldOut, [10]);
        Assert.True(svae.Ndcg(10) > popularity.Ndcg(10) + 0.2, $"SVAE NDCG@10 {svae.Ndcg(10)} vs popularity {popularity.Ndcg(10)}");
        // The parameters stay float32.
        Assert.All(trained.Model.Module.parameters(), p => Assert.Equal(ScalarType.Float32, p.dtype));
        Assert.Contains(messages, m => m.Contains("(Pooled); bfloat16 matrix products (float32 weights); ", StringComparison.Ordinal));
        // The hardware warning appears exactly when this machine's CPU flags lack bfloat16.
        Assert.Equal(BFloat16Hardware.Present == false, messages.Any(m => m.Contains("lists neither avx512_bf16 nor amx_bf16", StringComparison.Ordinal)));
    }

    [Fact]
    public void SeededBFloat16TrainingIsReproducibleAndDiffersFromFloat32()
    {
        var train = TinySequences.Cycle(users: 24, items: 12, minLength: 5, maxLength: 12, noise: 0.1, seed: 3);
        float[] Weights(TrainingPrecision precision)
        {
            var options = TinySequences.SmallOptions(epochs: 2);
            options.TrainingPrecision = precision;
            using var trained = new MLContext(1).Recommendation().Trainers.Svae(options).TrainModel(new TrainingData(train, null, null));
            return ((SvaeModel)trained.Model).Network.decoderOut.weight!.data<float>().ToArray();
        }

        var first = Weights(TrainingPrecision.BFloat16);
        Assert.Equal(first, Weights(TrainingPrecision.BFloat16));
        Assert.NotEqual(first, Weights(TrainingPrecision.Float32));
    }

    [Fact]
    public void TheOpeningLogLineNamesFloat32ByDefault()
    {
        var train = TinySequences.Cycle(users: 12, items: 10, minLength: 4, maxLength: 6, noise: 0, seed: 1);
        var context = new MLContext(seed: 1);
        var messages = new ConcurrentQueue<string>();
        context.Log += (_, e) => messages.Enqueue(e.Message);
        var options = TinySequences.SmallOptions(epochs: 1);
        Assert.Equal(TrainingPrecision.Float32, options.TrainingPrecision);
        using var trained = context.Recommendation().Trainers.Svae(options).TrainModel(new TrainingData(train, null, null));
        Assert.Contains(messages, m => m.Contains("(Pooled); float32 matrix products; ", StringComparison.Ordinal));
    }

    [Fact]
    public void ACheckpointFromBeforeTrainingPrecisionResumesAtFloat32Only()
    {
        // A checkpoint written before TrainingPrecision existed has no such key; Float32 (the default) trains as before.
        var current = new SvaeTrainer.Options();
        string defaults = TrainingCheckpoint.SerializeOptions(new SvaeTrainer.Options());
        var saved = System.Text.Json.Nodes.JsonNode.Parse(TrainingCheckpoint.SerializeOptions(current))!.AsObject();
        Assert.Equal("\"Float32\"", saved[nameof(SvaeTrainer.Options.TrainingPrecision)]!.ToJsonString());
        Assert.True(saved.Remove(nameof(SvaeTrainer.Options.TrainingPrecision)));
        string old = saved.ToJsonString();
        List<string> Differences() => TrainingCheckpoint.OptionDifferences(old, TrainingCheckpoint.SerializeOptions(current), defaults);
        Assert.Empty(Differences());

        current.TrainingPrecision = TrainingPrecision.BFloat16;
        Assert.Equal(new[] { "TrainingPrecision: (absent) in the checkpoint, \"BFloat16\" now" }, Differences());
    }

    [Fact]
    public void TheSweepLeavesThePrecisionAloneAndValidationNamesBothValues()
    {
        // Not a hyperparameter (it changes speed, and only on some CPUs, not the model): a sweep keeps the value it starts from.
        var space = new OptionsSearchSpace<SvaeTrainer.Options>();
        Assert.DoesNotContain(space.Options, o => o.Name == "TrainingPrecision");
        var random = new Random(3);
        var start = new SvaeTrainer.Options { TrainingPrecision = TrainingPrecision.BFloat16 };
        Assert.All(Enumerable.Range(0, 10), _ => Assert.Equal(TrainingPrecision.BFloat16, space.Sample(random, start).TrainingPrecision));

        var options = new SvaeTrainer.Options { TrainingPrecision = (TrainingPrecision)7 };
        var error = Assert.Throws<ArgumentOutOfRangeException>(options.Validate);
        Assert.StartsWith("TrainingPrecision must be Float32 or BFloat16.", error.Message);
    }

    [Fact]
    public void BFloat16HardwareIsReadFromTheCpuFlags()
    {
        const string amx = "processor\t: 0\nflags\t\t: fpu sse2 avx512f amx_bf16 amx_tile\n\nprocessor\t: 1\nflags\t\t: fpu sse2 avx512f amx_bf16 amx_tile\n";
        const string avx512Bf16 = "processor\t: 0\nflags\t\t: fpu avx512f avx512_bf16\n";
        const string none = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_vnni\nbugs\t\t: spectre_v1\n";
        Assert.True(BFloat16Hardware.FromCpuInfo(amx));
        Assert.True(BFloat16Hardware.FromCpuInfo(avx512Bf16));
        Assert.False(BFloat16Hardware.FromCpuInfo(none));
        Assert.Null(BFloat16Hardware.FromCpuInfo("Processor\t: ARMv7\nFeatures\t: neon\n"));

        // CPUID: AMX-BF16 is leaf 7 EDX bit 22, AVX512-BF16 leaf 7 sub-leaf 1 EAX bit 5.
        Assert.True(BFloat16Hardware.FromCpuid(1 << 22, 0));
        Assert.True(BFloat16Hardware.FromCpuid(0, 1 << 5));
        Assert.False(BFloat16Hardware.FromCpuid(~(1 << 22), ~(1 << 5)));
        // Where both are readable, CPUID and Linux's flags agree about this machine.
        if (System.Runtime.Intrinsics.X86.X86Base.IsSupported && OperatingSystem.IsLinux() && File.Exists("/proc/cpuinfo"))
            Assert.Equal(BFloat16Hardware.FromCpuInfo(File.ReadAllText("/proc/cpuinfo")), BFloat16Hardware.Present);

        Assert.Equal("SVAE: TrainingPrecision is BFloat16, but this CPU lists neither avx512_bf16 nor amx_bf16: libtorch emulates bfloat16 products there, and training can be several times slower than with Float32.",
            BFloat16Hardware.Warning("SVAE", false));
        Assert.Null(BFloat16Hardware.Warning("SVAE", true));
        Assert.Null(BFloat16Hardware.Warning("SVAE", null));
    }

    private static void AssertWithin(Tensor expected, Tensor actual, double relative, string what)
    {
        var e = expected.detach().contiguous().data<float>().ToArray();
        var a = actual.detach().contiguous().data<float>().ToArray();
        Assert.Equal(e.Length, a.Length);
        for (int i = 0; i < e.Length; i++)
            Assert.True(Math.Abs(e[i] - a[i]) <= relative * Math.Max(1, Math.Abs(e[i])), $"{what}[{i}] expected {e[i]}, got {a[i]}");
    }

    private static void AssertWithinScale(Tensor expected, Tensor actual, Tensor scale, string what)
    {
        var e = expected.detach().contiguous().data<float>().ToArray();
        var a = actual.detach().contiguous().data<float>().ToArray();
        var s = scale.detach().contiguous().data<float>().ToArray();
        Assert.Equal(e.Length, a.Length);
        Assert.Equal(e.Length, s.Length);
        for (int i = 0; i < e.Length; i++)
            Assert.True(Math.Abs(e[i] - a[i]) <= BFloat16Tolerance * s[i] + 1e-6, $"{what}[{i}] expected {e[i]}, got {a[i]} (scale {s[i]})");
    }

    private static void AssertWithinLargest(Tensor expected, Tensor actual, string what)
    {
        var e = expected.detach().contiguous().data<float>().ToArray();
        var a = actual.detach().contiguous().data<float>().ToArray();
        Assert.Equal(e.Length, a.Length);
        double largest = e.Max(Math.Abs);
        for (int i = 0; i < e.Length; i++)
            Assert.True(Math.Abs(e[i] - a[i]) <= BFloat16Tolerance * largest, $"{what}[{i}] expected {e[i]}, got {a[i]} (largest {largest})");
    }
}
