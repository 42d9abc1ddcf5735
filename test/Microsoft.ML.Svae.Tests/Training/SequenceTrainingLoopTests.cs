using Microsoft.ML.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Svae.Tests.Training;

public class SequenceTrainingLoopTests
{
    private const int Items = 12;
    private const int Good = 3;
    private const int Bad = 7;

    /// <summary>
    /// A non-variational model with one score per item, the same for every user. Its loss (one unit per user)
    /// raises the score of <see cref="Bad"/> by about the learning rate per Adam step, so that it overtakes
    /// <see cref="Good"/> (the validation users' relevant item) after a known number of epochs.
    /// </summary>
    private sealed class ItemBiasModel : ISequenceModel
    {
        private readonly BiasModule _module = new();
        private readonly int? _finiteLosses;
        private int _losses;

        /// <param name="finiteLosses">After this many calls of <see cref="Loss"/>, the loss is NaN (a diverged training).</param>
        public ItemBiasModel(int? finiteLosses = null) => _finiteLosses = finiteLosses;

        private sealed class BiasModule : nn.Module
        {
#pragma warning disable IDE1006
            public readonly Parameter scores;
#pragma warning restore IDE1006

            public BiasModule() : base(nameof(BiasModule))
            {
                var initial = new float[Items];
                initial[Good] = 0.45f;
                scores = nn.Parameter(tensor(initial));
                RegisterComponents();
            }
        }

        public nn.Module Module => _module;

        public float BadScore => _module.scores[Bad].item<float>();

        public double LastKlWeight { get; private set; } = double.NaN;

        public int ThreadsInLoss { get; private set; }

        public long LossUnits(int length) => length >= 1 ? 1 : 0;

        public Tensor Loss(SequenceBatch batch, double klWeight)
        {
            LastKlWeight = klWeight;
            ThreadsInLoss = get_num_threads();
            var loss = -_module.scores[Bad] * batch.Count;
            return ++_losses > _finiteLosses ? loss * float.NaN : loss;
        }

        public Tensor ScoreUsers(SequenceBatch batch) => _module.scores.unsqueeze(0).expand(batch.Count, Items).clone();

        public byte[] WriteOnnx(RecommendationModelDescription description) => throw new NotSupportedException("The loop never exports.");

        public void Dispose() => _module.Dispose();
    }

    private static readonly UserSequences s_train = TinySequences.FromArrays(Items, [0, 1], [2, 4, 5], [6]);
    private static readonly UserSequences s_foldIn = TinySequences.FromArrays(Items, [0], [1, 2], [5]);
    private static readonly UserSequences s_foldOut = TinySequences.FromArrays(Items, [Good], [Good], [Good]);

    private sealed class LoopOptions : SequenceTrainerOptions
    {
    }

    private static LoopOptions Options(int epochs, int patience) => new()
    {
        NumberOfEpochs = epochs,
        EarlyStoppingPatience = patience,
        BatchSize = 16, // one update per epoch
        LearningRate = 0.1,
        ValidationCutoff = 10,
    };

    private static IHost Host() => ((IHostEnvironment)new MLContext(1)).Register("test");

    [Fact]
    public void EarlyStoppingRestoresTheBestEpochsWeights()
    {
        using var model = new ItemBiasModel();
        // Bad's score after epoch e is ≈ 0.1·e: Good ranks first through epoch 4 (NDCG 1), second from epoch 5.
        // The best epoch is the first with NDCG 1; patience 5 stops after epoch 6.
        var result = SequenceTrainingLoop.Train(Host(), model, s_train, s_foldIn, s_foldOut, Options(20, 5), KlAnnealingSchedule.None, CPU, "test");

        Assert.Equal(6, result.History.Count);
        Assert.True(result.StoppedEarly);
        Assert.Equal(1, result.BestEpoch);
        Assert.Equal([1.0, 1.0, 1.0, 1.0], result.History.Take(4).Select(e => e.ValidationNdcg!.Value));
        Assert.True(result.History[4].ValidationNdcg < 1);
        Assert.Equal(0.1f, model.BadScore, 1e-4f);
        Assert.False(model.Module.training);

        var top = SequenceScoring.TopItems(model, s_foldIn, 10, CPU);
        var metrics = RecommendationEvaluator.Compute(top, 10, s_foldIn, s_foldOut, [10]);
        Assert.Equal(result.History[result.BestEpoch - 1].ValidationNdcg!.Value, metrics.Ndcg(10));
        Assert.Equal(["NDCG@10", "Recall@10", "Precision@10"], result.History[0].ValidationMetrics.Keys);
    }

    [Fact]
    public void WithoutPatienceAllEpochsRunAndTheBestIsStillRestored()
    {
        using var model = new ItemBiasModel();
        var result = SequenceTrainingLoop.Train(Host(), model, s_train, s_foldIn, s_foldOut, Options(7, 0), KlAnnealingSchedule.None, CPU, "test");
        Assert.Equal(7, result.History.Count);
        Assert.False(result.StoppedEarly);
        Assert.Equal(1, result.BestEpoch);
        Assert.Equal(0.1f, model.BadScore, 1e-4f);
        Assert.Equal(Enumerable.Range(1, 7).Select(e => (long)e), result.History.Select(e => e.Updates));
    }

    [Fact]
    public void WithoutValidationTheLastWeightsAreKeptAndTheLossIsTheMeanPerUnit()
    {
        using var model = new ItemBiasModel();
        var result = SequenceTrainingLoop.Train(Host(), model, s_train, null, null, Options(3, 2), KlAnnealingSchedule.None, CPU, "test");
        Assert.Equal(3, result.History.Count);
        Assert.Equal(3, result.BestEpoch);
        Assert.Equal(0.3f, model.BadScore, 1e-4f);
        // The loss per unit is −(Bad's score before the epoch's update).
        Assert.Equal(0.0, result.History[0].TrainingLoss, 1e-6);
        Assert.Equal(-0.1, result.History[1].TrainingLoss, 1e-4);
        Assert.Equal(-0.2, result.History[2].TrainingLoss, 1e-4);
    }

    [Fact]
    public void NumberOfThreadsHoldsDuringTrainingAndIsRestoredAfter()
    {
        int before = get_num_threads();
        var options = Options(2, 0);
        options.NumberOfThreads = before == 1 ? 2 : 1;
        using var model = new ItemBiasModel();
        var log = new List<string>();
        var ml = new MLContext(1);
        ml.Log += (_, e) => log.Add(e.Message);
        SequenceTrainingLoop.Train(((IHostEnvironment)ml).Register("test"), model, s_train, null, null, options, KlAnnealingSchedule.None, CPU, "test");
        Assert.Equal(options.NumberOfThreads, model.ThreadsInLoss);
        Assert.Equal(before, get_num_threads());
        Assert.Contains(log, m => m.Contains($"(Pooled); {options.NumberOfThreads} libtorch threads;", StringComparison.Ordinal));
    }

    [Fact]
    public void LearningRateWarmUpRisesLinearlyThenHolds()
    {
        // One update per epoch; Adam moves Bad's score by the learning rate per update (a constant gradient).
        var options = Options(5, 0);
        options.LearningRateWarmupUpdates = 4;
        using var model = new ItemBiasModel();
        var result = SequenceTrainingLoop.Train(Host(), model, s_train, null, null, options, KlAnnealingSchedule.None, CPU, "test");
        // Before each epoch's update the score is the sum of the earlier rates: 0.025, 0.05, 0.075, then 0.1, 0.1.
        Assert.Equal([0.0, -0.025, -0.075, -0.15, -0.25], result.History.Select(e => e.TrainingLoss).ToArray(), new ToleranceComparer(1e-4));
        Assert.Equal(0.35f, model.BadScore, 1e-4f);
    }

    [Fact]
    public void ANonFiniteEpochLossThrowsTrainingDivergedExceptionNamingTheEpochAndTheLearningRate()
    {
        // One update per epoch; the second epoch's loss is NaN.
        using var model = new ItemBiasModel(finiteLosses: 1);
        var error = Assert.Throws<TrainingDivergedException>(() =>
            SequenceTrainingLoop.Train(Host(), model, s_train, s_foldIn, s_foldOut, Options(5, 0), KlAnnealingSchedule.None, CPU, "test"));
        Assert.Equal(2, error.Epoch);
        Assert.True(double.IsNaN(error.MeanLoss));
        Assert.Equal("test training diverged in epoch 2: the mean loss is NaN. Lower LearningRate (now 0.1).", error.Message);
        Assert.IsAssignableFrom<InvalidOperationException>(error);
    }

    [Fact]
    public void LearningRateScheduleWarmsUpThenFollowsACosineToTheFloorThenHolds()
    {
        // Rate 0.01, warm-up 4 updates, decay over 8 updates: the floor is 0.0001.
        double At(long u) => EpochRunner.LearningRateAt(u, 0.01, 4, 8);
        Assert.Equal(0.0025, At(0), 12);
        Assert.Equal(0.0075, At(2), 12);
        Assert.Equal(0.01, At(3), 12);
        Assert.Equal(0.01, At(4), 12); // the decay's start: cos 0 = 1
        Assert.Equal(0.0001 + 0.0099 * (1 + Math.Sqrt(0.5)) / 2, At(6), 12); // a quarter: cos(π/4)
        Assert.Equal(0.00505, At(8), 12); // halfway: cos(π/2) = 0, the mean of the rate and the floor
        Assert.Equal(0.0001 + 0.0099 * (1 - Math.Sqrt(0.5)) / 2, At(10), 12);
        Assert.Equal(0.0001, At(12), 12); // the end of the decay: the floor
        Assert.Equal(0.0001, At(1_000), 12);
        // Without a warm-up the decay starts at the first update; without a decay the rate is constant.
        Assert.Equal(0.01, EpochRunner.LearningRateAt(0, 0.01, 0, 8), 12);
        Assert.Equal(0.00505, EpochRunner.LearningRateAt(4, 0.01, 0, 8), 12);
        Assert.All(new long[] { 0, 5, 100, 10_000 }, u => Assert.Equal(0.01, EpochRunner.LearningRateAt(u, 0.01, 0, 0)));
        Assert.Equal(0.0025, EpochRunner.LearningRateAt(0, 0.01, 4, 0), 12);
        Assert.Equal(0.01, EpochRunner.LearningRateAt(4, 0.01, 4, 0), 12);
    }

    [Fact]
    public void LearningRateDecaysOverTheGivenEpochsThenStaysAtTheFloor()
    {
        // One update per epoch, so the decay over 4 epochs is 4 updates; Adam moves Bad's score by the learning rate
        // per update. Rates: 0.1, 0.001 + 0.099·(1 + cos(π/4))/2, 0.0505, 0.001 + 0.099·(1 − cos(π/4))/2, then 0.001.
        var options = Options(6, 0);
        options.LearningRateDecayEpochs = 4;
        using var model = new ItemBiasModel();
        var log = new List<string>();
        var ml = new MLContext(1);
        ml.Log += (_, e) => log.Add(e.Message);
        var result = SequenceTrainingLoop.Train(((IHostEnvironment)ml).Register("test"), model, s_train, null, null, options, KlAnnealingSchedule.None, CPU, "test");
        double r2 = 0.001 + 0.099 * (1 + Math.Sqrt(0.5)) / 2, r4 = 0.001 + 0.099 * (1 - Math.Sqrt(0.5)) / 2;
        double[] rates = [0.1, r2, 0.0505, r4, 0.001, 0.001];
        var before = rates.Select((_, e) => -rates.Take(e).Sum()).ToArray();
        Assert.Equal(before, result.History.Select(e => e.TrainingLoss).ToArray(), new ToleranceComparer(1e-4));
        Assert.Equal((float)rates.Sum(), model.BadScore, 1e-4f);
        Assert.Contains(log, m => m.Contains("libtorch threads; learning rate 0.1, cosine decay over 4 epochs (4 updates) to 0.001; validation: none.", StringComparison.Ordinal));
    }

    [Fact]
    public void TheDecayIsCountedInBatchesOfTheFirstEpochAfterTheWarmUp()
    {
        // One user per batch: the three users make three batches per epoch, so 3 decay epochs are 9 updates, after a
        // warm-up of 2. Every batch has the same gradient, so each update moves Bad's score by its learning rate.
        var options = Options(5, 0);
        options.BatchSize = 1;
        options.LearningRateWarmupUpdates = 2;
        options.LearningRateDecayEpochs = 3;
        using var model = new ItemBiasModel();
        var log = new List<string>();
        var ml = new MLContext(1);
        ml.Log += (_, e) => log.Add(e.Message);
        SequenceTrainingLoop.Train(((IHostEnvironment)ml).Register("test"), model, s_train, null, null, options, KlAnnealingSchedule.None, CPU, "test");
        Assert.Contains(log, m => m.Contains("learning rate 0.1, warm-up 2 updates, cosine decay over 3 epochs (9 updates) to 0.001;", StringComparison.Ordinal));
        double expected = Enumerable.Range(0, 15).Sum(u => EpochRunner.LearningRateAt(u, 0.1, 2, 9));
        Assert.Equal((float)expected, model.BadScore, 1e-4f);
    }

    [Fact]
    public void KlWeightFollowsTheSchedule()
    {
        using var model = new ItemBiasModel();
        var schedule = new KlAnnealingSchedule(cap: 0.5, steps: 10, resetsEachEpoch: false);
        var result = SequenceTrainingLoop.Train(Host(), model, s_train, null, null, Options(4, 0), schedule, CPU, "test");
        Assert.Equal([0.0, 0.1, 0.2, 0.3], result.History.Select(e => e.KlWeight).ToArray(), new ToleranceComparer(1e-12));
        Assert.Equal(0.3, model.LastKlWeight, 12);
    }

    [Fact]
    public void KlAnnealingScheduleIsLinearAndCapped()
    {
        var running = new KlAnnealingSchedule(0.2, 100, resetsEachEpoch: false);
        Assert.Equal(0, running.Weight(0, 0));
        Assert.Equal(0.1, running.Weight(10, 3), 12);
        Assert.Equal(0.2, running.Weight(50, 3), 12);
        var resetting = new KlAnnealingSchedule(0.2, 100, resetsEachEpoch: true);
        Assert.Equal(0.03, resetting.Weight(50, 3), 12);
        Assert.Equal(0, KlAnnealingSchedule.None.Weight(1000, 1000));
    }

    [Fact]
    public void TopItemsMaskSeenItemsAndPadWithMinusOne()
    {
        using var model = new ItemBiasModel();
        using (no_grad())
        {
            var values = new float[Items];
            for (int i = 0; i < Items; i++)
                values[i] = Items - i; // item 0 best
            model.Module.parameters().Single().copy_(tensor(values));
        }
        var everything = Enumerable.Range(0, Items).ToArray();
        var histories = TinySequences.FromArrays(Items, [0, 2], [], everything, [11, 0, 0]);
        var top = SequenceScoring.TopItems(model, histories, 4, CPU);
        Assert.Equal([1, 3, 4, 5], top[0..4]);
        Assert.Equal([0, 1, 2, 3], top[4..8]);
        Assert.Equal([-1, -1, -1, -1], top[8..12]);
        Assert.Equal([1, 2, 3, 4], top[12..16]);

        var longList = SequenceScoring.TopItems(model, histories, 20, CPU);
        Assert.Equal(Enumerable.Range(0, Items).Concat(Enumerable.Repeat(-1, 20 - Items)), longList[20..40]);
    }

    [Fact]
    public void DeviceFollowsMLNetRules()
    {
        Assert.Equal(DeviceType.CPU, TrainingDevice.Resolve(null, fallbackToCpu: false, cudaAvailable: false).type);
        Assert.Equal(DeviceType.CPU, TrainingDevice.Resolve(null, fallbackToCpu: false, cudaAvailable: true).type);
        Assert.Equal(DeviceType.CPU, TrainingDevice.Resolve(0, fallbackToCpu: true, cudaAvailable: false).type);
        var cuda = TrainingDevice.Resolve(1, fallbackToCpu: false, cudaAvailable: true);
        Assert.Equal((DeviceType.CUDA, 1), (cuda.type, cuda.index));
        var error = Assert.Throws<InvalidOperationException>(() => TrainingDevice.Resolve(0, fallbackToCpu: false, cudaAvailable: false));
        Assert.Contains("FallbackToCpu", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void DeviceDefaultsToTheMLContextsSettings()
    {
        if (cuda.is_available())
            return;
        var context = new MLContext(1) { GpuDeviceId = 0, FallbackToCpu = false };
        var options = new LoopOptions();
        Assert.Throws<InvalidOperationException>(() => TrainingDevice.Resolve(context, options));
        Assert.Throws<InvalidOperationException>(() => TrainingDevice.Resolve(((IHostEnvironment)context).Register("child"), options));
        options.FallbackToCpu = true;
        Assert.Throws<InvalidOperationException>(() => TrainingDevice.Resolve(context, options)); // the context's setting applies
        options.GpuDeviceId = 0;
        Assert.Equal(DeviceType.CPU, TrainingDevice.Resolve(context, options).type); // the option's own setting applies
        context.FallbackToCpu = true;
        options.GpuDeviceId = null;
        Assert.Equal(DeviceType.CPU, TrainingDevice.Resolve(context, options).type);
    }

    private sealed class ToleranceComparer(double tolerance) : IEqualityComparer<double>
    {
        public bool Equals(double x, double y) => Math.Abs(x - y) <= tolerance;
        public int GetHashCode(double obj) => 0;
    }
}
