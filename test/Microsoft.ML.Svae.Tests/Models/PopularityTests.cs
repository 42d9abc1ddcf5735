namespace Microsoft.ML.Svae.Tests.Models;

public class PopularityTests
{
    private static readonly uint[][] Train =
    {
        new uint[] { 1, 2, 3 },
        new uint[] { 2, 3 },
        new uint[] { 3, 4 },
        new uint[] { 3, 5, 2 },
    }; // counts: item3 = 4, item2 = 3, item1 = 1, item4 = 1, item5 = 1, item6 = 0

    [Fact]
    public void RecommendsMostPopularUnseenItems()
    {
        var ml = new MLContext(seed: 1);
        var train = SequenceTestData.Histories(ml, 6, Train);
        using var model = ml.Recommendation().Trainers.Popularity(topK: 4).Fit(train);
        var scored = model.Transform(SequenceTestData.Histories(ml, 6, new[] { new uint[] { 3 }, Array.Empty<uint>(), new uint[] { 0, 2, 9 } }));
        var top = SequenceTestData.KeyColumn(scored, SequenceColumns.TopItems);
        var scores = SequenceTestData.FloatColumn(scored, SequenceColumns.TopScores);

        // Seen item 3 excluded; ties among counts of 1 go to the lower key.
        Assert.Equal(new uint[] { 2, 1, 4, 5 }, top[0]);
        Assert.Equal(new float[] { 3, 1, 1, 1 }, scores[0]);
        // Empty history: plain popularity.
        Assert.Equal(new uint[] { 3, 2, 1, 4 }, top[1]);
        // Unknown keys (0 and 9 > N) are ignored, known seen item 2 excluded.
        Assert.Equal(new uint[] { 3, 1, 4, 5 }, top[2]);
    }

    [Fact]
    public void PassesEstimatorChecks()
    {
        var ml = new MLContext(seed: 1);
        var train = SequenceTestData.Histories(ml, 6, Train);
        EstimatorChecks.Run(ml, ml.Recommendation().Trainers.Popularity(topK: 3), train, train);
    }

    [Fact]
    public void RejectsBadOptions()
    {
        var ml = new MLContext();
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Recommendation().Trainers.Popularity(topK: 0));
        Assert.Contains("TopK", error.Message);
    }

    [Fact]
    public void RejectsEmptyTrainingData()
    {
        var ml = new MLContext();
        var empty = SequenceTestData.Histories(ml, 4, Array.Empty<uint[]>());
        var error = Assert.ThrowsAny<ArgumentException>(() => ml.Recommendation().Trainers.Popularity().Fit(empty));
        Assert.Contains("no events", error.Message);
    }
}

public class PopularityServingTests
{
    [Fact]
    public void SavedModelScoresIdenticallyInAProcessWithoutThisLibrary()
    {
        var ml = new MLContext(seed: 1);
        var train = SequenceTestData.Histories(ml, 6, new[] { new uint[] { 1, 2, 3 }, new uint[] { 2, 3 }, new uint[] { 3, 4 } });
        // Inside a larger pipeline: the recommender is one step of an ML.NET chain.
        var pipeline = ml.Transforms.CopyColumns("HistoryCopy", SequenceColumns.History)
            .Append(ml.Recommendation().Trainers.Popularity(topK: 3));
        var model = pipeline.Fit(train);
        var histories = new[] { new uint[] { 3 }, Array.Empty<uint>(), new uint[] { 1, 2 } };
        try
        {
            ServingApp.AssertServedIdentically(ml, model, train.Schema, SequenceTestData.Histories(ml, 6, histories), histories);
        }
        finally
        {
            foreach (var t in model) (t as IDisposable)?.Dispose();
        }
    }
}
