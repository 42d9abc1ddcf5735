namespace Microsoft.ML.Svae.Tests.Models;

public class FpmcTests : UserKeyedModelTests<FpmcTrainer.Options, FpmcTransformer>
{

    private static FpmcTrainer.Options Small(int epochs = 10, int seed = 7) => new()
    {
        EmbeddingSize = 8,
        NumberOfEpochs = epochs,
        BatchSize = 32,
        LearningRate = 5e-2,
        Lambda = 1e-4,
        Seed = seed,
        TopK = 10,
        EarlyStoppingPatience = 0,
    };

    private protected override FpmcTrainer.Options SmallOptions(int epochs, int seed) => Small(epochs, seed);

    private protected override UserKeyedTrainerBase<FpmcTransformer> Trainer(MLContext ml, FpmcTrainer.Options options) => ml.Recommendation().Trainers.Fpmc(options);

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
        var trainer = ml.Recommendation().Trainers.Fpmc(options);
        using var trained = trainer.TrainModel(data);
        var network = ((FpmcModel)trained.Model).Network;
        var description = new RecommendationModelDescription("FPMC", SequenceColumns.History, Items, options.TopK, true,
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
        EstimatorChecks.Run(ml, ml.Recommendation().Trainers.Fpmc(options), train, validation);

        using var model = ml.Recommendation().Trainers.Fpmc(options).Fit(train);
        UserSequenceTestData.AssertServedIdentically(ml, model, train.Schema, Items, 160,
            new (uint, uint[])[] { (1, new uint[] { 3, 4, 5 }), (130, Array.Empty<uint>()), (0, new uint[] { 30 }), (160, new uint[] { 1 }) });
    }

    [Theory]
    [InlineData(nameof(FpmcTrainer.Options.EmbeddingSize), 0)]
    [InlineData(nameof(FpmcTrainer.Options.NumberOfEpochs), 0)]
    [InlineData(nameof(FpmcTrainer.Options.BatchSize), -1)]
    [InlineData(nameof(FpmcTrainer.Options.Lambda), -1.0)]
    public void BadOptionsFailWithTheOptionsName(string option, object value)
    {
        var options = Small();
        var property = typeof(FpmcTrainer.Options).GetProperty(option)!;
        property.SetValue(options, Convert.ChangeType(value, property.PropertyType, System.Globalization.CultureInfo.InvariantCulture));
        var error = Assert.ThrowsAny<ArgumentException>(() => new MLContext().Recommendation().Trainers.Fpmc(options));
        Assert.Contains(option, error.Message);
    }
}
