using static TorchSharp.torch;

namespace Microsoft.ML.Svae.Tests.Models;

public class MvaeTests : VariationalModelTests<MvaeTrainer.Options, MvaeTransformer>
{
    private const int Items = ClusterData.Items;

    private protected override int ItemCount => Items;

    private protected override MvaeTrainer.Options SmallOptions(int epochs, int seed) => Small(epochs, seed);

    private protected override SequenceTrainerBase<MvaeTransformer> Trainer(MLContext ml, MvaeTrainer.Options options) => ml.Recommendation().Trainers.Mvae(options);

    private protected override (IDataView Train, IDataView Validation) PlantedData(MLContext ml) => ClusterViews(ml);

    private static MvaeTrainer.Options Small(int epochs = 40, int seed = 7) => new()
    {
        EncoderSize = 32,
        LatentSize = 8,
        DecoderSize = 32,
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
        using var mvae = ml.Recommendation().Trainers.Mvae(Small()).Fit(train, validation);
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
        var options = Small(epochs: 3);
        options.OutputScores = true;
        var trainer = ml.Recommendation().Trainers.Mvae(options);
        using var trained = trainer.TrainModel(new TrainingData(train));
        var network = ((MvaeModel)trained.Model).Network;
        Assert.False(network.training);
        var description = new RecommendationModelDescription("MVAE", SequenceColumns.History, Items, options.TopK, true,
            Enumerable.Range(1, Items).Select(i => (long)i).ToArray());
        using var model = trainer.CreateTransformer(description, trained);

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
    public void DefaultsAreLiangEtAls()
    {
        var options = new MvaeTrainer.Options();
        Assert.Equal((600, 200, 600, 0.5), (options.EncoderSize, options.LatentSize, options.DecoderSize, options.DropoutRate));
        Assert.Equal((200, 500, 1e-3, 0.0), (options.NumberOfEpochs, options.BatchSize, options.LearningRate, options.WeightDecay));
        Assert.Equal((0.2, 200_000), (options.KlWeightCap, options.KlAnnealingSteps));
    }

    [Theory]
    [InlineData(nameof(MvaeTrainer.Options.EncoderSize), 0)]
    [InlineData(nameof(MvaeTrainer.Options.DecoderSize), 0)]
    [InlineData(nameof(MvaeTrainer.Options.LatentSize), 0)]
    [InlineData(nameof(MvaeTrainer.Options.DropoutRate), 1.0)]
    [InlineData(nameof(MvaeTrainer.Options.DropoutRate), -0.1)]
    [InlineData(nameof(MvaeTrainer.Options.KlAnnealingSteps), 0)]
    [InlineData(nameof(MvaeTrainer.Options.NumberOfEpochs), 0)]
    [InlineData(nameof(MvaeTrainer.Options.BatchSize), -1)]
    public void BadOptionsFailWithTheOptionsName(string option, object value)
    {
        var options = Small();
        typeof(MvaeTrainer.Options).GetProperty(option)!.SetValue(options, value);
        var error = Assert.ThrowsAny<ArgumentException>(() => new MLContext().Recommendation().Trainers.Mvae(options));
        Assert.Contains(option, error.Message);
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
        var options = Small(epochs: 2);
        using var model = ml.Recommendation().Trainers.Mvae(options).Fit(data.Train, data.Validation);
        var metrics = ml.Recommendation().Evaluate(model.Transform(data.Test), cutoffs: new[] { 10 });
        Assert.True(metrics.Ndcg(10) is >= 0 and <= 1);
        Assert.All(model.TrainingHistory, e => Assert.NotNull(e.ValidationNdcg));
    }
}
