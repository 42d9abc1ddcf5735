using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Svae;

namespace Svae.Cli;

/// <summary>What one <c>reproduce</c> run does.</summary>
internal sealed record ExperimentOptions(
    IReadOnlyList<ModelEntry> Models,
    IReadOnlyList<int> SplitSeeds,
    int ValidationUsers,
    int TestUsers,
    RunSettings Settings,
    SequenceSplit Split = SequenceSplit.Paper)
{
    /// <summary>
    /// <c>--checkpoint</c>: the root of the checkpoint folders, one per model and split
    /// (<c>&lt;root&gt;/&lt;model&gt;/split-&lt;seed&gt;</c>); null for no checkpoints.
    /// </summary>
    public string? CheckpointRoot { get; init; }

    /// <summary>The settings of <paramref name="model"/> on split <paramref name="seed"/>: the checkpoint folder added.</summary>
    public RunSettings SettingsFor(string model, int seed) => SettingsFor(Settings, model, seed);

    /// <summary><paramref name="settings"/> with the checkpoint folder of <paramref name="model"/> on split <paramref name="seed"/>.</summary>
    public RunSettings SettingsFor(RunSettings settings, string model, int seed) => CheckpointRoot is null ? settings
        : settings with { CheckpointFolder = Path.Combine(CheckpointRoot, model.Replace("*", "-star", StringComparison.Ordinal), $"split-{seed}") };
}

/// <summary>One model trained and tested on one split.</summary>
internal sealed record ModelRun(
    ModelEntry Model,
    int SplitSeed,
    RecommendationMetrics Metrics,
    double TrainSeconds,
    IReadOnlyList<TrainingEpoch> TrainingHistory);

/// <summary>
/// Runs the models of Table 2 under the paper's protocol, over one or more user splits; or under leave-last-one-out,
/// where the split has no randomness and each seed is the models' training seed instead.
/// </summary>
internal static class Experiment
{
    public static List<ModelRun> Run(MLContext ml, IDataView interactions, ExperimentOptions options, TextWriter log,
        List<string> failures, Action<ModelEntry, int, RecommendationTransformer, SequenceDataset>? onModel = null)
    {
        var runs = new List<ModelRun>();
        foreach (int seed in options.SplitSeeds)
        {
            var temporal = DataSources.Prepare(ml, interactions,
                DataSources.Protocol(options.ValidationUsers, options.TestUsers, seed, FoldSplit.Temporal, options.Split), DataSources.ReproduceAdvice);
            var settings = SettingsOf(options.Settings, options.Split, seed);
            log.WriteLine($"split seed {seed}: {temporal.Report}");
            SequenceDataset? random = null;
            foreach (var model in options.Models)
            {
                var dataset = FoldSplitOf(model, options.Split) == FoldSplit.Random
                    ? random ??= DataSources.Prepare(ml, interactions,
                        DataSources.Protocol(options.ValidationUsers, options.TestUsers, seed, FoldSplit.Random), DataSources.ReproduceAdvice)
                    : temporal;
                var train = TrainingData(model, dataset);
                log.WriteLine($"{model.Name} (split seed {seed}): training ...");
                var clock = Stopwatch.StartNew();
                RecommendationTransformer fittedModel;
                try
                {
                    fittedModel = model.Fit(ml, options.SettingsFor(settings, model.Name, seed), train, dataset.Validation);
                }
                catch (Exception e) when (e is not OperationCanceledException && !IsCheckpointError(e))
                {
                    // One model's failure (e.g. a native libtorch error) must not lose the other models' results.
                    log.WriteLine($"{model.Name} (split seed {seed}) FAILED after {clock.Elapsed.TotalSeconds:F1} s: {e.GetType().Name}: {e.Message.Split('\n')[0]}");
                    failures.Add($"{model.Name} (split seed {seed}): {e.GetType().Name}: {e.Message.Split('\n')[0]}");
                    continue;
                }
                using var fitted = fittedModel;
                double seconds = clock.Elapsed.TotalSeconds;
                var metrics = ml.Recommendation().Evaluate(fitted.Transform(dataset.Test));
                log.WriteLine($"{model.Name} (split seed {seed}): {metrics} in {seconds:F1} s");
                runs.Add(new ModelRun(model, seed, metrics, seconds, HistoryOf(fitted)));
                onModel?.Invoke(model, seed, fitted, dataset);
            }
        }
        return runs;
    }

    /// <summary>
    /// How <paramref name="model"/>'s held-out users are split into fold-in and fold-out under <paramref name="split"/>:
    /// randomly for MVAE* under the paper's protocol, else in time order.
    /// </summary>
    public static FoldSplit FoldSplitOf(ModelEntry model, SequenceSplit split)
        => model.Protocol == ModelProtocol.RandomSplit && split != SequenceSplit.LeaveOneOut ? FoldSplit.Random : FoldSplit.Temporal;

    /// <summary>
    /// The data <paramref name="model"/> trains on: the training users, plus the held-out users' fold-ins for the models
    /// that train on them (BPR*, FPMC, Caser, and the <c>+fold-in</c> rows).
    /// </summary>
    public static IDataView TrainingData(ModelEntry model, SequenceDataset dataset)
        => model.Protocol == ModelProtocol.TrainWithHeldOutFoldIn ? dataset.TrainWithHeldOutFoldIn() : dataset.Train;

    /// <summary>The models' settings on split <paramref name="seed"/>: under leave-one-out the seed is the models' training seed.</summary>
    public static RunSettings SettingsOf(RunSettings settings, SequenceSplit split, int seed)
        => split == SequenceSplit.LeaveOneOut ? settings with { Seed = seed } : settings;

    /// <summary>
    /// A checkpoint that does not fit the run (other options or data) or is damaged: the user's to fix (another
    /// --checkpoint folder, or delete it), so it stops the run with a usage error instead of failing one model.
    /// </summary>
    private static bool IsCheckpointError(Exception e)
        => e is ArgumentException or InvalidDataException && e.Message.Contains(".checkpoint", StringComparison.Ordinal);

    /// <summary>The learning curve of a neural model (empty for POP).</summary>
    public static IReadOnlyList<TrainingEpoch> HistoryOf(RecommendationTransformer model)
        => (model as TrainedRecommendationTransformer)?.TrainingHistory ?? Array.Empty<TrainingEpoch>();
}
