namespace Microsoft.ML.Svae.Tests.Models;

public class BprTests : UserKeyedModelTests<BprTrainer.Options, BprTransformer>
{
    private const int Groups = 3;

    private static BprTrainer.Options Small(int epochs = 15, int seed = 7) => new()
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

    private protected override BprTrainer.Options SmallOptions(int epochs, int seed) => Small(epochs, seed);

    private protected override UserKeyedTrainerBase<BprTransformer> Trainer(MLContext ml, BprTrainer.Options options) => ml.Recommendation().Trainers.Bpr(options);

    private protected override (IDataView Train, IDataView Validation) PlantedData(MLContext ml) => UserSequenceTestData.GroupProtocol(ml, Items, Groups);

    private protected override int PlantedEpochs => 15;

    private protected override int PlantedUserCount => 120;

    [Fact]
    public void OnnxGraphMatchesTheTorchSharpForwardPass()
    {
        var ml = new MLContext(seed: 1);
        var (train, _) = UserSequenceTestData.GroupProtocol(ml, Items, Groups);
        var options = Small(epochs: 3);
        options.OutputScores = true;
        var history = UserSequences.Read(train, SequenceColumns.History, "history");
        var data = UserKeyedData.Read(ml, train, history, null, options, options.UserIdColumnName);
        var trainer = ml.Recommendation().Trainers.Bpr(options);
        using var trained = trainer.TrainModel(data);
        var network = ((BprModel)trained.Model).Network;
        var description = new RecommendationModelDescription("BPR", SequenceColumns.History, Items, options.TopK, true,
            Enumerable.Range(1, Items).Select(i => (long)i).ToArray()) { UserIdColumnName = SequenceColumns.UserId, UserCount = data.UserCount };
        using var model = trainer.CreateTransformer(description, trained);
        UserSequenceTestData.AssertOnnxMatchesNetwork(ml, model, network, Items, data.UserCount);
    }

    [Fact]
    public void SavedModelScoresIdenticallyInAProcessWithoutThisLibrary()
    {
        var ml = new MLContext(seed: 1);
        var (train, validation) = UserSequenceTestData.GroupProtocol(ml, Items, Groups);
        var options = Small(epochs: 2);
        options.TopK = 5;
        EstimatorChecks.Run(ml, ml.Recommendation().Trainers.Bpr(options), train, validation);

        using var model = ml.Recommendation().Trainers.Bpr(options).Fit(train);
        UserSequenceTestData.AssertServedIdentically(ml, model, train.Schema, Items, 120,
            new (uint, uint[])[] { (1, new uint[] { 3, 4, 5 }), (95, Array.Empty<uint>()), (0, new uint[] { 30 }), (120, new uint[] { 1 }) });
    }

    [Fact]
    public void CustomColumnNamesAreReadAndFedToTheGraph()
    {
        var ml = new MLContext(seed: 1);
        var (train, validation) = UserSequenceTestData.GroupProtocol(ml, Items, Groups);
        var rename = ml.Transforms.CopyColumns("Items", SequenceColumns.History)
            .Append(ml.Transforms.CopyColumns("Customer", SequenceColumns.UserId))
            .Fit(train);
        var options = Small(epochs: 2);
        options.HistoryColumnName = "Items";
        options.UserIdColumnName = "Customer";
        using var renamed = ml.Recommendation().Trainers.Bpr(options).Fit(rename.Transform(train));
        using var plain = ml.Recommendation().Trainers.Bpr(Small(epochs: 2)).Fit(train);
        Assert.Equal("Customer", renamed.UserIdColumnName);
        Assert.Equal(SequenceTestData.KeyColumn(plain.Transform(validation), SequenceColumns.TopItems),
            SequenceTestData.KeyColumn(renamed.Transform(rename.Transform(validation)), SequenceColumns.TopItems));
    }

    [Theory]
    [InlineData(nameof(BprTrainer.Options.EmbeddingSize), 0)]
    [InlineData(nameof(BprTrainer.Options.NumberOfEpochs), 0)]
    [InlineData(nameof(BprTrainer.Options.BatchSize), -1)]
    [InlineData(nameof(BprTrainer.Options.Lambda), -1.0)]
    public void BadOptionsFailWithTheOptionsName(string option, object value)
    {
        var options = Small();
        var property = typeof(BprTrainer.Options).GetProperty(option)!;
        property.SetValue(options, Convert.ChangeType(value, property.PropertyType, System.Globalization.CultureInfo.InvariantCulture));
        var error = Assert.ThrowsAny<ArgumentException>(() => new MLContext().Recommendation().Trainers.Bpr(options));
        Assert.Contains(option, error.Message);
    }
}
