using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Svae.Tests.Models;

public class RvaeTests : VariationalModelTests<RvaeTrainer.Options, RvaeTransformer>
{
    private const int Items = ClusterData.Items;

    private protected override int ItemCount => Items;

    private protected override RvaeTrainer.Options SmallOptions(int epochs, int seed) => Small(epochs, seed);

    private protected override SequenceTrainerBase<RvaeTransformer> Trainer(MLContext ml, RvaeTrainer.Options options) => ml.Recommendation().Trainers.Rvae(options);

    private protected override (IDataView Train, IDataView Validation) PlantedData(MLContext ml) => ClusterViews(ml);

    private static RvaeTrainer.Options Small(int epochs = 15, int seed = 7) => new()
    {
        EmbeddingSize = 16,
        EncoderSize = 16,
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
    public void RanksThePlantedPreferenceAboveOtherItemsAndBeatsPopularity()
    {
        var ml = new MLContext(seed: 1);
        var (train, validation) = ClusterViews(ml);
        var options = Small();
        options.OutputScores = true;
        using var rvae = ml.Recommendation().Trainers.Rvae(options).Fit(train, validation);
        using var pop = ml.Recommendation().Trainers.Popularity(topK: 10).Fit(train);
        var scored = rvae.Transform(validation);
        var rvaeMetrics = ml.Recommendation().Evaluate(scored, cutoffs: new[] { 1, 10 });
        var popMetrics = ml.Recommendation().Evaluate(pop.Transform(validation), cutoffs: new[] { 1, 10 });

        Assert.True(rvaeMetrics.Ndcg(10) > popMetrics.Ndcg(10) + 0.25,
            $"RVAE NDCG@10 {rvaeMetrics.Ndcg(10):F3} should clearly beat POP {popMetrics.Ndcg(10):F3} on clustered users.");
        var losses = rvae.TrainingHistory.Select(e => e.TrainingLoss).ToList();
        Assert.True(losses[^1] < 0.7 * losses[0], $"The training loss should decrease: {string.Join(", ", losses)}");

        // Users never seen in training: every unseen item of the user's group outranks every item of the other groups.
        var scores = SequenceTestData.FloatColumn(scored, SequenceColumns.Scores);
        var foldIns = SequenceTestData.KeyColumn(validation, SequenceColumns.History);
        int planted = 0;
        for (int u = 0; u < scores.Count; u++)
        {
            int group = ClusterData.GroupOf(foldIns[u][0]);
            var own = Enumerable.Range(0, Items).Where(i => ClusterData.GroupOf((uint)i + 1) == group && !foldIns[u].Contains((uint)i + 1));
            var others = Enumerable.Range(0, Items).Where(i => ClusterData.GroupOf((uint)i + 1) != group);
            if (own.Min(i => scores[u][i]) > others.Max(i => scores[u][i]))
                planted++;
        }
        Assert.True(planted >= 0.9 * scores.Count, $"planted preference ranked first for {planted} of {scores.Count} users");
    }

    [Fact]
    public void OnnxGraphMatchesTheTorchSharpForwardPass()
    {
        var ml = new MLContext(seed: 1);
        var train = UserSequences.Read(SequenceTestData.Histories(ml, Items, ClusterData.Users(60, seed: 3)), SequenceColumns.History, "history");
        var options = Small(epochs: 3);
        options.OutputScores = true;
        var trainer = ml.Recommendation().Trainers.Rvae(options);
        using var trained = trainer.TrainModel(new TrainingData(train));
        var network = ((RvaeModel)trained.Model).Network;
        Assert.False(network.training);
        var description = new RecommendationModelDescription("RVAE", SequenceColumns.History, Items, options.TopK, true,
            Enumerable.Range(1, Items).Select(i => (long)i).ToArray());
        using var model = trainer.CreateTransformer(description, trained);

        var histories = ClusterData.ParityHistories(Items);
        var output = model.Transform(SequenceTestData.Histories(ml, Items, histories));
        var scores = SequenceTestData.FloatColumn(output, SequenceColumns.Scores);
        var top = SequenceTestData.KeyColumn(output, SequenceColumns.TopItems);

        for (int u = 0; u < histories.Count; u++)
        {
            var seen = histories[u].Where(k => k >= 1 && k <= Items).Select(k => (int)k - 1).ToHashSet();
            float[] forward, batched;
            using (var scope = NewDisposeScope())
            using (var noGrad = no_grad())
            {
                var x = ClusterData.MultiHot(histories[u], Items);
                // The literal forward pass (concatenated embeddings → layers → f(μ)) of every item, and the batched scorer.
                forward = network.call(x, arange(Items, ScalarType.Int64).unsqueeze(0)).squeeze(0).data<float>().ToArray();
                batched = network.ScoreAll(x).squeeze(0).data<float>().ToArray();
            }
            Assert.All(forward, s => Assert.True(float.IsFinite(s)));
            for (int i = 0; i < Items; i++)
            {
                Assert.True(Math.Abs(forward[i] - batched[i]) < 1e-5, $"history {u}, item {i}: forward {forward[i]} vs batched {batched[i]}");
                if (seen.Contains(i))
                    Assert.Equal(float.NegativeInfinity, scores[u][i]);
                else
                    Assert.True(Math.Abs(forward[i] - scores[u][i]) < 1e-4, $"history {u}, item {i}: torch {forward[i]} vs onnx {scores[u][i]}");
            }
            Assert.Equal(ClusterData.ExpectedTop(forward, seen, options.TopK), top[u]);
        }
        Assert.Equal(scores[^1], scores[^2]);
    }

    [Fact]
    public void SameSeedGivesTheSameModelWithEitherSampling()
    {
        var ml = new MLContext(seed: 1);
        var (train, validation) = ClusterViews(ml);
        List<float[]> Scores(int seed, RvaeNegativeSampling sampling)
        {
            var options = Small(epochs: 2, seed: seed);
            options.NegativeSampling = sampling;
            options.NegativesPerPositive = 2;
            using var model = ml.Recommendation().Trainers.Rvae(options).Fit(train);
            return SequenceTestData.FloatColumn(model.Transform(validation), SequenceColumns.TopScores);
        }
        Assert.Equal(Scores(11, RvaeNegativeSampling.Uniform), Scores(11, RvaeNegativeSampling.Uniform));
        Assert.NotEqual(Scores(11, RvaeNegativeSampling.Uniform), Scores(12, RvaeNegativeSampling.Uniform));
        Assert.Equal(Scores(11, RvaeNegativeSampling.Popularity), Scores(11, RvaeNegativeSampling.Popularity));
    }

    [Fact]
    public void NegativesAreItemsTheUserNeverSaw()
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator(5, CPU);
        var x = zeros(3, 6);
        x[0, 0] = tensor(1f); x[0, 1] = tensor(1f); x[0, 2] = tensor(1f);
        x[1, 5] = tensor(1f);
        x[2] = ones(6); // saw everything: no candidate
        var (uniform, ok) = RvaeObjective.SampleNegatives(x, null, 2000, generator);
        Assert.Equal(new[] { true, true, false }, ok.data<bool>().ToArray());
        var drawn = uniform.data<long>().ToArray();
        Assert.All(drawn[..2000], i => Assert.InRange(i, 3, 5));
        Assert.All(drawn[2000..4000], i => Assert.InRange(i, 0, 4));
        // Uniform: every candidate comes up about equally often.
        Assert.All(Enumerable.Range(3, 3), i => Assert.InRange(drawn[..2000].Count(d => d == i), 550, 780));

        var popularity = tensor(new float[] { 1, 1, 1, 0, 1, 9 }).unsqueeze(0);
        var (byPopularity, _) = RvaeObjective.SampleNegatives(x, popularity, 2000, generator);
        var row = byPopularity[0].data<long>().ToArray();
        Assert.DoesNotContain(3L, row); // never seen in training: never drawn
        Assert.InRange(row.Count(d => d == 5), 1700, 1900); // 9 / 10 of the draws
    }

    [Fact]
    public void DefaultsFollowSection54()
    {
        var options = new RvaeTrainer.Options();
        Assert.Equal((128, 100, 64), (options.EmbeddingSize, options.EncoderSize, options.LatentSize));
        Assert.Equal((1, RvaeNegativeSampling.Uniform), (options.NegativesPerPositive, options.NegativeSampling));
    }

    [Theory]
    [InlineData(nameof(RvaeTrainer.Options.EmbeddingSize), 0)]
    [InlineData(nameof(RvaeTrainer.Options.EncoderSize), 0)]
    [InlineData(nameof(RvaeTrainer.Options.LatentSize), 0)]
    [InlineData(nameof(RvaeTrainer.Options.NegativesPerPositive), 0)]
    [InlineData(nameof(RvaeTrainer.Options.NegativeSampling), (RvaeNegativeSampling)7)]
    [InlineData(nameof(RvaeTrainer.Options.KlWeightCap), -1.0)]
    [InlineData(nameof(RvaeTrainer.Options.LearningRate), 0.0)]
    public void BadOptionsFailWithTheOptionsName(string option, object value)
    {
        var options = Small();
        typeof(RvaeTrainer.Options).GetProperty(option)!.SetValue(options, value);
        var error = Assert.ThrowsAny<ArgumentException>(() => new MLContext().Recommendation().Trainers.Rvae(options));
        Assert.Contains(option, error.Message);
    }

    [Fact]
    public void ASingleItemVocabularyFails()
    {
        var ml = new MLContext(seed: 1);
        var train = SequenceTestData.Histories(ml, 1, new[] { new uint[] { 1 }, new uint[] { 1, 1 } });
        var error = Assert.ThrowsAny<ArgumentException>(() => ml.Recommendation().Trainers.Rvae(Small(epochs: 1)).Fit(train));
        Assert.Contains("at least two items", error.Message);
    }
}
