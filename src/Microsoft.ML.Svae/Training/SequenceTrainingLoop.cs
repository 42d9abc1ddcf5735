using static TorchSharp.torch;

namespace Microsoft.ML.Svae;

/// <summary>What the shared loop returns besides the trained module (left in eval mode on its device).</summary>
internal sealed class SequenceTrainingResult
{
    public SequenceTrainingResult(IReadOnlyList<TrainingEpoch> history, int bestEpoch, bool stoppedEarly)
    {
        History = history;
        BestEpoch = bestEpoch;
        StoppedEarly = stoppedEarly;
    }

    /// <summary>One entry per epoch run, in order.</summary>
    public IReadOnlyList<TrainingEpoch> History { get; }

    /// <summary>
    /// The epoch (from 1) whose weights the module holds: the best validation epoch, or the last epoch when no
    /// validation data was given.
    /// </summary>
    public int BestEpoch { get; }

    /// <summary>Whether early stopping ended training before <see cref="SequenceTrainerOptions.NumberOfEpochs"/>.</summary>
    public bool StoppedEarly { get; }
}

/// <summary>
/// The training loop shared by the neural recommenders: epochs of seeded batches (<see cref="EpochRunner"/>),
/// per-epoch validation through <see cref="RecommendationEvaluator"/>, the best weights and early stopping
/// (<see cref="BestWeightsTracker"/>), and logging and progress through ML.NET's host (<see cref="TrainingReporter"/>).
/// </summary>
internal static class SequenceTrainingLoop
{
    /// <summary>Logits per training batch (users × padded length × N floats) when <see cref="SequenceTrainerOptions.MaxPositionsPerBatch"/> is 0.</summary>
    public const long DefaultLogitBudget = EpochRunner.DefaultLogitBudget;

    /// <summary>
    /// Trains <paramref name="model"/> in place on <paramref name="device"/> and returns the learning curve.
    /// </summary>
    /// <param name="host">The host of the trainer: logging, progress, cancellation.</param>
    /// <param name="model">The model, its module already on <paramref name="device"/>.</param>
    /// <param name="train">The training users' histories.</param>
    /// <param name="validationFoldIn">Validation users' fold-ins, or <see langword="null"/>.</param>
    /// <param name="validationFoldOut">Validation users' fold-outs (same users, same order), or <see langword="null"/>.</param>
    /// <param name="options">The options, already validated (by the trainer's constructor).</param>
    /// <param name="klSchedule">β per update; <see cref="KlAnnealingSchedule.None"/> for non-variational models.</param>
    /// <param name="device">The training device.</param>
    /// <param name="modelName">The model's name in log and progress messages.</param>
    public static SequenceTrainingResult Train(
        IHost host,
        ISequenceModel model,
        UserSequences train,
        UserSequences? validationFoldIn,
        UserSequences? validationFoldOut,
        SequenceTrainerOptions options,
        KlAnnealingSchedule klSchedule,
        Device device,
        string modelName)
    {
        ArgumentNullException.ThrowIfNull(host);
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(klSchedule);
        bool validate = CheckValidationData(train, validationFoldIn, validationFoldOut);

        // libtorch's thread count is process-wide: set for this training, restored after it.
        int previousThreads = get_num_threads();
        if (options.NumberOfThreads is int threads && threads != previousThreads)
            set_num_threads(threads);
        try
        {
            return Train(host, model, train, validationFoldIn, validationFoldOut, options, klSchedule, device, modelName, validate);
        }
        finally
        {
            if (get_num_threads() != previousThreads)
                set_num_threads(previousThreads);
        }
    }

    private static SequenceTrainingResult Train(
        IHost host,
        ISequenceModel model,
        UserSequences train,
        UserSequences? validationFoldIn,
        UserSequences? validationFoldOut,
        SequenceTrainerOptions options,
        KlAnnealingSchedule klSchedule,
        Device device,
        string modelName,
        bool validate)
    {
        var cancellation = new TrainingCancellation(host, options.CancellationToken);
        using var runner = new EpochRunner(model, train, options, klSchedule, device, modelName, cancellation);
        using var reporter = new TrainingReporter(host, modelName, options);
        using var tracker = new BestWeightsTracker(validate, options.EarlyStoppingPatience);
        reporter.Started(runner, train, validate ? validationFoldIn!.Count : null, device);

        int[] cutoffs = [10, options.ValidationCutoff];
        int listLength = Math.Max(options.ValidationCutoff, 10);
        var history = new List<TrainingEpoch>();
        bool stoppedEarly = false;
        int firstEpoch = 1;
        var checkpoints = CheckpointSession.Open(options, modelName, TrainingFingerprint.Of(train, validationFoldIn, validationFoldOut),
            model, runner, tracker, history, reporter);
        if (checkpoints?.Resume() is { } resumed)
        {
            firstEpoch = resumed.Completed ? options.NumberOfEpochs + 1 : resumed.Position.Epoch;
            stoppedEarly = resumed.StoppedEarly;
        }
        Action<EpochPosition>? checkpointInEpoch = checkpoints is null ? null : position => checkpoints.Write(position);
        for (int epoch = firstEpoch; epoch <= options.NumberOfEpochs; epoch++)
        {
            cancellation.ThrowIfCanceled();
            var (epochLoss, beta, seconds) = runner.Run(epoch, reporter, checkpointInEpoch);

            double? ndcg = null;
            IReadOnlyDictionary<string, double> metrics = new Dictionary<string, double>();
            if (validate)
            {
                var top = SequenceScoring.TopItems(model, validationFoldIn!, listLength, device);
                var result = RecommendationEvaluator.Compute(top, listLength, validationFoldIn!, validationFoldOut!, cutoffs);
                metrics = result.Means;
                ndcg = result.Ndcg(options.ValidationCutoff);
            }
            bool best = tracker.Observe(epoch, ndcg, model.Module);

            var record = new TrainingEpoch(epoch, runner.Updates, epochLoss, beta, ndcg, metrics, seconds);
            history.Add(record);
            reporter.EpochEnded(record, validate && best);

            bool stop = tracker.ShouldStop(epoch) && epoch < options.NumberOfEpochs;
            checkpoints?.Write(new EpochPosition(epoch + 1, 0, 0, 0, 0, 0), completed: stop || epoch == options.NumberOfEpochs, stoppedEarly: stop);
            if (stop)
            {
                stoppedEarly = true;
                reporter.StoppedEarly(epoch);
                break;
            }
        }

        int bestEpoch = tracker.Finish(model.Module, history.Count, reporter);
        model.Module.eval();
        return new SequenceTrainingResult(history, bestEpoch, stoppedEarly);
    }

    private static bool CheckValidationData(UserSequences train, UserSequences? foldIn, UserSequences? foldOut)
    {
        if (foldIn is null && foldOut is null)
            return false;
        if (foldIn is null || foldOut is null)
            throw new ArgumentException("Validation needs both the fold-in and the fold-out of the validation users.");
        if (foldIn.Count != foldOut.Count)
            throw new ArgumentException($"The validation fold-in has {foldIn.Count} users but the fold-out has {foldOut.Count}.");
        if (foldIn.ItemCount != train.ItemCount || foldOut.ItemCount != train.ItemCount)
            throw new ArgumentException(
                $"The validation data has {foldIn.ItemCount} (fold-in) and {foldOut.ItemCount} (fold-out) items but the training data has {train.ItemCount}; " +
                "all must share the item vocabulary (the same key type).");
        return foldIn.Count > 0;
    }
}
