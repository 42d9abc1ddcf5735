using System.Globalization;
using Microsoft.Data.Analysis;
using Microsoft.ML;
using Microsoft.ML.Svae;

namespace Svae.Cli;

/// <summary>What <c>svae sweep</c> asks for, parsed and checked.</summary>
/// <param name="Ml">The context every trial trains in.</param>
/// <param name="Settings">The run's settings (<c>--epochs</c>, <c>--set</c> values, training seed), as <c>reproduce</c> uses them.</param>
/// <param name="Trials">The trial budget (trial 1 is the run's options unchanged).</param>
/// <param name="Seed">The seed of the sampler.</param>
/// <param name="Options">The options to sweep (<c>--options</c>), or null for every option with a sweep attribute.</param>
/// <param name="Ranges">Narrowed ranges (<c>--range Name=min:max</c>).</param>
/// <param name="Display">Where progress goes.</param>
internal sealed record SweepRequest(MLContext Ml, RunSettings Settings, int Trials, int Seed, IReadOnlyList<string>? Options,
    IReadOnlyDictionary<string, (double Min, double Max)> Ranges, ProgressDisplay Display);

/// <summary>
/// Random search over a neural model's Options with early stopping of bad trials: every trial first trains for a
/// third of its epochs (rounded down, at least one); only trials at or above the median validation NDCG of that round
/// train in full. With one epoch per trial there is no short round: every trial trains once, in full. The options sampled are those
/// with a sweep attribute (the ones AutoML's <c>SearchSpace&lt;T&gt;</c> reads), less the options fixed with
/// <c>--set</c> and the option that selects the model itself, or only those named with <c>--options</c>.
/// </summary>
internal static class HyperparameterSweep
{
    /// <summary>
    /// The column saying which trials stopped after the short round; absent when a trial has one epoch
    /// (then the short round would be the full training, and every trial trains once, in full).
    /// </summary>
    public const string StoppedEarlyColumn = "Stopped early";

    /// <summary>The column saying which trials diverged, when there is no short round (one epoch per trial) (with a short round, the
    /// <see cref="StoppedEarlyColumn"/> says "diverged (epoch n)" instead).</summary>
    public const string DivergedColumn = "Diverged";

    /// <summary>
    /// The search space of <typeparamref name="TOptions"/> that <paramref name="request"/> asks for; a name or range that
    /// does not fit is a one-line <see cref="CliException"/> naming the valid values. <paramref name="identity"/> is an
    /// option that selects the model (a sequential VAE's <c>Variant</c>): never swept.
    /// </summary>
    public static OptionsSearchSpace<TOptions> Space<TOptions>(SweepRequest request, string? identity)
        where TOptions : SequenceTrainerOptions, new()
    {
        var space = new OptionsSearchSpace<TOptions>();
        var declared = space.Options.Select(o => o.Name).ToList();
        var fixedNames = request.Settings.Overrides.Keys.ToHashSet(StringComparer.Ordinal);
        var sweepable = declared.Where(n => n != identity && !fixedNames.Contains(n)).ToList();
        if (request.Options is { } names)
        {
            foreach (string name in names)
            {
                if (name == identity)
                    throw new CliException($"--options {name}: {name} selects the model (--model names it), it is not swept. Options that can be swept: {string.Join(", ", sweepable)}.");
                if (fixedNames.Contains(name))
                    throw new CliException($"--options {name}: {name} is fixed with --set {name}={request.Settings.Overrides[name]}; drop one of the two.");
            }
            space = Checked(() => space.Only(names), "--options " + string.Join(",", names));
        }
        else
        {
            if (sweepable.Count == 0)
                throw new CliException($"--set fixes every option of {typeof(TOptions).DeclaringType?.Name ?? typeof(TOptions).Name} that could be swept: nothing is left to sweep.");
            space = space.Only(sweepable);
        }
        foreach (var (name, (min, max)) in request.Ranges)
        {
            string argument = FormattableString.Invariant($"--range {name}={min}:{max}");
            if (fixedNames.Contains(name) && declared.Contains(name))
                throw new CliException($"{argument}: {name} is fixed with --set {name}={request.Settings.Overrides[name]}, so it is not swept; drop one of the two.");
            if (request.Options is { } swept && !swept.Contains(name) && sweepable.Contains(name))
                throw new CliException($"{argument}: {name} is not among the swept options (--options {string.Join(",", swept)}); add it there to sweep it in this range.");
            space = Checked(() => space.WithRange(name, min, max), argument);
        }
        return space;
    }

    private static OptionsSearchSpace<TOptions> Checked<TOptions>(Func<OptionsSearchSpace<TOptions>> change, string argument)
        where TOptions : class, new()
    {
        try
        {
            return change();
        }
        catch (ArgumentException e)
        {
            string message = e.ParamName is { } parameter ? e.Message.Replace($" (Parameter '{parameter}')", "", StringComparison.Ordinal) : e.Message;
            throw new CliException($"{argument}: {CliErrors.OneLine(message)}", e);
        }
    }

    /// <summary>
    /// Runs the sweep of one model: <paramref name="baseline"/> is the options a <c>reproduce</c> run with the same
    /// settings trains with (trial 1); <paramref name="bestValidation"/> trains with the options it is given and returns
    /// the best validation NDCG of the run. A trial whose training diverges (<see cref="TrainingDivergedException"/>) is
    /// recorded as diverged and the sweep goes on.
    /// </summary>
    public static DataFrame Run<TOptions>(SweepRequest request, TOptions baseline, Func<TOptions, double> bestValidation, string? identity)
        where TOptions : SequenceTrainerOptions, new()
    {
        var space = Space<TOptions>(request, identity);
        var display = request.Display;
        var random = new Random(request.Seed);
        var candidates = Enumerable.Range(0, request.Trials).Select(i => i == 0 ? OptionsSearchSpace<TOptions>.Copy(baseline) : space.Sample(random, baseline)).ToList();
        foreach (var c in candidates)
            c.NumberOfEpochs = baseline.NumberOfEpochs; // epochs are the budget, not a swept value
        string metric = $"NDCG@{baseline.ValidationCutoff}";
        var diverged = new string?[candidates.Count];

        // The best validation NDCG of trial i trained for `epochs`, or null when its training diverged.
        double? Train(int i, int epochs)
        {
            var copy = OptionsSearchSpace<TOptions>.Copy(candidates[i]);
            copy.NumberOfEpochs = epochs;
            try
            {
                return bestValidation(copy);
            }
            catch (TrainingDivergedException e)
            {
                diverged[i] = e.Epoch > 0 ? $"diverged (epoch {e.Epoch})" : "diverged";
                display.Line($"trial {i + 1}: {CliErrors.OneLine(e.Message)} The trial is recorded as diverged.");
                return null;
            }
        }

        string Score(double? score) => score is double v ? FormattableString.Invariant($"{100 * v:F2}") : "diverged";

        // With one epoch per trial the short round would be the full training: every trial then trains once, in full.
        int fullEpochs = baseline.NumberOfEpochs, shortEpochs = Math.Max(1, fullEpochs / 3);
        bool earlyRound = shortEpochs < fullEpochs;
        var shortScores = new double?[candidates.Count];
        var fullScores = new double?[candidates.Count];
        for (int i = 0; i < candidates.Count; i++)
            display.Line($"trial {i + 1}: {Describe(space, candidates[i])}");
        if (earlyRound)
        {
            for (int i = 0; i < candidates.Count; i++)
            {
                shortScores[i] = Train(i, shortEpochs);
                display.Line($"trial {i + 1}/{candidates.Count} after {shortEpochs} epochs: validation {metric} {Score(shortScores[i])}");
            }
            // The median of the round with diverged trials ranked last; a diverged trial never goes on.
            double median = shortScores.Select(s => s ?? double.NegativeInfinity).OrderBy(s => s).ElementAt(shortScores.Length / 2);
            for (int i = 0; i < candidates.Count; i++)
            {
                if (shortScores[i] is not double score || score < median) continue;
                fullScores[i] = Train(i, fullEpochs);
                display.Line($"trial {i + 1} full ({fullEpochs} epochs): validation {metric} {Score(fullScores[i])}");
            }
        }
        else
        {
            for (int i = 0; i < candidates.Count; i++)
            {
                fullScores[i] = Train(i, fullEpochs);
                display.Line($"trial {i + 1}/{candidates.Count} ({fullEpochs} epochs, no early round): validation {metric} {Score(fullScores[i])}");
            }
        }

        var columns = new List<DataFrameColumn> { new Int32DataFrameColumn("Trial", Enumerable.Range(1, candidates.Count)) };
        if (earlyRound)
            columns.Add(new DoubleDataFrameColumn($"{metric} after {shortEpochs} epochs", shortScores.Select(s => s is double v ? Math.Round(100 * v, 2) : (double?)null)));
        columns.Add(new DoubleDataFrameColumn($"{metric} after {fullEpochs} epochs", fullScores.Select(s => s is double v ? Math.Round(100 * v, 2) : (double?)null)));
        if (earlyRound)
            columns.Add(new StringDataFrameColumn(StoppedEarlyColumn, Enumerable.Range(0, candidates.Count).Select(i => fullScores[i] is not null ? "no" : diverged[i] ?? "yes")));
        else if (diverged.Any(d => d is not null))
            columns.Add(new StringDataFrameColumn(DivergedColumn, diverged.Select(d => d ?? "no")));
        foreach (var option in space.Options)
            columns.Add(new StringDataFrameColumn(option.Name, candidates.Select(c => Format(option.Property.GetValue(c)))));
        return new DataFrame(columns);
    }

    /// <summary>Whether a trial of <paramref name="trials"/> (a table <see cref="Run"/> wrote) diverged.</summary>
    public static bool HasDivergedTrials(DataFrame trials)
        => new[] { StoppedEarlyColumn, DivergedColumn }.Where(c => trials.Columns.IndexOf(c) >= 0)
            .Any(c => trials.Columns[c].Cast<object?>().Any(v => v is string text && text.StartsWith("diverged", StringComparison.Ordinal)));

    private static string Describe<TOptions>(OptionsSearchSpace<TOptions> space, TOptions options)
        where TOptions : class, new()
        => string.Join(", ", space.Options.Select(o => $"{o.Name}={Format(o.Property.GetValue(options))}"));

    /// <summary>A swept value as the table shows it: invariant, shortest round-trip form (what <c>--set</c> reads back).</summary>
    internal static string Format(object? value) => value switch
    {
        null => "",
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        float f => f.ToString("R", CultureInfo.InvariantCulture),
        _ => Convert.ToString(value, CultureInfo.InvariantCulture) ?? "",
    };
}
