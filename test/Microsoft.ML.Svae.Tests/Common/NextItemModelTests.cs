using static TorchSharp.torch;

namespace Microsoft.ML.Svae.Tests.Common;

/// <summary>
/// The checks of the next-item models (GRU4Rec, SASRec) on top of <see cref="HistoryModelTests{TOptions, TTransformer}"/>:
/// they learn the planted cycle and beat popularity, and the ONNX graph scores as the TorchSharp model does for
/// histories of length 1, several, longer than any window, with unknown items, only unknown items and empty.
/// </summary>
public abstract class NextItemModelTests<TOptions, TTransformer> : HistoryModelTests<TOptions, TTransformer>
    where TOptions : SequenceTrainerOptions
    where TTransformer : TrainedRecommendationTransformer
{
    private protected const int Items = 30;

    private protected override int ItemCount => Items;

    private protected override uint[][] ServingHistories => [[3, 4, 5], [], [30]];

    private protected override (IDataView Train, IDataView Validation) PlantedData(MLContext ml)
    {
        var train = SequenceTestData.Histories(ml, Items, CycleData.Walks(120, Items, 6, 14, seed: 1));
        var (foldIn, foldOut) = CycleData.Split(CycleData.Walks(40, Items, 6, 14, seed: 2), 2);
        return (train, SequenceTestData.Histories(ml, Items, foldIn, foldOut));
    }

    /// <summary>The epochs the learning test trains for.</summary>
    private protected virtual int LearningEpochs => 10;

    [Fact]
    public void LearnsTheCycleAndBeatsPopularity()
    {
        var ml = new MLContext(seed: 1);
        var (train, validation) = PlantedData(ml);
        using var model = Trainer(ml, SmallOptions(LearningEpochs, 7)).Fit(train, validation);
        using var pop = ml.Recommendation().Trainers.Popularity(topK: 10).Fit(train);
        var metrics = ml.Recommendation().Evaluate(model.Transform(validation), cutoffs: new[] { 1, 10 });
        var popMetrics = ml.Recommendation().Evaluate(pop.Transform(validation), cutoffs: new[] { 1, 10 });

        Assert.True(metrics.Ndcg(10) > popMetrics.Ndcg(10) + 0.3,
            $"NDCG@10 {metrics.Ndcg(10):F3} should clearly beat POP {popMetrics.Ndcg(10):F3} on the cycle.");
        var losses = model.TrainingHistory.Select(e => e.TrainingLoss).ToList();
        Assert.True(losses[^1] < 0.8 * losses[0], $"The training loss should decrease: {string.Join(", ", losses)}");
        Assert.Equal(model.TrainingHistory.Max(e => e.ValidationNdcg!.Value), model.TrainingHistory[model.BestEpoch - 1].ValidationNdcg!.Value);
        // The next item of the cycle is the top recommendation for most held-out users.
        var top = SequenceTestData.KeyColumn(model.Transform(validation), SequenceColumns.TopItems);
        var foldIns = SequenceTestData.KeyColumn(validation, SequenceColumns.History);
        int next = top.Zip(foldIns).Count(p => p.First[0] == p.Second[^1] % Items + 1);
        Assert.True(next >= 0.7 * top.Count, $"the cycle's next item is top-1 for {next} of {top.Count} users");
    }

    [Fact]
    public void OnnxGraphMatchesTheTorchSharpModel()
    {
        var ml = new MLContext(seed: 1);
        var train = UserSequences.Read(SequenceTestData.Histories(ml, Items, CycleData.Walks(60, Items, 6, 14, seed: 3)), SequenceColumns.History, "history");
        var options = SmallOptions(2, 7);
        options.OutputScores = true;
        var trainer = Trainer(ml, options);
        using var trained = trainer.TrainModel(new TrainingData(train));
        Assert.False(trained.Model.Module.training);
        var description = new RecommendationModelDescription("model", SequenceColumns.History, Items, options.TopK, true,
            Enumerable.Range(1, Items).Select(i => (long)i).ToArray());
        using var model = trainer.CreateTransformer(description, trained);

        var histories = new List<uint[]>
        {
            new uint[] { 5 },
            new uint[] { 3, 4, 5, 6, 9 },
            Enumerable.Range(0, 300).Select(i => (uint)(i * 7 % Items + 1)).ToArray(),
            new uint[] { 0, 7, 0, 8 }, // unknown keys (0) are dropped inside the graph
            new uint[] { 0, 0 },
            Array.Empty<uint>(),
        };
        var output = model.Transform(SequenceTestData.Histories(ml, Items, histories));
        var scores = SequenceTestData.FloatColumn(output, SequenceColumns.Scores);
        var top = SequenceTestData.KeyColumn(output, SequenceColumns.TopItems);

        for (int u = 0; u < histories.Count; u++)
        {
            var items = histories[u].Where(k => k > 0).Select(k => (long)k - 1).ToArray();
            float[] logits;
            using (var scope = NewDisposeScope())
            using (var noGrad = no_grad())
            {
                var batch = new SequenceBatch([0], [items.Length], Math.Max(1, items.Length),
                    tensor(items.Length == 0 ? new long[] { 0 } : items, new long[] { 1, Math.Max(1, items.Length) }), tensor(new long[] { items.Length }));
                logits = trained.Model.ScoreUsers(batch).squeeze(0).data<float>().ToArray();
            }
            Assert.All(logits, l => Assert.True(float.IsFinite(l)));
            OnnxParity.AssertScoresAndTop(u, items, logits, scores[u], top[u], Items, options.TopK);
        }
        // No known item: ranked by training popularity.
        var popular = OnnxParity.PopularTop(train, Items, options.TopK);
        Assert.Equal(popular, top[^1]);
        Assert.Equal(popular, top[^2]);
    }
}
