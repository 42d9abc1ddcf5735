namespace Microsoft.ML.Svae.Tests.Models;

public class CaserTests : UserKeyedModelTests<CaserTrainer.Options, CaserTransformer>
{

    private static CaserTrainer.Options Small(int epochs = 10, int seed = 7) => new()
    {
        EmbeddingSize = 16,
        SequenceLength = 3,
        TargetLength = 2,
        HorizontalFilters = 4,
        VerticalFilters = 2,
        DropoutRate = 0.2,
        NumberOfEpochs = epochs,
        BatchSize = 16,
        LearningRate = 1e-2,
        Seed = seed,
        TopK = 10,
        EarlyStoppingPatience = 0,
    };

    private protected override CaserTrainer.Options SmallOptions(int epochs, int seed) => Small(epochs, seed);

    private protected override UserKeyedTrainerBase<CaserTransformer> Trainer(MLContext ml, CaserTrainer.Options options) => ml.Recommendation().Trainers.Caser(options);

    private protected override (IDataView Train, IDataView Validation) PlantedData(MLContext ml) => UserSequenceTestData.CycleProtocol(ml, Items);

    private protected override int PlantedEpochs => 10;

    private protected override int PlantedUserCount => 160;

    [Fact]
    public void OnnxGraphMatchesTheTorchSharpForwardPass()
    {
        var ml = new MLContext(seed: 1);
        var (train, _) = UserSequenceTestData.CycleProtocol(ml, Items);
        var options = Small(epochs: 3);
        options.OutputScores = true;
        var history = UserSequences.Read(train, SequenceColumns.History, "history");
        var data = UserKeyedData.Read(ml, train, history, null, options, options.UserIdColumnName);
        var trainer = ml.Recommendation().Trainers.Caser(options);
        using var trained = trainer.TrainModel(data);
        var network = ((CaserModel)trained.Model).Network;
        var description = new RecommendationModelDescription("Caser", SequenceColumns.History, Items, options.TopK, true,
            Enumerable.Range(1, Items).Select(i => (long)i).ToArray()) { UserIdColumnName = SequenceColumns.UserId, UserCount = data.UserCount };
        using var model = trainer.CreateTransformer(description, trained);
        UserSequenceTestData.AssertOnnxMatchesNetwork(ml, model, network, Items, data.UserCount);
    }

    [Fact]
    public void SavedModelScoresIdenticallyInAProcessWithoutThisLibrary()
    {
        var ml = new MLContext(seed: 1);
        var (train, validation) = UserSequenceTestData.CycleProtocol(ml, Items);
        var options = Small(epochs: 2);
        options.TopK = 5;
        EstimatorChecks.Run(ml, ml.Recommendation().Trainers.Caser(options), train, validation);

        using var model = ml.Recommendation().Trainers.Caser(options).Fit(train);
        UserSequenceTestData.AssertServedIdentically(ml, model, train.Schema, Items, 160,
            new (uint, uint[])[] { (1, new uint[] { 3, 4, 5 }), (130, Array.Empty<uint>()), (0, new uint[] { 30 }), (160, new uint[] { 1 }) });
    }

    [Theory]
    [InlineData(nameof(CaserTrainer.Options.SequenceLength), 0)]
    [InlineData(nameof(CaserTrainer.Options.TargetLength), 0)]
    [InlineData(nameof(CaserTrainer.Options.HorizontalFilters), 0)]
    [InlineData(nameof(CaserTrainer.Options.NegativesPerPositive), 0)]
    [InlineData(nameof(CaserTrainer.Options.DropoutRate), 1.0)]
    [InlineData(nameof(CaserTrainer.Options.NumberOfEpochs), 0)]
    public void BadOptionsFailWithTheOptionsName(string option, object value)
    {
        var options = Small();
        var property = typeof(CaserTrainer.Options).GetProperty(option)!;
        property.SetValue(options, Convert.ChangeType(value, property.PropertyType, System.Globalization.CultureInfo.InvariantCulture));
        var error = Assert.ThrowsAny<ArgumentException>(() => new MLContext().Recommendation().Trainers.Caser(options));
        Assert.Contains(option, error.Message);
    }

    [Fact]
    public void HistoriesShorterThanTheWindowArePaddedNotRejected()
    {
        var ml = new MLContext(seed: 1);
        // Training users with 1..4 events (L = 3, T = 2: most are shorter than L + T, some shorter than L).
        var walks = CycleData.Walks(60, Items, 1, 4, seed: 5);
        var train = UserSequenceTestData.Rows(ml, Items, walks.Count, Enumerable.Range(1, walks.Count).Select(k => (uint)k), walks);
        var options = Small(epochs: 2);
        options.OutputScores = true;
        Assert.Equal(0, CaserModel.Windows(1, 3, 2));
        Assert.Equal(1, CaserModel.Windows(2, 3, 2));
        Assert.Equal(1, CaserModel.Windows(4, 3, 2));
        Assert.Equal(2, CaserModel.Windows(6, 3, 2));

        using var model = ml.Recommendation().Trainers.Caser(options).Fit(train);
        var scoring = UserSequenceTestData.Rows(ml, Items, walks.Count, new uint[] { 1, 2, 3 },
            new[] { Array.Empty<uint>(), new uint[] { 4 }, new uint[] { 4, 5 } });
        var scores = SequenceTestData.FloatColumn(model.Transform(scoring), SequenceColumns.Scores);
        Assert.All(scores, row => Assert.Equal(Items, row.Count(float.IsFinite) + row.Count(float.IsNegativeInfinity)));
        Assert.Equal(Items, scores[0].Count(float.IsFinite));
        Assert.Equal(Items - 2, scores[2].Count(float.IsFinite));
    }
}
