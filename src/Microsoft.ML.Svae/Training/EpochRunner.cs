using System.Diagnostics;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Svae;

/// <summary>
/// Runs the epochs of the shared loop: seeded shuffling and batching, the loss normalisation, the optimiser
/// (Adam, or AdamW with decoupled weight decay) and β per update.
/// </summary>
internal sealed class EpochRunner : IDisposable
{
    /// <summary>The floor of the learning-rate decay is <see cref="SequenceTrainerOptions.LearningRate"/> divided by this.</summary>
    public const double DecayFloorDivisor = 100;

    /// <summary>Logits per training batch (users × padded length × N floats) when <see cref="SequenceTrainerOptions.MaxPositionsPerBatch"/> is 0.</summary>
    public const long DefaultLogitBudget = 1L << 26;

    private readonly ISequenceModel _model;
    private readonly SequenceTrainerOptions _options;
    private readonly KlAnnealingSchedule _klSchedule;
    private readonly Device _device;
    private readonly TrainingCancellation _cancellation;
    private Random _random;
    private int _plansDrawn;
    private EpochPosition? _resumeAt;
    private readonly SequenceBatcher _batcher;
    private readonly optim.Optimizer _optimizer;
    private readonly long _totalUnits;
    private readonly double _normalizer;

    /// <summary>Seeds the generators, plans the batches and creates the optimiser.</summary>
    public EpochRunner(ISequenceModel model, UserSequences train, SequenceTrainerOptions options, KlAnnealingSchedule klSchedule,
        Device device, string modelName, TrainingCancellation cancellation)
    {
        _model = model;
        _options = options;
        _klSchedule = klSchedule;
        _device = device;
        _cancellation = cancellation;

        // Every random draw of the models uses generators seeded from options.Seed; the global generators are
        // seeded too, for any operation that falls back on them.
        torch.manual_seed(options.Seed);
        if (device.type == DeviceType.CUDA)
            torch.cuda.manual_seed_all(options.Seed);
        _random = new Random(options.Seed);

        Budget = options.MaxPositionsPerBatch > 0
            ? options.MaxPositionsPerBatch
            : Math.Max(1, DefaultLogitBudget / train.ItemCount);
        _batcher = new SequenceBatcher(train, options.BatchSize, Budget, options.MaxHistoryLength, length => model.LossUnits(length) > 0, options.BatchOrder);
        TrainingUsers = _batcher.Users.Count;
        if (TrainingUsers == 0)
            throw new ArgumentException(
                $"No training history is long enough for {modelName} ({train.Count} users, {train.EventCount} events): a user needs at least two events.", nameof(train));
        foreach (int u in _batcher.Users)
            _totalUnits += model.LossUnits(_batcher.Length(u));
        // The expected number of loss units in a full batch: the batch sums are divided by this constant.
        _normalizer = (double)_totalUnits / TrainingUsers * Math.Min(options.BatchSize, TrainingUsers);

        // The decay's length in updates: its epochs times the batches of the first epoch's plan (drawn again from the
        // seed, as the first epoch will draw it), so that it depends on the options and data alone.
        if (options.LearningRateDecayEpochs > 0)
            DecayUpdates = (long)options.LearningRateDecayEpochs * _batcher.Plan(new Random(options.Seed)).Count;

        var parameters = model.Module.parameters().ToArray();
        // Adam's weight_decay is the coupled L2 penalty of the authors' code; AdamW decouples it. TorchSharp's update,
        // with Scalars that outlive its native calls (see ExplicitScalarAdam).
        _optimizer = ExplicitScalarAdam.Create(parameters, options.LearningRate, options.WeightDecay, options.DecoupledWeightDecay);
    }

    /// <summary>The users with at least one loss unit.</summary>
    public int TrainingUsers { get; }

    /// <summary>The training positions (events after truncation) of those users.</summary>
    public long PositionCount => _batcher.PositionCount;

    /// <summary>The most positions in one batch.</summary>
    public long Budget { get; }

    /// <summary>The updates of the learning-rate decay after the warm-up (0: no decay).</summary>
    public long DecayUpdates { get; }

    /// <summary>The optimiser updates so far.</summary>
    public long Updates { get; private set; }

    /// <summary>The optimiser (its state goes into checkpoints).</summary>
    public optim.Optimizer Optimizer => _optimizer;

    /// <summary>
    /// Continues from a checkpoint: the update counter, the shuffling generator (replayed: the plans of the epochs
    /// before <paramref name="position"/>'s are drawn again from the seed) and, when the checkpoint was written
    /// inside an epoch, the position the next <see cref="Run"/> of that epoch starts from.
    /// </summary>
    public void Resume(long updates, EpochPosition position)
    {
        Updates = updates;
        _random = new Random(_options.Seed);
        _plansDrawn = 0;
        for (int epoch = 1; epoch < position.Epoch; epoch++)
            DrawPlan();
        _resumeAt = position.BatchesDone > 0 ? position : null;
    }

    private List<int[]> DrawPlan()
    {
        _plansDrawn++;
        return _batcher.Plan(_random);
    }

    /// <summary>
    /// One pass over the training users: returns the mean loss per unit, the last β and the seconds taken.
    /// Checks for cancellation before every batch. <paramref name="checkpoint"/>, when given, is called after every
    /// <see cref="SequenceTrainerOptions.CheckpointInterval"/>-th update inside the epoch with the epoch's position.
    /// </summary>
    public (double Loss, double KlWeight, double Seconds) Run(int epoch, TrainingReporter reporter, Action<EpochPosition>? checkpoint = null)
    {
        var watch = Stopwatch.StartNew();
        _model.Module.train();
        long epochUpdates = 0;
        double beta = 0;
        double priorSeconds = 0;
        int start = 0;
        double epochLoss;
        using (var lossSum = zeros(1, ScalarType.Float64, _device))
        {
            var plan = DrawPlan();
            if (_resumeAt is { } resume && resume.Epoch == epoch)
            {
                start = resume.BatchesDone;
                epochUpdates = resume.EpochUpdates;
                beta = resume.KlWeight;
                priorSeconds = resume.Seconds;
                using var resumedSum = resume.LossSum.ToScalar();
                lossSum.fill_(resumedSum);
            }
            _resumeAt = null;
            int interval = checkpoint is null ? 0 : _options.CheckpointInterval;
            for (int b = start; b < plan.Count; b++)
            {
                var users = plan[b];
                _cancellation.ThrowIfCanceled();
                reporter.BatchStarting(epoch, epochUpdates, plan.Count);
                using (NativeCallGuard.Enter())
                using (NewDisposeScope())
                {
                    beta = _klSchedule.Weight(Updates, epochUpdates);
                    SetLearningRate(LearningRateAt(Updates));
                    var batch = _batcher.Pack(users, _device);
                    // The module's zero_grad drops the gradients (set_to_none, PyTorch's default; the optimizer holds exactly the
                    // module's parameters): backward then hands each parameter its new gradient instead of zero-filling the old one
                    // (7 MB at ML-1M's shape) and adding into it. A parameter without a gradient is skipped by Adam, as in PyTorch.
                    _model.Module.zero_grad();
                    var sum = _model.Loss(batch, beta);
                    using (var normalizer = _normalizer.ToScalar())
                        sum.div(normalizer).backward();
                    _optimizer.step();
                    lossSum.PlusInPlace(sum.detach().to(ScalarType.Float64));
                }
                Updates++;
                epochUpdates++;
                if (interval > 0 && Updates % interval == 0 && b + 1 < plan.Count)
                    checkpoint!(new EpochPosition(epoch, b + 1, epochUpdates, lossSum.item<double>(), beta, priorSeconds + watch.Elapsed.TotalSeconds));
            }
            epochLoss = lossSum.item<double>() / _totalUnits;
        }
        if (!double.IsFinite(epochLoss))
            throw new TrainingDivergedException(FormattableString.Invariant(
                $"{reporter.ModelName} training diverged in epoch {epoch}: the mean loss is {epochLoss}. Lower LearningRate (now {_options.LearningRate})."), epoch, epochLoss);
        return (epochLoss, beta, priorSeconds + watch.Elapsed.TotalSeconds);
    }

    /// <summary>
    /// The learning rate of the update after <paramref name="updates"/> updates: <see cref="SequenceTrainerOptions.LearningRate"/>,
    /// scaled by (updates + 1) / n during a warm-up of n updates; then, with a decay over d = <see cref="DecayUpdates"/>
    /// updates, floor + (rate − floor) · (1 + cos(π · s / d)) / 2 at s updates after the warm-up, and the floor
    /// (rate / <see cref="DecayFloorDivisor"/>) from s = d on.
    /// </summary>
    public double LearningRateAt(long updates)
        => LearningRateAt(updates, _options.LearningRate, _options.LearningRateWarmupUpdates, DecayUpdates);

    /// <summary>The schedule of <see cref="LearningRateAt(long)"/> for a given rate, warm-up and decay length.</summary>
    public static double LearningRateAt(long updates, double rate, int warmUp, long decayUpdates)
    {
        if (warmUp > 0 && updates < warmUp)
            return rate * (updates + 1) / warmUp;
        if (decayUpdates <= 0)
            return rate;
        long since = updates - warmUp;
        double floor = rate / DecayFloorDivisor;
        if (since >= decayUpdates)
            return floor;
        return floor + (rate - floor) * 0.5 * (1 + Math.Cos(Math.PI * since / decayUpdates));
    }

    private void SetLearningRate(double rate)
    {
        foreach (var group in _optimizer.ParamGroups)
            if (group.LearningRate != rate)
                group.LearningRate = rate;
    }

    /// <inheritdoc/>
    public void Dispose() => _optimizer.Dispose();
}
