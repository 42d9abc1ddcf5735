using Microsoft.ML.SearchSpace;

namespace Microsoft.ML.Svae.Tests.Tuning;

public class OptionsSearchSpaceTests
{
    [Fact]
    public void ReadsTheSweepAttributesAndSamplesWithinTheirRanges()
    {
        var space = new OptionsSearchSpace<SvaeTrainer.Options>();
        Assert.Contains(space.Options, o => o.Name == nameof(SvaeTrainer.Options.LearningRate));
        Assert.Contains(space.Options, o => o.Name == nameof(SvaeTrainer.Options.Likelihood));
        Assert.DoesNotContain(space.Options, o => o.Name == nameof(SvaeTrainer.Options.HistoryColumnName));

        var random = new Random(3);
        var baseline = new SvaeTrainer.Options { HistoryColumnName = "Items" };
        for (int trial = 0; trial < 50; trial++)
        {
            var options = space.Sample(random, baseline);
            Assert.Equal("Items", options.HistoryColumnName); // not swept: kept from the baseline
            foreach (var swept in space.Options.Where(o => o.Attribute is RangeAttribute))
            {
                var range = (RangeAttribute)swept.Attribute;
                double value = Convert.ToDouble(swept.Property.GetValue(options));
                Assert.InRange(value, Convert.ToDouble(range.Min) - 1e-12, Convert.ToDouble(range.Max) + 1e-12);
            }
            options.Validate();
        }
    }

    [Fact]
    public void SamplingIsSeeded()
    {
        var space = new OptionsSearchSpace<SvaeTrainer.Options>();
        var a = space.Describe(space.Sample(new Random(9), new SvaeTrainer.Options()));
        var b = space.Describe(space.Sample(new Random(9), new SvaeTrainer.Options()));
        var c = space.Describe(space.Sample(new Random(10), new SvaeTrainer.Options()));
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
    }

    [Fact]
    public void TheTrainingMechanicsAreSampledOnlyWhereAChoiceChangesTheModel()
    {
        var space = new OptionsSearchSpace<SvaeTrainer.Options>();
        var names = space.Options.Select(o => o.Name).ToList();
        // Budget, infrastructure and the objective: never sampled.
        foreach (string name in new[] { "NumberOfEpochs", "EarlyStoppingPatience", "NumberOfThreads", "GpuDeviceId", "FallbackToCpu", "Seed",
            "ValidationCutoff", "MaxPositionsPerBatch", "MaxHistoryLength", "CheckpointFolder", "CheckpointInterval", "TrainingPrecision" })
            Assert.DoesNotContain(name, names);
        Assert.Equal("BatchSize in [4, 512] (log scale)", Find(space, "BatchSize"));
        Assert.Equal("LearningRate in [0.0001, 0.1] (log scale)", Find(space, "LearningRate"));
        Assert.Equal("LearningRateWarmupUpdates in {0, 100, 1000}", Find(space, "LearningRateWarmupUpdates"));
        Assert.Equal("LearningRateDecayEpochs in {0, 5, 10, 20}", Find(space, "LearningRateDecayEpochs"));
        Assert.Equal("WeightDecay in {0, 1E-06, 1E-05, 0.0001, 0.001}", Find(space, "WeightDecay"));
        Assert.Equal("BatchOrder in {Pooled, LengthBuckets}", Find(space, "BatchOrder"));
        Assert.Equal("DecoupledWeightDecay in {false, true}", Find(space, "DecoupledWeightDecay"));

        var random = new Random(1);
        var orders = Enumerable.Range(0, 40).Select(_ => space.Sample(random, new SvaeTrainer.Options()).BatchOrder).ToHashSet();
        Assert.Equal(new[] { BatchOrder.Pooled, BatchOrder.LengthBuckets }.ToHashSet(), orders);
    }

    private static string Find<T>(OptionsSearchSpace<T> space, string name)
        where T : class, new()
        => space.Options.Single(o => o.Name == name).ToString();

    [Fact]
    public void OnlySamplesTheNamedOptionsAndKeepsTheOthersAtTheBaseline()
    {
        var space = new OptionsSearchSpace<Gru4RecTrainer.Options>().Only(new[] { "LearningRate", "DropoutRate" });
        Assert.Equal(new[] { "DropoutRate", "LearningRate" }, space.Options.Select(o => o.Name));
        var baseline = new Gru4RecTrainer.Options { BatchSize = 7, EmbeddingSize = 24, WeightDecay = 0.5 };
        var random = new Random(4);
        var learningRates = new HashSet<double>();
        for (int i = 0; i < 20; i++)
        {
            var options = space.Sample(random, baseline);
            Assert.Equal((7, 24, 0.5, BatchOrder.Pooled), (options.BatchSize, options.EmbeddingSize, options.WeightDecay, options.BatchOrder));
            learningRates.Add(options.LearningRate);
        }
        Assert.Equal(20, learningRates.Count);
    }

    [Fact]
    public void WithRangeNarrowsARangeKeepingItsScale()
    {
        var space = new OptionsSearchSpace<Gru4RecTrainer.Options>().WithRange("LearningRate", 3e-4, 3e-3).WithRange("BatchSize", 8, 10);
        Assert.Equal("LearningRate in [0.0003, 0.003] (log scale)", Find(space, "LearningRate"));
        Assert.Equal("BatchSize in [8, 10] (log scale)", Find(space, "BatchSize"));
        var random = new Random(2);
        var samples = Enumerable.Range(0, 200).Select(_ => space.Sample(random, new Gru4RecTrainer.Options())).ToList();
        Assert.All(samples, o => Assert.InRange(o.LearningRate, 3e-4, 3e-3));
        Assert.Equal(new[] { 8, 9, 10 }, samples.Select(o => o.BatchSize).Distinct().Order());
        // Log-uniform: about half the draws below the geometric mean (about 9.5e-4), not a tenth as a uniform draw would give.
        int below = samples.Count(o => o.LearningRate < Math.Sqrt(3e-4 * 3e-3));
        Assert.InRange(below, 70, 130);
    }

    [Fact]
    public void BadNamesAndRangesNameTheValidValues()
    {
        var space = new OptionsSearchSpace<Gru4RecTrainer.Options>();
        const string options = "BatchOrder, BatchSize, DecoupledWeightDecay, DropoutRate, EmbeddingSize, LearningRate, LearningRateDecayEpochs, LearningRateWarmupUpdates, RecurrentSize, WeightDecay";
        Assert.Equal($"'Foo' is not an option of this search space over Gru4RecTrainer.Options. Its options: {options}. (Parameter 'names')",
            Assert.Throws<ArgumentException>(() => space.Only(new[] { "Foo" })).Message);
        Assert.Equal($"Name at least one option to sweep. The options of this search space over Gru4RecTrainer.Options: {options}. (Parameter 'names')",
            Assert.Throws<ArgumentException>(() => space.Only(Array.Empty<string>())).Message);
        Assert.Equal("The range 0.0001 to 0.2 of LearningRate is outside its declared sweep range: LearningRate in [0.0001, 0.1] (log scale). (Parameter 'min')",
            Assert.Throws<ArgumentException>(() => space.WithRange("LearningRate", 1e-4, 0.2)).Message);
        Assert.Equal("WeightDecay in {0, 1E-06, 1E-05, 0.0001, 0.001} is a choice, not a range: fix it to one value instead, or sweep all its values. (Parameter 'name')",
            Assert.Throws<ArgumentException>(() => space.WithRange("WeightDecay", 0, 1e-4)).Message);
        Assert.Equal("The range of DropoutRate must have its minimum at most its maximum (got 0.5 to 0.1). (Parameter 'min')",
            Assert.Throws<ArgumentException>(() => space.WithRange("DropoutRate", 0.5, 0.1)).Message);
        Assert.Equal("BatchSize takes whole numbers (got 8 to 16.5). (Parameter 'min')",
            Assert.Throws<ArgumentException>(() => space.WithRange("BatchSize", 8, 16.5)).Message);
    }
}
