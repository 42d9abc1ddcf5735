using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Svae.Tests.Training;

/// <summary>
/// Issue 16: Adam's fused CPU step (<see cref="FusedAdamStep"/>) against the op-by-op step (TorchSharp's operations,
/// which <see cref="NativeScalarLifetimeTests"/> pins to TorchSharp's Adam bit for bit).
/// </summary>
public class FusedAdamTests
{
    // Odd sizes: one element, fewer than a vector, a chunk plus one, several chunks with a ragged end, and one above
    // the parallel threshold whose chunks do not divide evenly among 2 or 3 threads.
    private static readonly long[][] Shapes =
    [
        [1], [7], [3, 5], [FusedAdamStep.ChunkLength + 1], [300, 37], [FusedAdamStep.ParallelThreshold + 4 * FusedAdamStep.ChunkLength + 13],
    ];

    private static Parameter[] NewParameters(int seed)
    {
        using var generator = new Generator((ulong)seed, CPU);
        return Shapes.Select(shape => new Parameter(randn(shape, generator: generator))).ToArray();
    }

    /// <summary>Gradients for step <paramref name="step"/>, the same for every optimiser under test; of varied scales.</summary>
    private static Tensor[] Gradients(int step)
    {
        using var generator = new Generator((ulong)(100 + step), CPU);
        return Shapes.Select((shape, i) => randn(shape, generator: generator).mul_(Math.Pow(10, -(i % 4)))).ToArray();
    }

    private static void SetGradients(Parameter[] parameters, Tensor[] gradients)
    {
        for (int i = 0; i < parameters.Length; i++)
            parameters[i].grad = gradients[i].clone();
    }

    private static ExplicitScalarAdam.IFusedAdam Switches(optim.Optimizer optimizer) => (ExplicitScalarAdam.IFusedAdam)optimizer;

    private static OptimizerState State(optim.Optimizer optimizer, int index) => ((OptimizerHelper)optimizer).state_dict().State[index];

    private static (long Step, Tensor ExpAvg, Tensor ExpAvgSq) Moments(optim.Optimizer optimizer, int index) => State(optimizer, index) switch
    {
        Adam.State s => (s.step, s.exp_avg, s.exp_avg_sq),
        AdamW.State s => (s.step, s.exp_avg, s.exp_avg_sq),
        var other => throw new InvalidOperationException(other.GetType().Name),
    };

    /// <summary>max |actual − expected| ≤ 1e-6 · max |expected|, and few elements differ in their bits at all.</summary>
    private static void AssertCloseToRounding(Tensor expected, Tensor actual, string what)
    {
        Assert.Equal(expected.shape, actual.shape);
        double scale = expected.abs().max().ToDouble();
        double error = (actual - expected).abs().max().ToDouble();
        Assert.True(error <= 1e-6 * scale, $"{what}: max error {error:G3} against max |value| {scale:G3}");
        // libtorch's sqrt is off by one ulp on about 0.6% of elements, which had changed the bits of about 0.1% of
        // these tensors' elements by step 3; a reciprocal instead of the division changes 3-14% of them, an unfused
        // multiply-add 10-24% of its operation's results.
        double differing = actual.ne(expected).sum().ToDouble() / expected.NumberOfElements;
        Assert.True(differing <= 0.02, $"{what}: {differing:P1} of the elements differ in their bits");
    }

    [Theory]
    [InlineData(false, 0.0)]
    [InlineData(false, 5e-3)]
    [InlineData(true, 0.0)]
    [InlineData(true, 5e-3)]
    public void FusedStepEqualsTheOpByOpStepToFloatRounding(bool decoupled, double weightDecay)
    {
        using var scope = NewDisposeScope();
        var fused = NewParameters(7);
        var reference = NewParameters(7);
        using var fusedOptimizer = ExplicitScalarAdam.Create(fused, 0.01, weightDecay, decoupled);
        using var referenceOptimizer = ExplicitScalarAdam.Create(reference, 0.01, weightDecay, decoupled, fused: false);
        double[] rates = [0.01, 0.01, 0.03, 0.002, 0.002, 0.0005]; // a schedule changes the group's rate between steps
        for (int step = 0; step < rates.Length; step++)
        {
            var gradients = Gradients(step);
            foreach (var (parameters, optimizer) in new[] { (fused, fusedOptimizer), (reference, referenceOptimizer) })
            {
                foreach (var group in optimizer.ParamGroups)
                    group.LearningRate = rates[step];
                SetGradients(parameters, gradients);
                optimizer.step();
            }
            for (int i = 0; i < fused.Length; i++)
                AssertCloseToRounding(reference[i], fused[i], $"parameter {i} after step {step + 1}");
        }
        for (int i = 0; i < fused.Length; i++)
        {
            var (fusedStep, fusedAvg, fusedAvgSq) = Moments(fusedOptimizer, i);
            var (referenceStep, referenceAvg, referenceAvgSq) = Moments(referenceOptimizer, i);
            Assert.Equal(rates.Length, fusedStep);
            Assert.Equal(referenceStep, fusedStep);
            AssertCloseToRounding(referenceAvg, fusedAvg, $"exp_avg of parameter {i}");
            AssertCloseToRounding(referenceAvgSq, fusedAvgSq, $"exp_avg_sq of parameter {i}");
        }
        Assert.Equal(rates.Length * fused.Length, Switches(fusedOptimizer).FusedUpdates);
        Assert.Equal(0, Switches(fusedOptimizer).OpByOpUpdates);
        Assert.Equal(0, Switches(referenceOptimizer).FusedUpdates);
        Assert.Equal(rates.Length * reference.Length, Switches(referenceOptimizer).OpByOpUpdates);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TheFirstStepMovesEachWeightByTheLearningRateAgainstItsGradientsSign(bool decoupled)
    {
        // Step 1: m = (1 − β₁)g, v = (1 − β₂)g², so m̂/(√v̂ + ε) = sign(g) up to ε: w ← w − lr·sign(g) (no decay).
        using var scope = NewDisposeScope();
        var weight = new Parameter(tensor(new[] { 1f, -2f, 0.25f }));
        using var optimizer = ExplicitScalarAdam.Create([weight], 0.1, 0, decoupled);
        weight.grad = tensor(new[] { 0.5f, -3e-3f, 40f });
        optimizer.step();
        Assert.Equal(1, Switches(optimizer).FusedUpdates);
        var updated = weight.data<float>().ToArray();
        Assert.Equal(0.9f, updated[0], 6);
        Assert.Equal(-1.9f, updated[1], 5);
        Assert.Equal(0.15f, updated[2], 6);
    }

    [Fact]
    public void DecoupledDecayShrinksTheWeightBeforeTheStep()
    {
        // AdamW, step 1, wd = 0.5, lr = 0.1: w ← w·(1 − 0.05) − 0.1·sign(g).
        using var scope = NewDisposeScope();
        var weight = new Parameter(tensor(new[] { 2f }));
        using var optimizer = ExplicitScalarAdam.Create([weight], 0.1, 0.5, decoupled: true);
        weight.grad = tensor(new[] { -1f });
        optimizer.step();
        Assert.Equal(2f * 0.95f + 0.1f, weight.data<float>()[0], 6);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void AStateSavedAfterTwoStepsContinuesExactlyLikeTheUninterruptedRun(bool decoupled)
    {
        using var scope = NewDisposeScope();
        var uninterrupted = NewParameters(9);
        using var uninterruptedOptimizer = ExplicitScalarAdam.Create(uninterrupted, 0.01, 5e-3, decoupled);
        var first = NewParameters(9);
        using var firstOptimizer = ExplicitScalarAdam.Create(first, 0.01, 5e-3, decoupled);
        for (int step = 0; step < 2; step++)
        {
            SetGradients(uninterrupted, Gradients(step));
            uninterruptedOptimizer.step();
            SetGradients(first, Gradients(step));
            firstOptimizer.step();
        }
        byte[] saved;
        using (var stream = new MemoryStream())
        {
            using (var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true))
                ((OptimizerHelper)firstOptimizer).save_state_dict(writer);
            saved = stream.ToArray();
        }

        // A new process would rebuild the module from the checkpoint's weights and a new optimiser from the state.
        var resumed = first.Select(p => new Parameter(p.detach().clone())).ToArray();
        using var resumedOptimizer = ExplicitScalarAdam.Create(resumed, 0.5, 0, decoupled); // options come from the state
        using (var reader = new BinaryReader(new MemoryStream(saved)))
            ((OptimizerHelper)resumedOptimizer).load_state_dict(reader);
        for (int step = 2; step < 5; step++)
        {
            SetGradients(uninterrupted, Gradients(step));
            uninterruptedOptimizer.step();
            SetGradients(resumed, Gradients(step));
            resumedOptimizer.step();
        }
        for (int i = 0; i < uninterrupted.Length; i++)
        {
            Assert.True(uninterrupted[i].Equals(resumed[i]), $"parameter {i} differs after resuming");
            var (step, avg, avgSq) = Moments(uninterruptedOptimizer, i);
            var (resumedStep, resumedAvg, resumedAvgSq) = Moments(resumedOptimizer, i);
            Assert.Equal(5, step);
            Assert.Equal(step, resumedStep);
            Assert.True(avg.Equals(resumedAvg), $"exp_avg of parameter {i} differs after resuming");
            Assert.True(avgSq.Equals(resumedAvgSq), $"exp_avg_sq of parameter {i} differs after resuming");
        }
        Assert.Equal(3 * resumed.Length, Switches(resumedOptimizer).FusedUpdates);
    }

    private static byte[] SaveState(optim.Optimizer optimizer)
    {
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true))
            ((OptimizerHelper)optimizer).save_state_dict(writer);
        return stream.ToArray();
    }

    private static void LoadState(optim.Optimizer optimizer, byte[] saved)
    {
        using var reader = new BinaryReader(new MemoryStream(saved));
        ((OptimizerHelper)optimizer).load_state_dict(reader);
    }

    /// <summary>
    /// Two steps of <paramref name="writer"/>, its state saved and loaded into <paramref name="createReader"/>'s
    /// optimiser over copies of the weights, then three steps of the reader; <paramref name="expected"/> takes all five
    /// steps without interruption (the writer itself when it is the same optimiser; otherwise its weights and state
    /// must equal the writer's bit for bit when the state is saved). The reader continues like the expected run, to
    /// float rounding: parameters, <c>step</c>, <c>exp_avg</c>, <c>exp_avg_sq</c>. Returns the reader's optimiser.
    /// </summary>
    private static optim.Optimizer ContinueFromTheStateOf(
        (Parameter[] Weights, optim.Optimizer Optimizer) writer, (Parameter[] Weights, optim.Optimizer Optimizer) expected,
        Func<Parameter[], optim.Optimizer> createReader)
    {
        bool separate = !ReferenceEquals(writer.Optimizer, expected.Optimizer);
        for (int step = 0; step < 2; step++)
        {
            SetGradients(writer.Weights, Gradients(step));
            writer.Optimizer.step();
            if (separate)
            {
                SetGradients(expected.Weights, Gradients(step));
                expected.Optimizer.step();
            }
        }
        for (int i = 0; separate && i < writer.Weights.Length; i++)
        {
            Assert.True(expected.Weights[i].Equals(writer.Weights[i]), $"parameter {i} differs when the state is saved");
            Assert.True(Moments(expected.Optimizer, i).ExpAvg.Equals(Moments(writer.Optimizer, i).ExpAvg));
            Assert.True(Moments(expected.Optimizer, i).ExpAvgSq.Equals(Moments(writer.Optimizer, i).ExpAvgSq));
        }
        var saved = SaveState(writer.Optimizer);
        var read = writer.Weights.Select(p => new Parameter(p.detach().clone())).ToArray();
        var reader = createReader(read);
        LoadState(reader, saved);
        for (int i = 0; i < read.Length; i++)
            Assert.Equal(2, Moments(reader, i).Step);
        for (int step = 2; step < 5; step++)
        {
            SetGradients(expected.Weights, Gradients(step));
            expected.Optimizer.step();
            SetGradients(read, Gradients(step));
            reader.step();
        }
        for (int i = 0; i < read.Length; i++)
        {
            AssertCloseToRounding(expected.Weights[i], read[i], $"parameter {i}");
            var (step, avg, avgSq) = Moments(expected.Optimizer, i);
            var (readStep, readAvg, readAvgSq) = Moments(reader, i);
            Assert.Equal(5, step);
            Assert.Equal(5, readStep);
            AssertCloseToRounding(avg, readAvg, $"exp_avg of parameter {i}");
            AssertCloseToRounding(avgSq, readAvgSq, $"exp_avg_sq of parameter {i}");
        }
        return reader;
    }

    [Theory]
    [InlineData(false, true)]
    [InlineData(false, false)]
    [InlineData(true, true)]
    [InlineData(true, false)]
    public void AStateSavedByEitherPathLoadsIntoTheOther(bool decoupled, bool savedByTheFusedPath)
    {
        // The fused path keeps TorchSharp's own state: after loading the other path's state, each path continues like
        // the other to float rounding, and takes its own operations.
        using var scope = NewDisposeScope();
        var written = NewParameters(3);
        using var writer = ExplicitScalarAdam.Create(written, 0.01, 5e-3, decoupled, fused: savedByTheFusedPath);
        using var reader = ContinueFromTheStateOf((written, writer), (written, writer),
            read => ExplicitScalarAdam.Create(read, 0.5, 0, decoupled, fused: !savedByTheFusedPath)); // options come from the state
        Assert.Equal(savedByTheFusedPath ? 0 : 3 * written.Length, Switches(reader).FusedUpdates);
        Assert.Equal(savedByTheFusedPath ? 3 * written.Length : 0, Switches(reader).OpByOpUpdates);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ACheckpointFromBeforeTheFusedStepContinuesLikeTorchSharpsAdam(bool decoupled)
    {
        // Checkpoints written before the fused step hold the op-by-op optimiser's state (the same optimiser types, so
        // the same stream), whose updates are TorchSharp's optim.Adam/AdamW bit for bit. Loaded into the fused
        // optimiser, the run continues like TorchSharp's own uninterrupted run, to float rounding.
        using var scope = NewDisposeScope();
        var written = NewParameters(11);
        using var opByOp = ExplicitScalarAdam.Create(written, 0.01, 5e-3, decoupled, fused: false);
        var theirs = NewParameters(11);
        using var torchSharp = decoupled
            ? (optim.Optimizer)optim.AdamW(theirs, 0.01, weight_decay: 5e-3)
            : optim.Adam(theirs, 0.01, weight_decay: 5e-3);
        using var fused = ContinueFromTheStateOf((written, opByOp), (theirs, torchSharp),
            read => ExplicitScalarAdam.Create(read, 0.5, 0, decoupled));
        Assert.Equal(3 * written.Length, Switches(fused).FusedUpdates);
        Assert.Equal(0, Switches(fused).OpByOpUpdates);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void AStateWrittenByTorchSharpsOwnAdamIsRejectedByName(bool decoupled)
    {
        // TorchSharp's load_state_dict checks the optimiser's type name: a state written by optim.Adam/AdamW itself
        // (not through ExplicitScalarAdam) is refused with TorchSharp's message, not loaded into the wrong optimiser.
        using var scope = NewDisposeScope();
        var written = NewParameters(13);
        using var torchSharp = decoupled
            ? (optim.Optimizer)optim.AdamW(written, 0.01, weight_decay: 5e-3)
            : optim.Adam(written, 0.01, weight_decay: 5e-3);
        SetGradients(written, Gradients(0));
        torchSharp.step();
        var saved = SaveState(torchSharp);
        using var ours = ExplicitScalarAdam.Create(written.Select(p => new Parameter(p.detach().clone())).ToArray(), 0.01, 5e-3, decoupled);
        var error = Assert.Throws<InvalidDataException>(() => LoadState(ours, saved));
        Assert.Equal(
            $"Mismatched optimizer type: expected '{(decoupled ? "DecoupledWeightDecay" : "CoupledWeightDecay")}', but found '{(decoupled ? "AdamW" : "Adam")}' in the loaded stream.",
            error.Message);
    }

    [Fact]
    public void OneTwoAndThreeThreadsGiveTheSameBits()
    {
        using var scope = NewDisposeScope();
        var runs = new[] { 1, 2, 3 }.Select(threads =>
        {
            var parameters = NewParameters(5);
            var optimizer = ExplicitScalarAdam.Create(parameters, 0.01, 5e-3, decoupled: false);
            Switches(optimizer).Threads = threads;
            for (int step = 0; step < 3; step++)
            {
                SetGradients(parameters, Gradients(step));
                optimizer.step();
            }
            return (Parameters: parameters, Optimizer: optimizer);
        }).ToArray();
        try
        {
            Assert.True(runs[0].Parameters[^1].NumberOfElements > FusedAdamStep.ParallelThreshold);
            foreach (var run in runs.Skip(1))
            {
                for (int i = 0; i < Shapes.Length; i++)
                {
                    Assert.True(runs[0].Parameters[i].Equals(run.Parameters[i]), $"parameter {i} differs with {Switches(run.Optimizer).Threads} threads");
                    Assert.True(Moments(runs[0].Optimizer, i).ExpAvgSq.Equals(Moments(run.Optimizer, i).ExpAvgSq));
                }
            }
        }
        finally
        {
            foreach (var run in runs)
                run.Optimizer.Dispose();
        }
    }

    [Fact]
    public void ParametersWithoutAGradientAreSkippedAndOthersTheFusedPassCannotTakeUseLibtorch()
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator(21, CPU);
        var noGradient = new Parameter(randn(new long[] { 4, 3 }, generator: generator));
        var float64 = new Parameter(randn(new long[] { 5 }, ScalarType.Float64, generator: generator));
        var transposed = new Parameter(randn(new long[] { 6, 4 }, generator: generator).t()); // not contiguous
        var plain = new Parameter(randn(new long[] { 9 }, generator: generator));
        Parameter[] all = [noGradient, float64, transposed, plain];
        var before = all.Select(p => p.detach().clone()).ToArray();
        var theirs = all.Select(p => new Parameter(p.detach().clone())).ToArray();
        using var optimizer = ExplicitScalarAdam.Create(all, 0.01, 5e-3, decoupled: false);
        using var torchSharp = optim.Adam(theirs, 0.01, weight_decay: 5e-3);
        for (int step = 0; step < 3; step++)
        {
            for (int i = 1; i < all.Length; i++)
            {
                var gradient = randn(all[i].shape, all[i].dtype, generator: generator);
                all[i].grad = gradient;
                theirs[i].grad = gradient.clone();
            }
            optimizer.step();
            torchSharp.step();
        }
        Assert.Null(noGradient.grad);
        Assert.True(noGradient.Equals(before[0]), "a parameter without a gradient changed");
        Assert.Equal(0, Moments(optimizer, 0).Step);
        Assert.Equal(3, Moments(optimizer, 1).Step);
        Assert.Equal(3, Switches(optimizer).FusedUpdates); // the contiguous float32 parameter only
        Assert.Equal(6, Switches(optimizer).OpByOpUpdates); // float64 and the transposed one
        Assert.True(float64.Equals(theirs[1]), "float64: libtorch's operations, TorchSharp's bits");
        Assert.True(transposed.Equals(theirs[2]), "non-contiguous: libtorch's operations, TorchSharp's bits");
        AssertCloseToRounding(theirs[3], plain, "the fused parameter");
        Assert.False(plain.Equals(before[3]));
    }
}
