namespace Microsoft.ML.Svae.Tests.Common;

/// <summary>
/// The checks every variational model (SVAE, MVAE, RVAE) adds to <see cref="HistoryModelTests{TOptions, TTransformer}"/>:
/// the KL options' errors. Each model's test class keeps its own learning and parity tests.
/// </summary>
public abstract class VariationalModelTests<TOptions, TTransformer> : HistoryModelTests<TOptions, TTransformer>
    where TOptions : VariationalTrainerOptions
    where TTransformer : TrainedRecommendationTransformer
{
    [Theory]
    [InlineData(nameof(VariationalTrainerOptions.KlWeightCap), -1.0)]
    [InlineData(nameof(VariationalTrainerOptions.KlAnnealingSteps), 0)]
    public void BadKlOptionsFailWithTheOptionsName(string option, object value)
    {
        var options = SmallOptions(1, 7);
        typeof(TOptions).GetProperty(option)!.SetValue(options, value);
        var error = Assert.ThrowsAny<ArgumentException>(() => Trainer(new MLContext(), options));
        Assert.Contains(option, error.Message);
    }
}
