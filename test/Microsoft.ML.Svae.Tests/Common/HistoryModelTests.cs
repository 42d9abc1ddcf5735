namespace Microsoft.ML.Svae.Tests.Common;

/// <summary>
/// The checks every model that scores a user from the history alone (SVAE, MVAE, RVAE, GRU4Rec, SASRec) shares: a
/// saved model scores identically without this library, seeded determinism, the shared options' errors and
/// validation data in another vocabulary. Each model's test class supplies its small options, trainer and planted data.
/// </summary>
public abstract class HistoryModelTests<TOptions, TTransformer>
    where TOptions : SequenceTrainerOptions
    where TTransformer : TrainedRecommendationTransformer
{
    private protected abstract int ItemCount { get; }

    private protected abstract TOptions SmallOptions(int epochs, int seed);

    private protected abstract SequenceTrainerBase<TTransformer> Trainer(MLContext ml, TOptions options);

    /// <summary>Training data and validation users (fold-in and fold-out) with the model's planted pattern.</summary>
    private protected abstract (IDataView Train, IDataView Validation) PlantedData(MLContext ml);

    /// <summary>Histories scored by the separate serving process.</summary>
    private protected virtual uint[][] ServingHistories => [[3, 4, 5], [], [30], [0, 99]];

    [Fact]
    public void SavedModelScoresIdenticallyInAProcessWithoutThisLibrary()
    {
        var ml = new MLContext(seed: 1);
        var (train, _) = PlantedData(ml);
        var options = SmallOptions(2, 7);
        options.TopK = 5;
        EstimatorChecks.Run(ml, Trainer(ml, options), train, train);

        using var model = Trainer(ml, options).Fit(train);
        var histories = ServingHistories;
        ServingApp.AssertServedIdentically(ml, model, train.Schema, SequenceTestData.Histories(ml, ItemCount, histories), histories);
    }

    [Fact]
    public void SameSeedGivesTheSameModel()
    {
        var ml = new MLContext(seed: 1);
        var (train, validation) = PlantedData(ml);
        List<float[]> Scores(int seed)
        {
            using var model = Trainer(ml, SmallOptions(2, seed)).Fit(train);
            return SequenceTestData.FloatColumn(model.Transform(validation), SequenceColumns.TopScores);
        }
        Assert.Equal(Scores(11), Scores(11));
        Assert.NotEqual(Scores(11), Scores(12));
    }

    [Theory]
    [InlineData(nameof(SequenceTrainerOptions.NumberOfEpochs), 0)]
    [InlineData(nameof(SequenceTrainerOptions.BatchSize), -1)]
    [InlineData(nameof(SequenceTrainerOptions.LearningRate), 0.0)]
    public void BadSharedOptionsFailWithTheOptionsName(string option, object value)
    {
        var options = SmallOptions(1, 7);
        typeof(TOptions).GetProperty(option)!.SetValue(options, value);
        var error = Assert.ThrowsAny<ArgumentException>(() => Trainer(new MLContext(), options));
        Assert.Contains(option, error.Message);
    }

    [Fact]
    public void ValidationDataWithAnotherVocabularyFails()
    {
        var ml = new MLContext(seed: 1);
        var (train, _) = PlantedData(ml);
        var other = SequenceTestData.Histories(ml, ItemCount + 5, new[] { new uint[] { 1, 2 } }, new[] { new uint[] { 3 } });
        var error = Assert.ThrowsAny<ArgumentException>(() => Trainer(ml, SmallOptions(1, 7)).Fit(train, other));
        Assert.Contains("vocabulary", error.Message);
    }
}
