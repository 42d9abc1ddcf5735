using System.Globalization;
using System.Reflection;
using Microsoft.ML.SearchSpace;

namespace Microsoft.ML.Svae;

/// <summary>One swept hyperparameter: an options property with a <see cref="RangeAttribute"/>,
/// <see cref="ChoiceAttribute"/> or <see cref="BooleanChoiceAttribute"/>.</summary>
public sealed class SweptOption
{
    internal SweptOption(PropertyInfo property, Attribute attribute)
    {
        Property = property;
        Attribute = attribute;
    }

    /// <summary>The property of the options class.</summary>
    public PropertyInfo Property { get; }

    /// <summary>The sweep attribute that defines its range.</summary>
    public Attribute Attribute { get; }

    /// <summary>The property's name.</summary>
    public string Name => Property.Name;

    /// <inheritdoc/>
    public override string ToString() => Attribute switch
    {
        RangeAttribute r => FormattableString.Invariant($"{Name} in [{r.Min}, {r.Max}]{(r.LogBase ? " (log scale)" : "")}"),
        ChoiceAttribute c => $"{Name} in {{{string.Join(", ", c.Candidates.Select(v => Convert.ToString(v, CultureInfo.InvariantCulture)))}}}",
        _ => $"{Name} in {{false, true}}",
    };
}

/// <summary>
/// The search space of a trainer's <c>Options</c>, read from the same <c>Microsoft.ML.SearchSpace</c>
/// attributes that AutoML's <c>SearchSpace&lt;T&gt;</c> reads, with a seeded random sampler. It lets a
/// sweep run without the Microsoft.ML.AutoML package; with AutoML, pass the options type to
/// <c>new SearchSpace&lt;T&gt;()</c> instead (see docs/AUTOML.md).
/// </summary>
/// <typeparam name="TOptions">The options class (properties with sweep attributes).</typeparam>
public sealed class OptionsSearchSpace<TOptions>
    where TOptions : class, new()
{
    /// <summary>Reads the sweep attributes of <typeparamref name="TOptions"/>'s public settable properties.</summary>
    public OptionsSearchSpace()
    {
        Options = typeof(TOptions).GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.CanWrite)
            .Select(p => (p, a: (Attribute?)p.GetCustomAttribute<RangeAttribute>() ?? (Attribute?)p.GetCustomAttribute<ChoiceAttribute>()
                ?? p.GetCustomAttribute<BooleanChoiceAttribute>()))
            .Where(x => x.a is not null)
            .Select(x => new SweptOption(x.p, x.a!))
            .OrderBy(o => o.Name, StringComparer.Ordinal)
            .ToList();
    }

    /// <summary>The swept properties, by name.</summary>
    public IReadOnlyList<SweptOption> Options { get; }

    /// <summary>
    /// A random point: every swept property drawn uniformly (log-uniformly for a log-scale range; integer
    /// ranges inclusive), every other property left at <paramref name="baseline"/>'s value.
    /// </summary>
    public TOptions Sample(Random random, TOptions baseline)
    {
        ArgumentNullException.ThrowIfNull(random);
        ArgumentNullException.ThrowIfNull(baseline);
        var options = Copy(baseline);
        foreach (var option in Options)
            option.Property.SetValue(options, Draw(option, random));
        return options;
    }

    /// <summary>The values of the swept properties of <paramref name="options"/>, by name.</summary>
    public IReadOnlyDictionary<string, object?> Describe(TOptions options)
        => Options.ToDictionary(o => o.Name, o => o.Property.GetValue(options));

    /// <summary>A copy of <paramref name="source"/>: every public settable property copied (a shallow copy).</summary>
    public static TOptions Copy(TOptions source)
    {
        var copy = new TOptions();
        foreach (var p in typeof(TOptions).GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite && p.CanRead))
            p.SetValue(copy, p.GetValue(source));
        return copy;
    }

    private static object? Draw(SweptOption option, Random random)
    {
        var type = Nullable.GetUnderlyingType(option.Property.PropertyType) ?? option.Property.PropertyType;
        switch (option.Attribute)
        {
            case RangeAttribute r:
                double min = Convert.ToDouble(r.Min, CultureInfo.InvariantCulture);
                double max = Convert.ToDouble(r.Max, CultureInfo.InvariantCulture);
                if (type == typeof(int))
                {
                    if (r.LogBase)
                        return (int)Math.Round(Math.Exp(Math.Log(min) + random.NextDouble() * (Math.Log(max) - Math.Log(min))));
                    return random.Next((int)min, (int)max + 1);
                }
                double value = r.LogBase && min > 0
                    ? Math.Exp(Math.Log(min) + random.NextDouble() * (Math.Log(max) - Math.Log(min)))
                    : min + random.NextDouble() * (max - min);
                return Convert.ChangeType(value, type, CultureInfo.InvariantCulture);
            case ChoiceAttribute c:
                object candidate = c.Candidates[random.Next(c.Candidates.Length)];
                return type.IsEnum ? Enum.Parse(type, Convert.ToString(candidate, CultureInfo.InvariantCulture)!)
                    : Convert.ChangeType(candidate, type, CultureInfo.InvariantCulture);
            default:
                return random.Next(2) == 1;
        }
    }
}
