namespace Microsoft.ML.Svae.Tests.Common;

/// <summary>
/// The checks every model with per-user parameters (BPR, FPMC, Caser) shares: learning the planted pattern
/// better than POP, seeded determinism and the user column's errors. Each model's test class supplies its small options, trainer and planted data.
/// </summary>
public abstract class UserKeyedModelTests<TOptions, TTransformer>
    where TOptions : UserKeyedTrainerOptions
    where TTransformer : UserKeyedRecommendationTransformer
{
    protected const int Items = 30;

    private protected abstract TOptions SmallOptions(int epochs, int seed);

    private protected abstract UserKeyedTrainerBase<TTransformer> Trainer(MLContext ml, TOptions options);

    /// <summary>Training data and validation users with the model's planted pattern.</summary>
    private protected abstract (IDataView Train, IDataView Validation) PlantedData(MLContext ml);

    /// <summary>The epochs the model needs to learn <see cref="PlantedData"/>.</summary>
    private protected abstract int PlantedEpochs { get; }

    /// <summary>The users of <see cref="PlantedData"/>'s training data (training users and held-out fold-ins).</summary>
    private protected abstract int PlantedUserCount { get; }

    [Fact]
    public void LearnsThePlantedPatternAndBeatsPopularity()
    {
        var ml = new MLContext(seed: 1);
        var (train, validation) = PlantedData(ml);
        using var model = Trainer(ml, SmallOptions(PlantedEpochs, 7)).Fit(train, validation);
        using var pop = ml.Recommendation().Trainers.Popularity(topK: 10).Fit(train);
        var modelMetrics = ml.Recommendation().Evaluate(model.Transform(validation), cutoffs: new[] { 1, 10 });
        var popMetrics = ml.Recommendation().Evaluate(pop.Transform(validation), cutoffs: new[] { 1, 10 });

        Assert.True(modelMetrics.Ndcg(10) > popMetrics.Ndcg(10) + 0.3,
            $"{GetType().Name}: NDCG@10 {modelMetrics.Ndcg(10):F3} should clearly beat POP {popMetrics.Ndcg(10):F3} on the planted pattern.");
        var losses = model.TrainingHistory.Select(e => e.TrainingLoss).ToList();
        Assert.True(losses[^1] < losses[0], $"The training loss should decrease: {string.Join(", ", losses)}");
        Assert.All(model.TrainingHistory, e => Assert.NotNull(e.ValidationNdcg));
        Assert.Equal(SequenceColumns.UserId, model.UserIdColumnName);
        Assert.Equal(PlantedUserCount, model.UserCount);
    }

    [Fact]
    public void SameSeedGivesTheSameModel()
    {
        var ml = new MLContext(seed: 1);
        var (train, validation) = PlantedData(ml);
        List<float[]> Scores(int seed)
        {
            using var model = Trainer(ml, SmallOptions(2, seed)).Fit(train, validation);
            return SequenceTestData.FloatColumn(model.Transform(validation), SequenceColumns.TopScores);
        }
        Assert.Equal(Scores(11), Scores(11));
        Assert.NotEqual(Scores(11), Scores(12));
    }

    [Fact]
    public void AMissingOrWronglyTypedUserColumnFailsWithItsName()
    {
        var ml = new MLContext(seed: 1);
        var (train, _) = PlantedData(ml);
        var (missing, wrong) = UserSequenceTestData.BadUserColumns(ml, Items);
        var trainer = Trainer(ml, SmallOptions(1, 7));

        var shapeMissing = Assert.ThrowsAny<ArgumentException>(() => trainer.GetOutputSchema(UserSequenceTestData.ShapeOf(missing.Schema)));
        Assert.Contains("'UserId'", shapeMissing.Message);
        var shapeWrong = Assert.ThrowsAny<ArgumentException>(() => trainer.GetOutputSchema(UserSequenceTestData.ShapeOf(wrong.Schema)));
        Assert.Contains("'UserId'", shapeWrong.Message);
        Assert.Contains("Key<UInt32>", shapeWrong.Message);

        var fitMissing = Assert.ThrowsAny<ArgumentException>(() => trainer.Fit(missing));
        Assert.Contains("'UserId'", fitMissing.Message);
        var fitWrong = Assert.ThrowsAny<ArgumentException>(() => trainer.Fit(wrong));
        Assert.Contains("'UserId'", fitWrong.Message);
        Assert.Contains("Key<UInt32>", fitWrong.Message);

        using var model = trainer.Fit(train);
        Assert.Contains("'UserId'", Assert.ThrowsAny<ArgumentException>(() => model.Transform(missing)).Message);
        Assert.Contains("'UserId'", Assert.ThrowsAny<ArgumentException>(() => model.Transform(wrong)).Message);

        var other = SmallOptions(1, 7);
        other.UserIdColumnName = "Customer";
        var custom = Assert.ThrowsAny<ArgumentException>(() => Trainer(ml, other).Fit(train));
        Assert.Contains("'Customer'", custom.Message);
    }
}
