using System.Reflection;
using System.Text.Json;
using Microsoft.ML.SearchSpace;

namespace Microsoft.ML.Svae.Tests.Tuning;

/// <summary>
/// AutoML binds a sampled parameter to a trainer's options through System.Text.Json, so options must be
/// properties (fields are ignored by default) that survive a round trip, and every sweep range must contain
/// the option's default.
/// </summary>
public class OptionsJsonTests
{
    public static TheoryData<Type> OptionTypes => new()
    {
        typeof(PopularityTrainer.Options),
        typeof(SvaeTrainer.Options),
        typeof(MvaeTrainer.Options),
        typeof(RvaeTrainer.Options),
        typeof(BprTrainer.Options),
        typeof(FpmcTrainer.Options),
        typeof(CaserTrainer.Options),
        typeof(SequentialVaeTrainer.Options),
    };

    [Theory]
    [MemberData(nameof(OptionTypes))]
    public void OptionsRoundTripThroughSystemTextJson(Type type)
    {
        Assert.Empty(type.GetFields(BindingFlags.Public | BindingFlags.Instance));
        var space = Activator.CreateInstance(typeof(OptionsSearchSpace<>).MakeGenericType(type))!;
        var sample = space.GetType().GetMethod("Sample")!;
        var options = sample.Invoke(space, new[] { new Random(5), Activator.CreateInstance(type)! })!;

        string json = JsonSerializer.Serialize(options, type);
        var back = JsonSerializer.Deserialize(json, type)!;
        foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite))
            Assert.Equal(property.GetValue(options), property.GetValue(back));
    }

    [Theory]
    [MemberData(nameof(OptionTypes))]
    public void EverySweepRangeContainsTheDefault(Type type)
    {
        var defaults = Activator.CreateInstance(type)!;
        foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            var range = property.GetCustomAttribute<RangeAttribute>();
            if (range is null) continue;
            double value = Convert.ToDouble(property.GetValue(defaults));
            Assert.InRange(value, Convert.ToDouble(range.Min), Convert.ToDouble(range.Max));
        }
    }
}
