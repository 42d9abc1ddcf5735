using static TorchSharp.torch;

namespace Microsoft.ML.Svae.Tests;

/// <summary>
/// Histories with planted co-occurrence structure and no order: the items form disjoint groups, and each user
/// interacts with a few items of ONE group, in random order. Groups have unequal popularity, so popularity ranks
/// the biggest group first for everyone, while a model of co-occurrence ranks the user's own group first.
/// </summary>
internal static class ClusterData
{
    public const int Groups = 3;
    public const int GroupSize = 10;
    public const int Items = Groups * GroupSize;

    private static readonly double[] s_groupShare = { 0.5, 0.3, 0.2 };

    /// <summary>The group (0-based) of item key <paramref name="key"/> (1..Items).</summary>
    public static int GroupOf(uint key) => (int)(key - 1) / GroupSize;

    public static List<uint[]> Users(int users, int seed, int minLength = 5, int maxLength = 8)
    {
        var random = new Random(seed);
        var result = new List<uint[]>();
        for (int u = 0; u < users; u++)
        {
            double r = random.NextDouble();
            int group = r < s_groupShare[0] ? 0 : r < s_groupShare[0] + s_groupShare[1] ? 1 : 2;
            var keys = Enumerable.Range(group * GroupSize + 1, GroupSize).Select(k => (uint)k).ToArray();
            random.Shuffle(keys);
            result.Add(keys[..random.Next(minLength, maxLength + 1)]);
        }
        return result;
    }

    /// <summary>Fold-in: all but the last <paramref name="foldOut"/> items; fold-out: the rest.</summary>
    public static (List<uint[]> FoldIn, List<uint[]> FoldOut) Split(List<uint[]> histories, int foldOut)
        => (histories.Select(h => h[..^foldOut]).ToList(), histories.Select(h => h[^foldOut..]).ToList());

    /// <summary>A multi-hot <c>[1, N]</c> of the known keys of <paramref name="history"/> (0 and keys above N dropped).</summary>
    public static Tensor MultiHot(uint[] history, int itemCount)
    {
        var x = new float[itemCount];
        foreach (var key in history)
            if (key >= 1 && key <= itemCount)
                x[key - 1] = 1;
        return tensor(x, new long[] { 1, itemCount });
    }

    /// <summary>The expected top-K keys for scores (0-based items) with the seen items excluded; 0 for unfillable places.</summary>
    public static List<uint> ExpectedTop(float[] scores, ICollection<int> seen, int k)
    {
        var top = Enumerable.Range(0, scores.Length).Where(i => !seen.Contains(i))
            .OrderByDescending(i => scores[i]).ThenBy(i => i).Take(k).Select(i => (uint)(i + 1)).ToList();
        while (top.Count < k) top.Add(0);
        return top;
    }

    /// <summary>Histories for ONNX parity: short, repeated items, longer than N, unknown keys, all unknown, empty.</summary>
    public static List<uint[]> ParityHistories(int itemCount) => new()
    {
        new uint[] { 5 },
        new uint[] { 3, 4, 5, 6, 9, 4 },
        Enumerable.Range(0, 300).Select(i => (uint)(i % itemCount + 1)).ToArray(),
        new uint[] { 0, 7, 0, 8, (uint)itemCount + 3 },
        new uint[] { 0, 0 },
        Array.Empty<uint>(),
    };
}

public class MvaeTests
{
    private const int Items = ClusterData.Items;

    private static MvaeTrainer.Options SmallOptions(int epochs = 40, int seed = 7) => new()
    {
        HiddenSize = 32,
        LatentSize = 8,
        NumberOfEpochs = epochs,
        BatchSize = 16,
        LearningRate = 1e-2,
        KlAnnealingSteps = 2_000,
        Seed = seed,
        TopK = 10,
        EarlyStoppingPatience = 0,
    };

    private static (IDataView Train, IDataView Validation) ClusterViews(MLContext ml)
    {
        var train = SequenceTestData.Histories(ml, Items, ClusterData.Users(150, seed: 1));
        var (foldIn, foldOut) = ClusterData.Split(ClusterData.Users(45, seed: 2), 3);
        return (train, SequenceTestData.Histories(ml, Items, foldIn, foldOut));
    }

    [Fact]
    public void LearnsCoOccurrenceAndBeatsPopularity()
    {
        var ml = new MLContext(seed: 1);
        var (train, validation) = ClusterViews(ml);
        using var mvae = ml.Recommendation().Trainers.Mvae(SmallOptions()).Fit(train, validation);
        using var pop = ml.Recommendation().Trainers.Popularity(topK: 10).Fit(train);
        var mvaeMetrics = ml.Recommendation().Evaluate(mvae.Transform(validation), cutoffs: new[] { 1, 10 });
        var popMetrics = ml.Recommendation().Evaluate(pop.Transform(validation), cutoffs: new[] { 1, 10 });

        Assert.True(mvaeMetrics.Ndcg(10) > popMetrics.Ndcg(10) + 0.25,
            $"MVAE NDCG@10 {mvaeMetrics.Ndcg(10):F3} should clearly beat POP {popMetrics.Ndcg(10):F3} on clustered users.");
        var losses = mvae.TrainingHistory.Select(e => e.TrainingLoss).ToList();
        Assert.True(losses[^1] < losses[0], $"The training loss should decrease: {string.Join(", ", losses)}");
        Assert.All(mvae.TrainingHistory, e => Assert.NotNull(e.ValidationNdcg));
        Assert.Equal(mvae.TrainingHistory.Max(e => e.ValidationNdcg!.Value), mvae.TrainingHistory[mvae.BestEpoch - 1].ValidationNdcg!.Value);
        // The top item of every validation user belongs to the user's own group.
        var top = SequenceTestData.KeyColumn(mvae.Transform(validation), SequenceColumns.TopItems);
        var foldIns = SequenceTestData.KeyColumn(validation, SequenceColumns.History);
        int sameGroup = top.Zip(foldIns).Count(p => ClusterData.GroupOf(p.First[0]) == ClusterData.GroupOf(p.Second[0]));
        Assert.True(sameGroup >= 0.9 * top.Count, $"{sameGroup} of {top.Count} top items in the user's group");
    }

    [Fact]
    public void OnnxGraphMatchesTheTorchSharpForwardPass()
    {
        var ml = new MLContext(seed: 1);
        var train = UserSequences.Read(SequenceTestData.Histories(ml, Items, ClusterData.Users(60, seed: 3)), SequenceColumns.History, "history");
        var options = SmallOptions(epochs: 3);
        options.OutputScores = true;
        var result = MvaeTraining.Train(ml, train, null, null, options);
        using var network = result.Network;
        Assert.False(network.training);
        var description = new RecommendationModelDescription("MVAE", SequenceColumns.History, Items, options.TopK, true,
            Enumerable.Range(1, Items).Select(i => (long)i).ToArray());
        using var model = MvaeTrainer.CreateTransformer(ml, description, network, result.History, result.BestEpoch);

        var histories = ClusterData.ParityHistories(Items);
        var output = model.Transform(SequenceTestData.Histories(ml, Items, histories));
        var scores = SequenceTestData.FloatColumn(output, SequenceColumns.Scores);
        var top = SequenceTestData.KeyColumn(output, SequenceColumns.TopItems);

        for (int u = 0; u < histories.Count; u++)
        {
            var seen = histories[u].Where(k => k >= 1 && k <= Items).Select(k => (int)k - 1).ToHashSet();
            float[] logits;
            using (var scope = NewDisposeScope())
            using (var noGrad = no_grad())
                logits = network.Score(ClusterData.MultiHot(histories[u], Items)).squeeze(0).data<float>().ToArray();
            Assert.All(logits, l => Assert.True(float.IsFinite(l)));
            for (int i = 0; i < Items; i++)
            {
                if (seen.Contains(i))
                    Assert.Equal(float.NegativeInfinity, scores[u][i]);
                else
                    Assert.True(Math.Abs(logits[i] - scores[u][i]) < 1e-4, $"history {u}, item {i}: torch {logits[i]} vs onnx {scores[u][i]}");
            }
            Assert.Equal(ClusterData.ExpectedTop(logits, seen, options.TopK), top[u]);
        }
        // Empty and all-unknown histories are the zero input: the same scores.
        Assert.Equal(scores[^1], scores[^2]);
    }

    [Fact]
    public void SavedModelScoresIdenticallyInAProcessWithoutThisLibrary()
    {
        var ml = new MLContext(seed: 1);
        var (train, _) = ClusterViews(ml);
        var options = SmallOptions(epochs: 2);
        options.TopK = 5;
        EstimatorChecks.Run(ml, ml.Recommendation().Trainers.Mvae(options), train, train);

        using var model = ml.Recommendation().Trainers.Mvae(options).Fit(train);
        var histories = new[] { new uint[] { 3, 4, 5 }, Array.Empty<uint>(), new uint[] { 30 }, new uint[] { 0, 99 } };
        ServingApp.AssertServedIdentically(ml, model, train.Schema, SequenceTestData.Histories(ml, Items, histories), histories);
    }

    [Fact]
    public void SameSeedGivesTheSameModel()
    {
        var ml = new MLContext(seed: 1);
        var (train, validation) = ClusterViews(ml);
        List<float[]> Scores(int seed)
        {
            using var model = ml.Recommendation().Trainers.Mvae(SmallOptions(epochs: 2, seed: seed)).Fit(train);
            return SequenceTestData.FloatColumn(model.Transform(validation), SequenceColumns.TopScores);
        }
        Assert.Equal(Scores(11), Scores(11));
        Assert.NotEqual(Scores(11), Scores(12));
    }

    [Fact]
    public void DefaultsAreLiangEtAls()
    {
        var options = new MvaeTrainer.Options();
        Assert.Equal((600, 200, 0.5), (options.HiddenSize, options.LatentSize, options.InputDropout));
        Assert.Equal((200, 500, 1e-3, 0.0), (options.NumberOfEpochs, options.BatchSize, options.LearningRate, options.WeightDecay));
        Assert.Equal((0.2, 200_000), (options.KlWeightCap, options.KlAnnealingSteps));
    }

    [Theory]
    [InlineData(nameof(MvaeTrainer.Options.HiddenSize), 0)]
    [InlineData(nameof(MvaeTrainer.Options.LatentSize), 0)]
    [InlineData(nameof(MvaeTrainer.Options.InputDropout), 1.0)]
    [InlineData(nameof(MvaeTrainer.Options.InputDropout), -0.1)]
    [InlineData(nameof(MvaeTrainer.Options.KlAnnealingSteps), 0)]
    [InlineData(nameof(MvaeTrainer.Options.NumberOfEpochs), 0)]
    [InlineData(nameof(MvaeTrainer.Options.BatchSize), -1)]
    public void BadOptionsFailWithTheOptionsName(string option, object value)
    {
        var options = SmallOptions();
        typeof(MvaeTrainer.Options).GetProperty(option)!.SetValue(options, value);
        var error = Assert.ThrowsAny<ArgumentException>(() => new MLContext().Recommendation().Trainers.Mvae(options));
        Assert.Contains(option, error.Message);
    }

    [Fact]
    public void ValidationDataWithAnotherVocabularyFails()
    {
        var ml = new MLContext(seed: 1);
        var (train, _) = ClusterViews(ml);
        var other = SequenceTestData.Histories(ml, Items + 5, new[] { new uint[] { 1, 2 } }, new[] { new uint[] { 3 } });
        var error = Assert.ThrowsAny<ArgumentException>(() => ml.Recommendation().Trainers.Mvae(SmallOptions(epochs: 1)).Fit(train, other));
        Assert.Contains("vocabulary", error.Message);
    }

    [Theory]
    [InlineData(FoldSplit.Temporal)]
    [InlineData(FoldSplit.Random)]
    public void TrainsOnBothFoldSplitsOfTheProtocol(FoldSplit split)
    {
        var ml = new MLContext(seed: 1);
        var interactions = ml.Recommendation().Data.GenerateSyntheticInteractions(new SyntheticInteractionOptions
        {
            Users = 120, Items = 40, MeanHistoryLength = 12, MinHistoryLength = 6, MaxHistoryLength = 20, Genres = 4, Seed = 3,
        });
        var data = ml.Recommendation().Data.PrepareSequences(interactions, new SequenceProtocolOptions
        {
            RatingThreshold = null, ValidationUsers = 20, TestUsers = 20, FoldSplit = split,
        });
        var options = SmallOptions(epochs: 2);
        using var model = ml.Recommendation().Trainers.Mvae(options).Fit(data.Train, data.Validation);
        var metrics = ml.Recommendation().Evaluate(model.Transform(data.Test), cutoffs: new[] { 10 });
        Assert.True(metrics.Ndcg(10) is >= 0 and <= 1);
        Assert.All(model.TrainingHistory, e => Assert.NotNull(e.ValidationNdcg));
    }
}
