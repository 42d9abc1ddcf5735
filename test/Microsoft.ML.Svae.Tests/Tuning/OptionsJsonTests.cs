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

    [Theory]
    [InlineData(typeof(SequenceTrainerOptions), typeof(SequenceTrainerDefaults))]
    [InlineData(typeof(VariationalTrainerOptions), typeof(VariationalTrainerDefaults))]
    public void SharedOptionsSweepAttributesNameTheirDefaultsConstant(Type options, Type defaults)
    {
        // The shared options' attributes are read by every model's sweep; their default must be the Defaults constant
        // of the same name (the models that change a shared default are checked by the candidate test above).
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        int checkedCount = 0;
        foreach (var property in options.GetProperties(BindingFlags.Public | BindingFlags.Instance | BindingFlags.DeclaredOnly))
        {
            object? attributeDefault = property.GetCustomAttribute<ChoiceAttribute>()?.DefaultValue
                ?? property.GetCustomAttribute<BooleanChoiceAttribute>()?.DefaultValue
                ?? property.GetCustomAttribute<RangeAttribute>()?.Init;
            if (attributeDefault is null) continue;
            var constant = defaults.GetField(property.Name, BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static);
            Assert.True(constant is not null, $"{defaults.Name} has no constant {property.Name}.");
            Assert.Equal(Convert.ToString(constant!.GetValue(null), inv), Convert.ToString(attributeDefault, inv));
            checkedCount++;
        }
        Assert.True(checkedCount >= 2, $"only {checkedCount} sweep attributes on {options.Name}");
    }
}
