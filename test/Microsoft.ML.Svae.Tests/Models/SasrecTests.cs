namespace Microsoft.ML.Svae.Tests.Models;

public class SasrecTests : NextItemModelTests<SasrecTrainer.Options, SasrecTransformer>
{
    private protected override SasrecTrainer.Options SmallOptions(int epochs, int seed) => Small(epochs, seed);

    private protected override SequenceTrainerBase<SasrecTransformer> Trainer(MLContext ml, SasrecTrainer.Options options) => ml.Recommendation().Trainers.Sasrec(options);

    // The window (12) is shorter than the parity test's long history, so the graph's slicing is checked.
    private static SasrecTrainer.Options Small(int epochs = 10, int seed = 7) => new()
    {
        EmbeddingSize = 16,
        NumberOfHeads = 2,
        MaxHistoryLength = 12,
        DropoutRate = 0.1,
        NumberOfEpochs = epochs,
        BatchSize = 16,
        LearningRate = 1e-2,
        Seed = seed,
        TopK = 10,
        EarlyStoppingPatience = 0,
    };

    [Fact]
    public void SampledBinaryCrossEntropyAlsoLearnsTheCycle()
    {
        var ml = new MLContext(seed: 1);
        var (train, validation) = PlantedData(ml);
        var options = Small(epochs: 10);
        options.Loss = NextItemLoss.SampledBinaryCrossEntropy;
        options.NegativesPerPositive = 2;
        using var model = ml.Recommendation().Trainers.Sasrec(options).Fit(train, validation);
        using var pop = ml.Recommendation().Trainers.Popularity(topK: 10).Fit(train);
        var metrics = ml.Recommendation().Evaluate(model.Transform(validation), cutoffs: new[] { 10 });
        var popMetrics = ml.Recommendation().Evaluate(pop.Transform(validation), cutoffs: new[] { 10 });
        Assert.True(metrics.Ndcg(10) > popMetrics.Ndcg(10) + 0.3, $"NDCG@10 {metrics.Ndcg(10):F3} vs POP {popMetrics.Ndcg(10):F3}");
    }

    [Fact]
    public void DefaultsAreKangAndMcAuleysMovieLens1MSetting()
    {
        var options = new SasrecTrainer.Options();
        Assert.Equal((50, 2, 1, 0.2, 200), (options.EmbeddingSize, options.NumberOfBlocks, options.NumberOfHeads, options.DropoutRate, options.MaxHistoryLength));
        Assert.Equal((1e-3, 128, NextItemLoss.CrossEntropy, 1), (options.LearningRate, options.BatchSize, options.Loss, options.NegativesPerPositive));
    }

    [Theory]
    [InlineData(nameof(SasrecTrainer.Options.EmbeddingSize), 0)]
    [InlineData(nameof(SasrecTrainer.Options.NumberOfBlocks), 0)]
    [InlineData(nameof(SasrecTrainer.Options.NumberOfHeads), 3)] // 16 is not a multiple of 3
    [InlineData(nameof(SasrecTrainer.Options.NegativesPerPositive), 0)]
    [InlineData(nameof(SasrecTrainer.Options.DropoutRate), 1.0)]
    [InlineData(nameof(SasrecTrainer.Options.MaxHistoryLength), null)]
    public void BadOptionsFailWithTheOptionsName(string option, object? value)
    {
        var options = Small();
        typeof(SasrecTrainer.Options).GetProperty(option)!.SetValue(options, value);
        var error = Assert.ThrowsAny<ArgumentException>(() => new MLContext().Recommendation().Trainers.Sasrec(options));
        Assert.Contains(option, error.Message);
    }

    [Fact]
    public void ANonMultipleOfTheHeadsSaysWhatItMustBe()
    {
        var options = Small();
        options.NumberOfHeads = 3;
        var error = Assert.ThrowsAny<ArgumentException>(() => new MLContext().Recommendation().Trainers.Sasrec(options));
        Assert.Contains("EmbeddingSize (16) must be a multiple of NumberOfHeads (3)", error.Message);
    }
}
