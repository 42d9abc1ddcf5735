using System.Collections.Concurrent;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Svae.Tests.Training;

public class SvaeTrainingTests
{
    private const int Items = 30;

    private static readonly UserSequences s_train = TinySequences.Cycle(users: 60, items: Items, minLength: 8, maxLength: 20, noise: 0.1, seed: 1);
    private static readonly (UserSequences FoldIn, UserSequences FoldOut) s_validation =
        TinySequences.Split(TinySequences.Cycle(users: 30, items: Items, minLength: 8, maxLength: 20, noise: 0.1, seed: 2));

    [Fact]
    public void LearnsTheCycleAndBeatsPopularity()
    {
        var context = new MLContext(seed: 1);
        var messages = new ConcurrentQueue<string>();
        context.Log += (_, e) => messages.Enqueue(e.Message);
        var options = TinySequences.SmallOptions(epochs: 15);
        using var trained = Train(options, s_train, s_validation.FoldIn, s_validation.FoldOut, context);
        var result = trained.Result;
        var network = ((SvaeModel)trained.Model).Network;
        var itemCounts = ItemCounts.Of(s_train);

        Assert.Equal(15, result.History.Count);
        Assert.True(result.History[^1].TrainingLoss < 0.7 * result.History[0].TrainingLoss,
            $"loss {result.History[0].TrainingLoss} → {result.History[^1].TrainingLoss}");
        Assert.All(result.History, e => Assert.NotNull(e.ValidationNdcg));
        Assert.Contains(messages, m => m.Contains("SVAE epoch 1:", StringComparison.Ordinal));
        Assert.False(network.training);
        Assert.Equal(DeviceType.CPU, network.decoderOut.weight!.device_type);

        // Top-1 after a user's last item i is i + 1 far more often than chance (1/30).
        int correct = 0;
        using (var scope = NewDisposeScope())
        {
            for (int i = 0; i < Items; i++)
            {
                var items = tensor(new long[] { (i + Items - 2) % Items, (i + Items - 1) % Items, i }, new long[] { 1, 3 });
                var scores = network.ScoreLast(items, tensor(new long[] { 3 }));
                if (scores.argmax(1).item<long>() == (i + 1) % Items)
                    correct++;
            }
        }
        Assert.True(correct >= 20, $"top-1 next item right for {correct} of {Items} items");

        // Held-out users: SVAE's NDCG@10 beats popularity's, and equals the best recorded validation NDCG.
        var svaeTop = SequenceScoring.TopItems(trained.Model, s_validation.FoldIn, 10, CPU);
        var svae = RecommendationEvaluator.Compute(svaeTop, 10, s_validation.FoldIn, s_validation.FoldOut, [10]);
        var popularity = RecommendationEvaluator.Compute(PopularityTop(itemCounts, s_validation.FoldIn, 10), 10,
            s_validation.FoldIn, s_validation.FoldOut, [10]);
        Assert.True(svae.Ndcg(10) > popularity.Ndcg(10) + 0.2, $"SVAE NDCG@10 {svae.Ndcg(10)} vs popularity {popularity.Ndcg(10)}");
        Assert.Equal(result.History[result.BestEpoch - 1].ValidationNdcg!.Value, svae.Ndcg(10), 12);
        Assert.Equal(result.History.Max(e => e.ValidationNdcg!.Value), svae.Ndcg(10), 12);
    }

    [Fact]
    public void MixtureLikelihoodTrains()
    {
        var options = TinySequences.SmallOptions(epochs: 15);
        options.Likelihood = NextKLikelihood.Mixture;
        options.NextK = 3;
        using var trained = Train(options, s_train);
        var result = trained.Result;
        var itemCounts = ItemCounts.Of(s_train);
        Assert.All(result.History, e => Assert.True(double.IsFinite(e.TrainingLoss)));
        Assert.True(result.History[^1].TrainingLoss < 0.7 * result.History[0].TrainingLoss,
            $"loss {result.History[0].TrainingLoss} → {result.History[^1].TrainingLoss}");
        Assert.Equal(15, result.BestEpoch);
        Assert.All(result.History, e => Assert.Null(e.ValidationNdcg));

        var top = SequenceScoring.TopItems(trained.Model, s_validation.FoldIn, 10, CPU);
        var svae = RecommendationEvaluator.Compute(top, 10, s_validation.FoldIn, s_validation.FoldOut, [10]);
        var popularity = RecommendationEvaluator.Compute(PopularityTop(itemCounts, s_validation.FoldIn, 10), 10,
            s_validation.FoldIn, s_validation.FoldOut, [10]);
        Assert.True(svae.Ndcg(10) > popularity.Ndcg(10) + 0.2, $"SVAE NDCG@10 {svae.Ndcg(10)} vs popularity {popularity.Ndcg(10)}");
    }

    [Fact]
    public void SameSeedGivesIdenticalWeightsAndDifferentSeedsDiffer()
    {
        Dictionary<string, float[]> Weights(int seed)
        {
            var options = TinySequences.SmallOptions(epochs: 3);
            options.Seed = seed;
            options.MaxHistoryLength = 12;
            using var trained = Train(options, s_train, s_validation.FoldIn, s_validation.FoldOut);
            return trained.Model.Module.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.data<float>().ToArray());
        }

        var a = Weights(42);
        var b = Weights(42);
        var c = Weights(43);
        Assert.Equal(a.Keys.Order(), b.Keys.Order());
        foreach (var (name, values) in a)
        {
            Assert.Equal(values, b[name]);
            Assert.NotEqual(values, c[name]);
        }
    }

    [Fact]
    public void ValidationDataMustShareTheVocabulary()
    {
        var other = TinySequences.FromArrays(Items + 1, [1, 2]);
        var error = Assert.Throws<ArgumentException>(() =>
            Train(TinySequences.SmallOptions(1), s_train, other, other));
        Assert.Contains("vocabulary", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TooShortHistoriesFailClearly()
    {
        var data = TinySequences.FromArrays(5, [1], [2], []);
        var error = Assert.Throws<ArgumentException>(() => Train(TinySequences.SmallOptions(1), data));
        Assert.Contains("at least two events", error.Message, StringComparison.Ordinal);
    }

    public static TheoryData<string, Action<SvaeTrainer.Options>> BadOptions => new()
    {
        { nameof(SvaeTrainer.Options.NumberOfEpochs), o => o.NumberOfEpochs = 0 },
        { nameof(SvaeTrainer.Options.BatchSize), o => o.BatchSize = 0 },
        { nameof(SvaeTrainer.Options.LearningRate), o => o.LearningRate = 0 },
        { nameof(SvaeTrainer.Options.LearningRate), o => o.LearningRate = double.NaN },
        { nameof(SvaeTrainer.Options.WeightDecay), o => o.WeightDecay = -1 },
        { nameof(SvaeTrainer.Options.EarlyStoppingPatience), o => o.EarlyStoppingPatience = -1 },
        { nameof(SvaeTrainer.Options.ValidationCutoff), o => o.ValidationCutoff = 0 },
        { nameof(SvaeTrainer.Options.MaxHistoryLength), o => o.MaxHistoryLength = 1 },
        { nameof(SvaeTrainer.Options.MaxPositionsPerBatch), o => o.MaxPositionsPerBatch = -5 },
        { nameof(SvaeTrainer.Options.GpuDeviceId), o => o.GpuDeviceId = -1 },
        { nameof(SvaeTrainer.Options.TopK), o => o.TopK = 0 },
        { nameof(SvaeTrainer.Options.EmbeddingSize), o => o.EmbeddingSize = 0 },
        { nameof(SvaeTrainer.Options.RecurrentSize), o => o.RecurrentSize = 0 },
        { nameof(SvaeTrainer.Options.EncoderSize), o => o.EncoderSize = 0 },
        { nameof(SvaeTrainer.Options.LatentSize), o => o.LatentSize = 0 },
        { nameof(SvaeTrainer.Options.DecoderSize), o => o.DecoderSize = 0 },
        { nameof(SvaeTrainer.Options.NextK), o => o.NextK = 0 },
        { nameof(SvaeTrainer.Options.Likelihood), o => o.Likelihood = (NextKLikelihood)7 },
        { nameof(SvaeTrainer.Options.BatchOrder), o => o.BatchOrder = (BatchOrder)2 },
        { nameof(SvaeTrainer.Options.NumberOfThreads), o => o.NumberOfThreads = 0 },
        { nameof(SvaeTrainer.Options.LearningRateWarmupUpdates), o => o.LearningRateWarmupUpdates = -1 },
        { nameof(SvaeTrainer.Options.LearningRateDecayEpochs), o => o.LearningRateDecayEpochs = -1 },
        { nameof(SvaeTrainer.Options.KlWeightCap), o => o.KlWeightCap = -0.1 },
        { nameof(SvaeTrainer.Options.KlAnnealingSteps), o => o.KlAnnealingSteps = 0 },
        { nameof(SvaeTrainer.Options.FoldOutColumnName), o => o.FoldOutColumnName = " " },
    };

    [Theory]
    [MemberData(nameof(BadOptions))]
    public void BadOptionsFailWithAMessageNamingTheOption(string name, Action<SvaeTrainer.Options> spoil)
    {
        var options = new SvaeTrainer.Options();
        options.Validate();
        spoil(options);
        var error = Assert.Throws<ArgumentOutOfRangeException>(options.Validate);
        Assert.Equal(name, error.ParamName);
        Assert.Contains(name, error.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => new MLContext(1).Recommendation().Trainers.Svae(options));
    }

    [Fact]
    public void DefaultsFollowThePaperAndTheAuthorsCode()
    {
        var options = new SvaeTrainer.Options();
        Assert.Equal((256, 200, 150, 64, 150, 4), (options.EmbeddingSize, options.RecurrentSize, options.EncoderSize, options.LatentSize, options.DecoderSize, options.NextK));
        Assert.Equal((0.2, 200_000, false), (options.KlWeightCap, options.KlAnnealingSteps, options.KlAnnealingResetsEachEpoch));
        // Batch size and weight decay were chosen by validation (docs/BENCHMARKS.md), not taken from the authors' code.
        Assert.Equal((1e-3, 0.0, 8, 42, 100), (options.LearningRate, options.WeightDecay, options.BatchSize, options.Seed, options.ValidationCutoff));
        Assert.Equal((SequenceColumns.History, SequenceColumns.FoldOut), (options.HistoryColumnName, options.FoldOutColumnName));
    }

    [Fact]
    public void OptionsBindFromJsonAsAutoMLProposesThem()
    {
        var options = System.Text.Json.JsonSerializer.Deserialize<SvaeTrainer.Options>(
            """{ "Likelihood": "Mixture", "NextK": 3, "LearningRate": 0.004, "KlAnnealingResetsEachEpoch": true, "MaxHistoryLength": 50, "BatchOrder": "LengthBuckets", "LearningRateDecayEpochs": 6 }""")!;
        Assert.Equal((NextKLikelihood.Mixture, 3, 0.004, true, 50), (options.Likelihood, options.NextK, options.LearningRate, options.KlAnnealingResetsEachEpoch, options.MaxHistoryLength));
        Assert.Equal(BatchOrder.LengthBuckets, options.BatchOrder);
        Assert.Equal(6, options.LearningRateDecayEpochs);
        Assert.Equal(8, options.BatchSize); // unbound properties keep the SVAE defaults
    }

    /// <summary>Trains SVAE through its trainer on in-memory sequences.</summary>
    private static TrainedSequenceModel Train(SvaeTrainer.Options options, UserSequences train,
        UserSequences? foldIn = null, UserSequences? foldOut = null, MLContext? context = null)
        => (context ?? new MLContext(1)).Recommendation().Trainers.Svae(options).TrainModel(new TrainingData(train, foldIn, foldOut));

    /// <summary>Top-k by training count, seen items skipped, ties to the lower index.</summary>
    internal static int[] PopularityTop(float[] counts, UserSequences foldIn, int k)
    {
        var order = Enumerable.Range(0, counts.Length).OrderByDescending(i => counts[i]).ThenBy(i => i).ToArray();
        var top = new int[foldIn.Count * k];
        for (int u = 0; u < foldIn.Count; u++)
        {
            var seen = foldIn[u].ToArray().ToHashSet();
            var list = order.Where(i => !seen.Contains(i)).Take(k).ToArray();
            for (int r = 0; r < k; r++)
                top[u * k + r] = r < list.Length ? list[r] : -1;
        }
        return top;
    }
}
