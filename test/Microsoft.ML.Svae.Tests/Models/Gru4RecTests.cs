namespace Microsoft.ML.Svae.Tests.Models;

public class Gru4RecTests : NextItemModelTests<Gru4RecTrainer.Options, Gru4RecTransformer>
{
    private protected override Gru4RecTrainer.Options SmallOptions(int epochs, int seed) => Small(epochs, seed);

    private protected override SequenceTrainerBase<Gru4RecTransformer> Trainer(MLContext ml, Gru4RecTrainer.Options options) => ml.Recommendation().Trainers.Gru4Rec(options);

    private static Gru4RecTrainer.Options Small(int epochs = 10, int seed = 7) => new()
    {
        EmbeddingSize = 16,
        RecurrentSize = 24,
        NumberOfEpochs = epochs,
        BatchSize = 16,
        LearningRate = 1e-2,
        Seed = seed,
        TopK = 10,
        EarlyStoppingPatience = 0,
    };

    [Fact]
    public void DefaultsAreRecBolesGru4Rec()
    {
        var options = new Gru4RecTrainer.Options();
        Assert.Equal((64, 128, 0.3), (options.EmbeddingSize, options.RecurrentSize, options.DropoutRate));
        Assert.Equal((1e-3, 16, 100), (options.LearningRate, options.BatchSize, options.NumberOfEpochs));
        var simple = new MLContext().Recommendation().Trainers.Gru4Rec();
        Assert.NotNull(simple);
    }

    [Theory]
    [InlineData(nameof(Gru4RecTrainer.Options.EmbeddingSize), 0)]
    [InlineData(nameof(Gru4RecTrainer.Options.RecurrentSize), 0)]
    [InlineData(nameof(Gru4RecTrainer.Options.DropoutRate), 1.0)]
    [InlineData(nameof(Gru4RecTrainer.Options.DropoutRate), -0.1)]
    public void BadOptionsFailWithTheOptionsName(string option, object value)
    {
        var options = Small();
        typeof(Gru4RecTrainer.Options).GetProperty(option)!.SetValue(options, value);
        var error = Assert.ThrowsAny<ArgumentException>(() => new MLContext().Recommendation().Trainers.Gru4Rec(options));
        Assert.Contains(option, error.Message);
    }
}
