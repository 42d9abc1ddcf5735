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

    private OptionsSearchSpace(IReadOnlyList<SweptOption> options) => Options = options;

    /// <summary>The swept properties, by name.</summary>
    public IReadOnlyList<SweptOption> Options { get; }

    /// <summary>
    /// This space restricted to the options named in <paramref name="names"/> (exact case); every other option keeps
    /// the baseline's value when sampling.
    /// </summary>
    /// <exception cref="ArgumentException">A name is not an option of this space (the message lists the valid ones), or no name is given.</exception>
    public OptionsSearchSpace<TOptions> Only(IEnumerable<string> names)
    {
        ArgumentNullException.ThrowIfNull(names);
        var wanted = names.ToList();
        if (wanted.Count == 0)
            throw new ArgumentException($"Name at least one option to sweep. The options of this search space over {OptionsName}: {ValidNames()}.", nameof(names));
        foreach (string name in wanted)
        {
            if (!Options.Any(o => o.Name == name))
                throw new ArgumentException($"'{name}' is not an option of this search space over {OptionsName}. Its options: {ValidNames()}.", nameof(names));
        }
        return new OptionsSearchSpace<TOptions>(Options.Where(o => wanted.Contains(o.Name)).ToList());
    }

    /// <summary>
    /// This space with the range of <paramref name="name"/> narrowed to [<paramref name="min"/>, <paramref name="max"/>]
    /// (inclusive; integer options take whole numbers), keeping its log scale. The new range must lie inside the
    /// option's <see cref="RangeAttribute"/>: the declared sweep range, which may be narrower than the values the options accept.
    /// </summary>
    /// <exception cref="ArgumentException">The option is not in this space, has a choice rather than a range, or the range is empty or outside the declared one.</exception>
    public OptionsSearchSpace<TOptions> WithRange(string name, double min, double max)
    {
        ArgumentNullException.ThrowIfNull(name);
        var option = Options.FirstOrDefault(o => o.Name == name)
            ?? throw new ArgumentException($"'{name}' is not an option of this search space over {OptionsName}. Its options: {ValidNames()}.", nameof(name));
        if (option.Attribute is not RangeAttribute declared)
            throw new ArgumentException($"{option} is a choice, not a range: fix it to one value instead, or sweep all its values.", nameof(name));
        double declaredMin = Convert.ToDouble(declared.Min, CultureInfo.InvariantCulture);
        double declaredMax = Convert.ToDouble(declared.Max, CultureInfo.InvariantCulture);
        if (!(min <= max) || double.IsNaN(min) || double.IsNaN(max))
            throw new ArgumentException(FormattableString.Invariant($"The range of {name} must have its minimum at most its maximum (got {min} to {max})."), nameof(min));
        if (min < declaredMin || max > declaredMax)
            throw new ArgumentException(FormattableString.Invariant($"The range {min} to {max} of {name} is outside its declared sweep range: {option}."), nameof(min));
        var type = Nullable.GetUnderlyingType(option.Property.PropertyType) ?? option.Property.PropertyType;
        Attribute narrowed;
        if (type == typeof(int))
        {
            if (min != Math.Floor(min) || max != Math.Floor(max))
                throw new ArgumentException(FormattableString.Invariant($"{name} takes whole numbers (got {min} to {max})."), nameof(min));
            int init = (int)Math.Clamp(Convert.ToDouble(declared.Init, CultureInfo.InvariantCulture), min, max);
            narrowed = new RangeAttribute((int)min, (int)max, init, declared.LogBase);
        }
        else
        {
            double init = Math.Clamp(Convert.ToDouble(declared.Init, CultureInfo.InvariantCulture), min, max);
            narrowed = new RangeAttribute(min, max, init, declared.LogBase);
        }
        return new OptionsSearchSpace<TOptions>(Options.Select(o => o.Name == name ? new SweptOption(o.Property, narrowed) : o).ToList());
    }

    private static string OptionsName => typeof(TOptions).DeclaringType is { } trainer ? $"{trainer.Name}.{typeof(TOptions).Name}" : typeof(TOptions).Name;

    private string ValidNames() => string.Join(", ", Options.Select(o => o.Name));

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
