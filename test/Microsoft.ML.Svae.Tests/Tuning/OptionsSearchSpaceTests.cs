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
}
