using Microsoft.Data.Analysis;
using Microsoft.ML;
using Microsoft.ML.Svae;

namespace Svae.Cli;

/// <summary>
/// Random search over SVAE's (or a sequential VAE's) Options with early stopping of bad trials: every trial first trains for a
/// third of its epochs; only trials at or above the median validation NDCG@100 of that round train in full. With fewer
/// than 3 epochs per trial there is no short round: every trial trains once, in full.
/// </summary>
internal static class HyperparameterSweep
{
    /// <summary>
    /// The column saying which trials stopped after the short round; absent when a trial has fewer than 3 epochs
    /// (then the short round would be the full training, and every trial trains once, in full).
    /// </summary>
    public const string StoppedEarlyColumn = "Stopped early";

    public static DataFrame Run(MLContext ml, SequenceDataset dataset, SvaeTrainer.Options baseline, int trials, int seed, ProgressDisplay display)
        => Run(ml, dataset, baseline, _ => { }, (options, train, validation) => ml.Recommendation().Trainers.Svae(options).Fit(train, validation), trials, seed, display);

    /// <summary>
    /// The same search over a sequential VAE's Options (issue 14): its <c>Variant</c> stays the baseline's, every other
    /// option with a sweep attribute is sampled.
    /// </summary>
    public static DataFrame Run(MLContext ml, SequenceDataset dataset, SequentialVaeTrainer.Options baseline, int trials, int seed, ProgressDisplay display)
        => Run(ml, dataset, baseline, candidate => candidate.Variant = baseline.Variant,
            (options, train, validation) => ml.Recommendation().Trainers.SequentialVae(options).Fit(train, validation), trials, seed, display);

    private static DataFrame Run<TOptions>(MLContext ml, SequenceDataset dataset, TOptions baseline, Action<TOptions> pin,
        Func<TOptions, IDataView, IDataView, TrainedRecommendationTransformer> fit, int trials, int seed, ProgressDisplay display)
        where TOptions : SequenceTrainerOptions, new()
    {
        var space = new OptionsSearchSpace<TOptions>();
        var random = new Random(seed);
        var candidates = Enumerable.Range(0, trials).Select(i => i == 0 ? baseline : space.Sample(random, baseline)).ToList();
        foreach (var c in candidates)
        {
            c.NumberOfEpochs = baseline.NumberOfEpochs; // epochs are the budget, not a swept value
            pin(c);
        }

        double Train(TOptions options, int epochs)
        {
            var copy = OptionsSearchSpace<TOptions>.Copy(options);
            copy.NumberOfEpochs = epochs;
            using var model = fit(copy, dataset.Train, dataset.Validation);
            return model.TrainingHistory.Max(e => e.ValidationNdcg ?? 0);
        }

        // With fewer than 3 epochs per trial the short round would be a full training: every trial then trains once, in full.
        int fullEpochs = baseline.NumberOfEpochs, shortEpochs = Math.Max(1, fullEpochs / 3);
        bool earlyRound = shortEpochs < fullEpochs;
        var shortScores = new double[candidates.Count];
        var fullScores = new double?[candidates.Count];
        if (earlyRound)
        {
            for (int i = 0; i < candidates.Count; i++)
            {
                shortScores[i] = Train(candidates[i], shortEpochs);
                display.Line($"trial {i + 1}/{candidates.Count} after {shortEpochs} epochs: validation NDCG@100 {100 * shortScores[i]:F2}");
            }
            double median = shortScores.OrderBy(s => s).ElementAt(shortScores.Length / 2);
            for (int i = 0; i < candidates.Count; i++)
            {
                if (shortScores[i] < median) continue;
                fullScores[i] = Train(candidates[i], fullEpochs);
                display.Line($"trial {i + 1} full ({fullEpochs} epochs): validation NDCG@100 {100 * fullScores[i]:F2}");
            }
        }
        else
        {
            for (int i = 0; i < candidates.Count; i++)
            {
                fullScores[i] = Train(candidates[i], fullEpochs);
                display.Line($"trial {i + 1}/{candidates.Count} ({fullEpochs} epochs, no early round): validation NDCG@100 {100 * fullScores[i]:F2}");
            }
        }

        var columns = new List<DataFrameColumn> { new Int32DataFrameColumn("Trial", Enumerable.Range(1, candidates.Count)) };
        if (earlyRound)
            columns.Add(new DoubleDataFrameColumn($"NDCG@100 after {shortEpochs} epochs", shortScores.Select(s => Math.Round(100 * s, 2))));
        columns.Add(new DoubleDataFrameColumn($"NDCG@100 after {fullEpochs} epochs", fullScores.Select(s => s is double v ? Math.Round(100 * v, 2) : (double?)null)));
        if (earlyRound)
            columns.Add(new StringDataFrameColumn(StoppedEarlyColumn, fullScores.Select(s => s is null ? "yes" : "no")));
        foreach (var option in space.Options)
            columns.Add(new StringDataFrameColumn(option.Name, candidates.Select(c => Convert.ToString(option.Property.GetValue(c), System.Globalization.CultureInfo.InvariantCulture))));
        return new DataFrame(columns);
    }
}
