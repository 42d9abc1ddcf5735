using System.Diagnostics;
using Microsoft.ML.Runtime;

namespace Microsoft.ML.Svae.Tests.Training;

/// <summary>
/// Checkpoint and resume (<see cref="SequenceTrainerOptions.CheckpointFolder"/>): a run interrupted in the middle of an
/// epoch and resumed ends bit for bit where an uninterrupted run ends, for every neural model; checkpoints made for
/// other options or data are refused with what differs; damaged files are detected; writes are atomic.
/// </summary>
public sealed class CheckpointTests : IDisposable
{
    private const int Items = 20;
    private readonly string _folder = Path.Combine(Path.GetTempPath(), $"svae-checkpoint-{Guid.NewGuid():N}");

    public void Dispose()
    {
        if (Directory.Exists(_folder))
            Directory.Delete(_folder, recursive: true);
    }

    public static TheoryData<string> Models => new() { "SVAE", "MVAE", "RVAE", "BPR", "FPMC", "Caser", "GRU4Rec", "SASRec",
        "SeqVAE-GlobalLatent", "SeqVAE-LatentInRecurrence", "SeqVAE-LearnedPrior", "SeqVAE-GlobalRecurrence" };

    private static SequenceTrainerOptions Options(string model, string? folder)
    {
        SequenceTrainerOptions options = model switch
        {
            "SVAE" => TinySequences.SmallOptions(epochs: 3),
            "MVAE" => new MvaeTrainer.Options { EncoderSize = 16, LatentSize = 8, DecoderSize = 16, KlAnnealingSteps = 50 },
            "RVAE" => new RvaeTrainer.Options { EmbeddingSize = 8, EncoderSize = 16, LatentSize = 8, KlAnnealingSteps = 50 },
            "BPR" => new BprTrainer.Options { EmbeddingSize = 8, Lambda = 1e-4 },
            "FPMC" => new FpmcTrainer.Options { EmbeddingSize = 8, Lambda = 1e-4 },
            "Caser" => new CaserTrainer.Options { EmbeddingSize = 8, SequenceLength = 3, TargetLength = 2, HorizontalFilters = 4, VerticalFilters = 2, DropoutRate = 0.2 },
            "GRU4Rec" => new Gru4RecTrainer.Options { EmbeddingSize = 8, RecurrentSize = 8, DropoutRate = 0.2 },
            // The sampled loss: its negatives' position is restored too.
            "SASRec" => new SasrecTrainer.Options { EmbeddingSize = 8, NumberOfBlocks = 1, DropoutRate = 0.2, MaxHistoryLength = 12, Loss = NextItemLoss.SampledBinaryCrossEntropy },
            // The sequential VAEs of section 4.3.2: ε, dropout masks and (2b, 2d) a recurrence that samples at every step.
            _ when model.StartsWith("SeqVAE-", StringComparison.Ordinal) => new SequentialVaeTrainer.Options
            {
                Variant = Enum.Parse<SequentialVaeVariant>(model["SeqVAE-".Length..]),
                EmbeddingSize = 8, RecurrentSize = 8, EncoderSize = 8, LatentSize = 4, DecoderSize = 8, KlAnnealingSteps = 5,
            },
            _ => throw new ArgumentOutOfRangeException(nameof(model)),
        };
        options.NumberOfEpochs = 3;
        options.BatchSize = 16;
        options.LearningRate = 1e-2;
        options.Seed = 7;
        options.TopK = 5;
        options.OutputScores = true;
        options.EarlyStoppingPatience = 0;
        options.ValidationCutoff = 10;
        options.CheckpointFolder = folder;
        return options;
    }

    private static TrainedRecommendationTransformer Fit(MLContext ml, SequenceTrainerOptions options, IDataView train, IDataView validation) => options switch
    {
        SvaeTrainer.Options o => ml.Recommendation().Trainers.Svae(o).Fit(train, validation),
        MvaeTrainer.Options o => ml.Recommendation().Trainers.Mvae(o).Fit(train, validation),
        RvaeTrainer.Options o => ml.Recommendation().Trainers.Rvae(o).Fit(train, validation),
        BprTrainer.Options o => ml.Recommendation().Trainers.Bpr(o).Fit(train, validation),
        FpmcTrainer.Options o => ml.Recommendation().Trainers.Fpmc(o).Fit(train, validation),
        CaserTrainer.Options o => ml.Recommendation().Trainers.Caser(o).Fit(train, validation),
        Gru4RecTrainer.Options o => ml.Recommendation().Trainers.Gru4Rec(o).Fit(train, validation),
        SasrecTrainer.Options o => ml.Recommendation().Trainers.Sasrec(o).Fit(train, validation),
        SequentialVaeTrainer.Options o => ml.Recommendation().Trainers.SequentialVae(o).Fit(train, validation),
        _ => throw new ArgumentOutOfRangeException(nameof(options)),
    };

    private static string Run(MLContext ml, SequenceTrainerOptions options, IDataView train, IDataView validation)
    {
        using var model = Fit(ml, options, train, validation);
        return CheckpointChild.Describe(model, validation);
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void ResumingInTheMiddleOfAnEpochEndsExactlyLikeAnUninterruptedRun(string model)
        => AssertResumeMatchesAnUninterruptedRun(model, _ => { });

    [Fact]
    public void ResumingWithLengthBucketsAndAWarmUpSpanningTheInterruptionEndsExactlyLikeAnUninterruptedRun()
        => AssertResumeMatchesAnUninterruptedRun("SVAE", o =>
        {
            o.BatchOrder = BatchOrder.LengthBuckets;
            o.LearningRateWarmupUpdates = 12;
        });

    [Fact]
    public void ResumingInTheMiddleOfALearningRateDecayEndsExactlyLikeAnUninterruptedRun()
    {
        // The interruption (epoch 2, after batch 4 of B ≥ 5) falls inside the decay (updates 3 to 3 + 2B).
        static void Decay(SequenceTrainerOptions o)
        {
            o.LearningRateWarmupUpdates = 3;
            o.LearningRateDecayEpochs = 2;
        }
        AssertResumeMatchesAnUninterruptedRun("SVAE", Decay);

        // The decay is in effect: the same run without it (same warm-up) ends elsewhere.
        var ml = new MLContext(seed: 1);
        var (train, validation) = UserSequenceTestData.CycleProtocol(ml, Items);
        var withDecay = Options("SVAE", folder: null);
        Decay(withDecay);
        var withoutDecay = Options("SVAE", folder: null);
        withoutDecay.LearningRateWarmupUpdates = 3;
        Assert.NotEqual(Run(ml, withoutDecay, train, validation), Run(ml, withDecay, train, validation));
    }

    [Fact]
    public void AnOptionTheCheckpointDoesNotRecordIsNoDifferenceAtItsDefault()
    {
        // A checkpoint written before LearningRateDecayEpochs existed has no such key; 0 (the default) behaves as before.
        var current = new SvaeTrainer.Options();
        string defaults = TrainingCheckpoint.SerializeOptions(new SvaeTrainer.Options());
        var saved = System.Text.Json.Nodes.JsonNode.Parse(TrainingCheckpoint.SerializeOptions(current))!.AsObject();
        Assert.True(saved.Remove(nameof(SequenceTrainerOptions.LearningRateDecayEpochs)));
        string old = saved.ToJsonString();
        List<string> Differences() => TrainingCheckpoint.OptionDifferences(old, TrainingCheckpoint.SerializeOptions(current), defaults);
        Assert.Empty(Differences());

        current.LearningRateDecayEpochs = 5;
        Assert.Equal(new[] { "LearningRateDecayEpochs: (absent) in the checkpoint, 5 now" }, Differences());
        current.LearningRateDecayEpochs = 0;
        current.LearningRate = 0.03;
        Assert.Equal(new[] { "LearningRate: 0.001 in the checkpoint, 0.03 now" }, Differences());
    }

    private void AssertResumeMatchesAnUninterruptedRun(string model, Action<SequenceTrainerOptions> configure)
    {
        SequenceTrainerOptions Options(string model, string? folder)
        {
            var options = CheckpointTests.Options(model, folder);
            configure(options);
            return options;
        }

        var ml = new MLContext(seed: 1);
        var (train, validation) = UserSequenceTestData.CycleProtocol(ml, Items);
        string uninterrupted = Run(ml, Options(model, folder: null), train, validation);

        // Checkpoints every 2 updates; the run is stopped after the checkpoint at the second epoch's 4th batch
        // (cancellation is checked before the next batch).
        using var stop = new CancellationTokenSource();
        var first = Options(model, _folder);
        first.CheckpointInterval = 2;
        first.CancellationToken = stop.Token;
        var written = new List<(int Epoch, int Batches)>();
        first.CheckpointWritten = (epoch, batches) =>
        {
            written.Add((epoch, batches));
            if (epoch == 2 && batches == 4)
                stop.Cancel();
        };
        Assert.ThrowsAny<OperationCanceledException>(() => Fit(ml, first, train, validation));
        Assert.Contains((2, 4), written);
        Assert.Contains((2, 0), written); // the end of epoch 1
        Assert.True(File.Exists(Path.Combine(_folder, $"{model}.checkpoint")));

        var log = new List<string>();
        var resumingContext = new MLContext(seed: 1);
        resumingContext.Log += (_, e) => log.Add(e.Message);
        var second = Options(model, _folder);
        second.CheckpointInterval = 2;
        Assert.Equal(uninterrupted, Run(resumingContext, second, train, validation));
        Assert.Contains(log, m => m.Contains($"{model}: resuming from the checkpoint", StringComparison.Ordinal) && m.Contains("at epoch 2, batch 5.", StringComparison.Ordinal));

        // The checkpoint of the completed run is kept: fitting again returns the same model at once.
        Assert.Equal(uninterrupted, Run(ml, Options(model, _folder), train, validation));
    }

    [Fact]
    public void AKilledProcessResumesInAnotherProcessBitForBit()
    {
        var ml = new MLContext(seed: 1);
        var (train, validation) = CheckpointChild.Data(ml);
        string expected = Run(ml, CheckpointChild.Options(folder: null), train, validation);

        string folder = Path.Combine(_folder, "child");
        string output = Path.Combine(_folder, "resumed.txt");
        Directory.CreateDirectory(_folder);

        // The first child stalls right after the checkpoint of epoch 2, batch 3 (of 8) and is killed with SIGKILL.
        using (var child = StartChild(folder, output, "2", "3"))
        {
            try
            {
                string? line;
                while ((line = child.StandardOutput.ReadLine()) is not null && line != CheckpointChild.StalledLine)
                {
                }
                if (line is null)
                {
                    child.WaitForExit();
                    Assert.Fail($"The child ended ({child.ExitCode}) before the checkpoint: {child.StandardError.ReadToEnd()}");
                }
            }
            finally
            {
                if (!child.HasExited)
                    child.Kill(entireProcessTree: false); // SIGKILL on Unix
            }
            child.WaitForExit();
            Assert.Equal(137, child.ExitCode); // 128 + SIGKILL
        }
        Assert.False(File.Exists(output));

        using (var resumed = StartChild(folder, output))
        {
            string stderr = resumed.StandardError.ReadToEnd();
            resumed.WaitForExit();
            Assert.True(resumed.ExitCode == 0, $"The resuming child failed ({resumed.ExitCode}): {stderr}");
        }
        Assert.Equal(expected, File.ReadAllText(output));
    }

    private static Process StartChild(string folder, string output, params string[] stall)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(typeof(CheckpointChild).Assembly.Location);
        start.ArgumentList.Add(CheckpointChild.Command);
        start.ArgumentList.Add(folder);
        start.ArgumentList.Add(output);
        foreach (var arg in stall)
            start.ArgumentList.Add(arg);
        return Process.Start(start)!;
    }

    [Fact]
    public void ACheckpointOfOtherOptionsIsRefusedNamingTheOption()
    {
        var ml = new MLContext(seed: 1);
        var (train, validation) = UserSequenceTestData.CycleProtocol(ml, Items);
        var options = Options("SVAE", _folder);
        options.NumberOfEpochs = 1;
        using (Fit(ml, options, train, validation))
        {
        }

        var other = Options("SVAE", _folder);
        other.NumberOfEpochs = 1;
        other.LearningRate = 0.03;
        var error = Assert.Throws<ArgumentException>(() => Fit(ml, other, train, validation));
        string path = Path.Combine(_folder, "SVAE.checkpoint");
        Assert.Equal($"The checkpoint {path} was made with other options: LearningRate: 0.01 in the checkpoint, 0.03 now. " +
            $"Use the same options and data to resume, or delete {path} (or choose another CheckpointFolder) to train from the start.", error.Message);

        // The checkpoint settings themselves may change between runs.
        var moreOften = Options("SVAE", _folder);
        moreOften.NumberOfEpochs = 1;
        moreOften.CheckpointInterval = 3;
        using (Fit(ml, moreOften, train, validation))
        {
        }
    }

    [Fact]
    public void ACheckpointOfOtherDataIsRefusedNamingTheCounts()
    {
        var ml = new MLContext(seed: 1);
        var (train, validation) = UserSequenceTestData.CycleProtocol(ml, Items);
        var options = Options("BPR", _folder);
        options.NumberOfEpochs = 1;
        using (Fit(ml, options, train, validation))
        {
        }
        string path = Path.Combine(_folder, "BPR.checkpoint");

        var fewerUsers = ml.Data.TakeRows(train, 100);
        var error = Assert.Throws<ArgumentException>(() => Fit(ml, options, fewerUsers, validation));
        // BPR trains on the 120 training users and the 40 validation users' fold-ins.
        Assert.Equal($"The checkpoint {path} was made for other data: training users: 160 in the checkpoint, 100 now; training events: 1582 in the checkpoint, 1039 now. " +
            $"Use the same options and data to resume, or delete {path} (or choose another CheckpointFolder) to train from the start.", error.Message);

        // Same counts, other order of the users: the contents differ.
        var reversed = ml.Data.ShuffleRows(train, seed: 3);
        error = Assert.Throws<ArgumentException>(() => Fit(ml, options, reversed, validation));
        Assert.Contains("was made for other data: the histories' contents differ (same counts, different items or order).", error.Message);
    }

    [Fact]
    public void ADamagedCheckpointFallsBackToThePreviousOneOrFailsClearly()
    {
        var ml = new MLContext(seed: 1);
        var (train, validation) = UserSequenceTestData.CycleProtocol(ml, Items);
        string expected = Run(ml, Options("SVAE", folder: null), train, validation);
        // A completed run leaves the end of epoch 3 as the checkpoint and the end of epoch 2 as the previous one.
        Run(ml, Options("SVAE", _folder), train, validation);
        string path = Path.Combine(_folder, "SVAE.checkpoint");
        Assert.True(File.Exists(path + ".previous"));
        Assert.Empty(Directory.GetFiles(_folder, "*.tmp-*"));

        // Cut short: training resumes from the previous checkpoint (end of epoch 2) and still ends identically.
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);
        var log = new List<string>();
        var context = new MLContext(seed: 1);
        context.Log += (_, e) => log.Add(e.Message);
        Assert.Equal(expected, Run(context, Options("SVAE", _folder), train, validation));
        Assert.Contains(log, m => m.Contains($"The checkpoint {path} is damaged: it is {bytes.Length / 2} bytes long but its header announces {bytes.Length} (cut short while writing?). Resuming from the previous checkpoint, {path}.previous.", StringComparison.Ordinal));

        // Both damaged: a clear error naming the file.
        File.WriteAllBytes(path, bytes[..100]);
        var previous = File.ReadAllBytes(path + ".previous");
        previous[^40] ^= 0xFF;
        File.WriteAllBytes(path + ".previous", previous);
        var error = Assert.Throws<InvalidDataException>(() => Fit(ml, Options("SVAE", _folder), train, validation));
        Assert.Equal($"The checkpoint {path}.previous is damaged: its SHA-256 does not match its contents.", error.Message);

        // Not a checkpoint at all.
        File.Delete(path + ".previous");
        File.WriteAllText(path, "hello");
        error = Assert.Throws<InvalidDataException>(() => Fit(ml, Options("SVAE", _folder), train, validation));
        Assert.Equal($"The file {path} is not an MLNet.Svae training checkpoint (it does not start with '*** MLNet.Svae training checkpoint ***').", error.Message);
    }

    [Fact]
    public void AFailedWriteLeavesTheLastGoodCheckpoint()
    {
        var file = new CheckpointFile(_folder, "SVAE");
        using var good = Checkpoint(TorchSharp.torch.ones(3));
        file.Write(good);
        var before = File.ReadAllBytes(file.Path);
        using (var roundTrip = CheckpointFile.Read(file.Path))
        {
            Assert.Equal(new[] { 1f, 1f, 1f }, roundTrip.Weights["w"].data<float>().ToArray());
            Assert.Equal(good.Position, roundTrip.Position);
            Assert.Equal(good.Fingerprint, roundTrip.Fingerprint);
        }

        var disposed = TorchSharp.torch.zeros(3);
        disposed.Dispose();
        using var bad = Checkpoint(disposed);
        Assert.ThrowsAny<Exception>(() => file.Write(bad));
        Assert.Equal(before, File.ReadAllBytes(file.Path));
        Assert.False(File.Exists(file.PreviousPath));
        Assert.Equal(new[] { file.Path }, Directory.GetFiles(_folder));
    }

    [Fact]
    public void ASameLengthCorruptedCurrentCheckpointDoesNotReplaceAGoodPrevious()
    {
        var file = new CheckpointFile(_folder, "SVAE");
        using (var first = Checkpoint(TorchSharp.torch.ones(3)))
            file.Write(first);
        using (var second = Checkpoint(TorchSharp.torch.full(3, 2f)))
            file.Write(second);
        var goodPrevious = File.ReadAllBytes(file.PreviousPath);

        // Damage the current file without changing its length: only the hash can tell.
        var current = File.ReadAllBytes(file.Path);
        current[^40] ^= 0xFF;
        File.WriteAllBytes(file.Path, current);

        using (var third = Checkpoint(TorchSharp.torch.full(3, 3f)))
            file.Write(third);
        Assert.Equal(goodPrevious, File.ReadAllBytes(file.PreviousPath));
        using (var previous = CheckpointFile.Read(file.PreviousPath))
            Assert.Equal(new[] { 1f, 1f, 1f }, previous.Weights["w"].data<float>().ToArray());
        using (var newest = CheckpointFile.Read(file.Path))
            Assert.Equal(new[] { 3f, 3f, 3f }, newest.Weights["w"].data<float>().ToArray());

        // A whole current file still rotates.
        using (var fourth = Checkpoint(TorchSharp.torch.full(3, 4f)))
            file.Write(fourth);
        using (var rotated = CheckpointFile.Read(file.PreviousPath))
            Assert.Equal(new[] { 3f, 3f, 3f }, rotated.Weights["w"].data<float>().ToArray());
        Assert.Equal(new[] { file.Path, file.PreviousPath }.Order(), Directory.GetFiles(_folder).Order());
    }

    private static TrainingCheckpoint Checkpoint(TorchSharp.torch.Tensor weight) => new()
    {
        ModelName = "SVAE",
        OptionsJson = "{}",
        Fingerprint = new TrainingFingerprint(20, 3, 30, 0, 0, "AB"),
        Position = new EpochPosition(2, 1, 1, 1.5, 0.25, 3),
        Updates = 4,
        Completed = false,
        StoppedEarly = false,
        History = [new TrainingEpoch(1, 3, 2.5, 0.1, null, new Dictionary<string, double>(), 1)],
        BestEpoch = 1,
        BestNdcg = double.NegativeInfinity,
        BestWeights = null,
        Weights = new Dictionary<string, TorchSharp.torch.Tensor> { ["w"] = weight },
        OptimizerState = [1, 2, 3],
        GeneratorStates = [],
        NegativeDraws = 0,
    };

    [Fact]
    public void CheckpointOptionsAreValidated()
    {
        var ml = new MLContext();
        var options = Options("SVAE", "  ");
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Recommendation().Trainers.Svae((SvaeTrainer.Options)options));
        Assert.StartsWith("CheckpointFolder must name a folder, or be null for no checkpoints.", error.Message);
        options = Options("SVAE", _folder);
        options.CheckpointInterval = -1;
        error = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Recommendation().Trainers.Svae((SvaeTrainer.Options)options));
        Assert.StartsWith("CheckpointInterval must be at least 0.", error.Message);
    }
}
