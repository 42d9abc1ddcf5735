using System.Diagnostics;
using System.Globalization;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Svae;

/// <summary>What the shared loop returns besides the trained module (left in eval mode on its device).</summary>
internal sealed class SequenceTrainingResult
{
    public SequenceTrainingResult(IReadOnlyList<TrainingEpoch> history, int bestEpoch, bool stoppedEarly, Device device)
    {
        History = history;
        BestEpoch = bestEpoch;
        StoppedEarly = stoppedEarly;
        Device = device;
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

    /// <summary>The device the module was trained on (and is still on).</summary>
    public Device Device { get; }
}

/// <summary>
/// The training loop shared by the neural sequence recommenders: seeded shuffling and batching, Adam,
/// β annealing, per-epoch validation through <see cref="RecommendationEvaluator"/>, early stopping with
/// restoration of the best weights, progress and cancellation through ML.NET's host.
/// </summary>
internal static class SequenceTrainingLoop
{
    /// <summary>Logits per training batch (users × padded length × N floats) when <see cref="SequenceTrainerOptions.MaxPositionsPerBatch"/> is 0.</summary>
    public const long DefaultLogitBudget = 1L << 26;

    /// <summary>
    /// Trains <paramref name="model"/> in place on <paramref name="device"/> and returns the learning curve.
    /// </summary>
    /// <param name="host">The host of the trainer: logging, progress, cancellation.</param>
    /// <param name="model">The model, its module already on <paramref name="device"/>.</param>
    /// <param name="train">The training users' histories.</param>
    /// <param name="validationFoldIn">Validation users' fold-ins, or <see langword="null"/>.</param>
    /// <param name="validationFoldOut">Validation users' fold-outs (same users, same order), or <see langword="null"/>.</param>
    /// <param name="options">The options (validated here).</param>
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
        options.Validate();
        bool validate = CheckValidationData(train, validationFoldIn, validationFoldOut);

        // Every random draw of the models uses generators seeded from options.Seed; the global generators are
        // seeded too, for any operation that falls back on them.
        torch.manual_seed(options.Seed);
        if (device.type == DeviceType.CUDA)
            torch.cuda.manual_seed_all(options.Seed);
        var random = new Random(options.Seed);

        long budget = options.MaxPositionsPerBatch > 0
            ? options.MaxPositionsPerBatch
            : Math.Max(1, DefaultLogitBudget / train.ItemCount);
        var batcher = new SequenceBatcher(train, options.BatchSize, budget, options.MaxHistoryLength, length => model.LossUnits(length) > 0);
        int trainingUsers = batcher.Users.Count;
        if (trainingUsers == 0)
            throw new ArgumentException(
                $"No training history is long enough for {modelName} ({train.Count} users, {train.EventCount} events): a user needs at least two events.", nameof(train));
        long totalUnits = 0;
        foreach (int u in batcher.Users)
            totalUnits += model.LossUnits(batcher.Length(u));
        // The expected number of loss units in a full batch: the batch sums are divided by this constant.
        double normalizer = (double)totalUnits / trainingUsers * Math.Min(options.BatchSize, trainingUsers);

        var parameters = model.Module.parameters().ToArray();
        // Adam's weight_decay is the coupled L2 penalty of the authors' code; AdamW decouples it.
        using optim.Optimizer optimizer = options.DecoupledWeightDecay
            ? optim.AdamW(parameters, options.LearningRate, weight_decay: options.WeightDecay)
            : (optim.Optimizer)optim.Adam(parameters, options.LearningRate, weight_decay: options.WeightDecay);

        int[] cutoffs = [10, options.ValidationCutoff];
        int listLength = Math.Max(options.ValidationCutoff, 10);
        string ndcgName = RecommendationMetrics.MetricName("NDCG", options.ValidationCutoff);

        using var ch = host.Start("Training");
        using var pch = host.StartProgressChannel($"Training {modelName}");
        int progressEpoch = 0;
        double progressLoss = double.NaN, progressNdcg = double.NaN;
        pch.SetHeader(new ProgressHeader(new[] { "Loss", ndcgName }, new[] { "epoch" }), e =>
        {
            e.SetProgress(0, progressEpoch, options.NumberOfEpochs);
            e.SetMetric(0, progressLoss);
            e.SetMetric(1, progressNdcg);
        });
        string validationText = validate ? $"{validationFoldIn!.Count} users" : "none";
        ch.Info(FormattableString.Invariant(
            $"{modelName}: {trainingUsers} training users, {batcher.PositionCount} events, {train.ItemCount} items, device {device}; up to {options.BatchSize} users and {budget} positions per batch; validation: {validationText}."));

        var history = new List<TrainingEpoch>();
        Dictionary<string, Tensor>? best = null;
        double bestNdcg = double.NegativeInfinity;
        int bestEpoch = 0;
        long updates = 0;
        bool stoppedEarly = false;
        try
        {
            for (int epoch = 1; epoch <= options.NumberOfEpochs; epoch++)
            {
                host.CheckAlive();
                var watch = Stopwatch.StartNew();
                model.Module.train();
                long epochUpdates = 0;
                double beta = 0;
                double epochLoss;
                using (var lossSum = zeros(1, ScalarType.Float64, device))
                {
                    var plan = batcher.Plan(random);
                    int reportEvery = Math.Max(1, plan.Count / 10);
                    foreach (var users in plan)
                    {
                        host.CheckAlive();
                        if (epochUpdates % reportEvery == 0)
                            ch.Trace(FormattableString.Invariant($"{modelName} epoch {epoch}/{options.NumberOfEpochs}, batch {epochUpdates + 1}/{plan.Count}"));
                        using var noGc = NativeCallGuard.Enter();
                        using var scope = NewDisposeScope();
                        beta = klSchedule.Weight(updates, epochUpdates);
                        var batch = batcher.Pack(users, device);
                        optimizer.zero_grad();
                        var sum = model.Loss(batch, beta);
                        (sum / normalizer).backward();
                        optimizer.step();
                        lossSum.add_(sum.detach().to(ScalarType.Float64));
                        updates++;
                        epochUpdates++;
                    }
                    epochLoss = lossSum.item<double>() / totalUnits;
                }
                if (!double.IsFinite(epochLoss))
                    throw new InvalidOperationException(FormattableString.Invariant(
                        $"{modelName} training diverged in epoch {epoch}: the mean loss is {epochLoss}. Lower LearningRate (now {options.LearningRate})."));

                double? ndcg = null;
                IReadOnlyDictionary<string, double> metrics = new Dictionary<string, double>();
                if (validate)
                {
                    var top = SequenceScoring.TopItems(model, validationFoldIn!, listLength, device);
                    var result = RecommendationEvaluator.Compute(top, listLength, validationFoldIn!, validationFoldOut!, cutoffs);
                    metrics = result.Means;
                    ndcg = result.Ndcg(options.ValidationCutoff);
                    if (ndcg > bestNdcg)
                    {
                        bestNdcg = ndcg.Value;
                        bestEpoch = epoch;
                        best = Snapshot(model.Module, best);
                    }
                }
                else
                {
                    bestEpoch = epoch;
                }

                var record = new TrainingEpoch(epoch, updates, epochLoss, beta, ndcg, metrics, watch.Elapsed.TotalSeconds);
                history.Add(record);
                progressEpoch = epoch;
                progressLoss = epochLoss;
                progressNdcg = ndcg ?? double.NaN;
                pch.Checkpoint(epochLoss, ndcg, epoch);
                ch.Info($"{modelName} {record}{(validate && bestEpoch == epoch ? " (best)" : "")}");

                if (validate && options.EarlyStoppingPatience > 0 && epoch - bestEpoch >= options.EarlyStoppingPatience && epoch < options.NumberOfEpochs)
                {
                    stoppedEarly = true;
                    ch.Info(string.Format(CultureInfo.InvariantCulture,
                        "{0}: early stopping after epoch {1}: {2} did not improve for {3} epochs.", modelName, epoch, ndcgName, options.EarlyStoppingPatience));
                    break;
                }
            }

            if (validate)
            {
                if (best is null)
                {
                    // Only when no validation user had a fold-out (NDCG is NaN): keep the last weights.
                    bestEpoch = history.Count;
                    ch.Warning($"{modelName}: no validation user could be evaluated (all fold-outs empty); the last epoch's weights are kept.");
                }
                else if (bestEpoch != history.Count)
                {
                    Restore(model.Module, best);
                    ch.Info(FormattableString.Invariant($"{modelName}: restored the weights of epoch {bestEpoch} ({ndcgName} {bestNdcg:F4})."));
                }
            }
        }
        finally
        {
            if (best is not null)
            {
                foreach (var tensor in best.Values)
                    tensor.Dispose();
            }
        }

        model.Module.eval();
        return new SequenceTrainingResult(history, bestEpoch, stoppedEarly, device);
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

    /// <summary>Copies every state tensor (parameters and buffers) into <paramref name="into"/>, allocating it the first time.</summary>
    private static Dictionary<string, Tensor> Snapshot(nn.Module module, Dictionary<string, Tensor>? into)
    {
        using var noGrad = no_grad();
        into ??= new Dictionary<string, Tensor>();
        foreach (var (name, value) in module.state_dict())
        {
            if (into.TryGetValue(name, out var copy))
                copy.copy_(value);
            else
                into[name] = value.detach().clone();
        }
        return into;
    }

    /// <summary>Copies the snapshot back into the module's live parameters and buffers.</summary>
    private static void Restore(nn.Module module, Dictionary<string, Tensor> snapshot)
    {
        using var noGrad = no_grad();
        foreach (var (name, value) in module.state_dict())
            value.copy_(snapshot[name]);
    }
}
