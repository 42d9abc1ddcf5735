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
        typeof(Gru4RecTrainer.Options),
        typeof(SasrecTrainer.Options),
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

    [Theory]
    [MemberData(nameof(OptionTypes))]
    public void EveryChoiceHoldsTheDefaultAsItsDefaultValue(Type type)
    {
        // The attribute's default is a constant, the property's default comes from Defaults: they must agree.
        var defaults = Activator.CreateInstance(type)!;
        foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            var choice = property.GetCustomAttribute<ChoiceAttribute>();
            if (choice is null) continue;
            string value = Convert.ToString(property.GetValue(defaults), System.Globalization.CultureInfo.InvariantCulture)!;
            var candidates = choice.Candidates.Select(c => Convert.ToString(c, System.Globalization.CultureInfo.InvariantCulture)).ToList();
            Assert.Contains(value, candidates);
            // A model whose default differs from the shared one (e.g. Caser's weight decay) still has it among the candidates.
            if (property.DeclaringType == type)
                Assert.Equal(value, Convert.ToString(choice.DefaultValue, System.Globalization.CultureInfo.InvariantCulture));
        }
    }
}
