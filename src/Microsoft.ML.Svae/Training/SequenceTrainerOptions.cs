using System.Text.Json.Serialization;
using Microsoft.ML.SearchSpace;

namespace Microsoft.ML.Svae;

/// <summary>The defaults of the options every neural trainer shares; a model's own <c>Defaults</c> override some.</summary>
internal static class SequenceTrainerDefaults
{
    public const int NumberOfEpochs = 25;
    public const int BatchSize = 32;
    public const double LearningRate = 1e-3;
    public const double WeightDecay = 0;
    public const int Seed = 42;
    public const int EarlyStoppingPatience = 5;
    public const int ValidationCutoff = 100;
    public const int LearningRateWarmupUpdates = 0;
    public const int LearningRateDecayEpochs = 0;
    public const BatchOrder BatchOrder = Svae.BatchOrder.Pooled;
    public const bool DecoupledWeightDecay = false;
}

/// <summary>
/// Options shared by every neural recommender (SVAE, MVAE, RVAE, BPR, FPMC, Caser, GRU4Rec, SASRec): batching, optimizer, epochs,
/// validation, early stopping, cancellation, device and seed. docs/OPTIONS.md is the naming table of all options.
/// </summary>
/// <remarks>
/// All options are properties so that AutoML can bind them through System.Text.Json; hyperparameters carry
/// <see cref="RangeAttribute"/>, <see cref="BooleanChoiceAttribute"/> or <see cref="ChoiceAttribute"/> sweep ranges.
/// <see cref="Validate"/> checks them once, when the trainer is created (<c>mlContext.Recommendation().Trainers.*</c>).
/// <see cref="ValidationSet"/> and <see cref="CancellationToken"/> are not hyperparameters: they are left out of
/// JSON (<see cref="JsonIgnoreAttribute"/>) and of the search space.
/// </remarks>
public abstract class SequenceTrainerOptions : RecommendationTrainerOptions
{
    /// <summary>
    /// The fold-out column of the validation data (held-out users' items after their fold-in), the relevant set
    /// of the validation metrics. Only read from the validation data.
    /// </summary>
    public string FoldOutColumnName { get; set; } = SequenceColumns.FoldOut;

    /// <summary>The maximum number of passes over the training users (fewer when early stopping triggers).</summary>
    /// <remarks>
    /// Not in the search space: it is the budget of a trial, not a hyperparameter. The fitted weights are those of the
    /// best validation epoch, so more epochs never score lower on validation; a tuner sampling it would only learn to
    /// spend more. Set it on the options a sweep starts from.
    /// </remarks>
    public int NumberOfEpochs { get; set; } = SequenceTrainerDefaults.NumberOfEpochs;

    /// <summary>
    /// The maximum number of users per optimization step. Batches of long histories may hold fewer users to
    /// respect <see cref="MaxPositionsPerBatch"/>.
    /// </summary>
    [Range(4, 512, SequenceTrainerDefaults.BatchSize, true)]
    public int BatchSize { get; set; } = SequenceTrainerDefaults.BatchSize;

    /// <summary>Adam's learning rate.</summary>
    [Range(1e-4, 1e-1, SequenceTrainerDefaults.LearningRate, true)]
    public double LearningRate { get; set; } = SequenceTrainerDefaults.LearningRate;

    /// <summary>
    /// Warm-up of the learning rate: over the first this many optimiser updates it rises linearly from
    /// <see cref="LearningRate"/>/n to <see cref="LearningRate"/> (update u, from 1, uses u/n of it), then stays there;
    /// 0 (the default): no warm-up. Lets larger batches use a larger learning rate from the start of training.
    /// </summary>
    /// <remarks>
    /// Swept as a choice of no warm-up, a short one and a long one (0, 100 or 1,000 updates; an epoch of MovieLens-1M
    /// with batches of 8 is about 600 updates): a uniform draw from a wide range would almost never try 0.
    /// </remarks>
    [Choice(new object[] { 0, 100, 1_000 }, SequenceTrainerDefaults.LearningRateWarmupUpdates)]
    public int LearningRateWarmupUpdates { get; set; } = SequenceTrainerDefaults.LearningRateWarmupUpdates;

    /// <summary>
    /// Cosine decay of the learning rate: after the warm-up (<see cref="LearningRateWarmupUpdates"/>) it falls along a
    /// half cosine from <see cref="LearningRate"/> to a floor of <see cref="LearningRate"/>/100 over this many epochs,
    /// then stays at the floor; 0: a constant learning rate after the warm-up. The decay is counted in optimiser
    /// updates (this many times the number of batches of the first epoch), so a resumed run follows it exactly.
    /// </summary>
    /// <remarks>
    /// After the decay the validation curve is flat, so <see cref="NumberOfEpochs"/> equal to this many epochs bounds
    /// <c>Fit</c> about where the decay ends (exactly without a warm-up and when every epoch has as many batches as the
    /// first; a warm-up of n updates moves the end n updates later); a decay that ends too early freezes the model below what a constant rate reaches
    /// (docs/BENCHMARKS.md, issue 16, measured on MovieLens-100K). Swept as a choice of no decay or a decay over 5, 10 or
    /// 20 epochs.
    /// </remarks>
    [Choice(new object[] { 0, 5, 10, 20 }, SequenceTrainerDefaults.LearningRateDecayEpochs)]
    public int LearningRateDecayEpochs { get; set; } = SequenceTrainerDefaults.LearningRateDecayEpochs;

    /// <summary>
    /// Weight decay of every parameter. With <see cref="DecoupledWeightDecay"/> off (the default) it is the
    /// coupled L2 penalty of <c>torch.optim.Adam(weight_decay)</c>, as in the SVAE authors' code: the term
    /// <c>WeightDecay · θ</c> is added to the gradient before Adam's moment estimates.
    /// </summary>
    /// <remarks>
    /// Swept as a choice of 0 and four powers of ten from 1e-6 to 1e-3: a uniform draw from [0, 0.1] would put nearly
    /// every trial above 0.01, where the coupled penalty swamps the gradient.
    /// </remarks>
    [Choice(new object[] { 0.0, 1e-6, 1e-5, 1e-4, 1e-3 }, SequenceTrainerDefaults.WeightDecay)]
    public double WeightDecay { get; set; } = SequenceTrainerDefaults.WeightDecay;

    /// <summary>
    /// Use AdamW's decoupled weight decay (<c>θ ← θ − lr · WeightDecay · θ</c>, outside Adam's moments)
    /// instead of Adam's coupled L2 penalty. A deviation from the authors' code; off by default.
    /// </summary>
    [BooleanChoice(SequenceTrainerDefaults.DecoupledWeightDecay)]
    public bool DecoupledWeightDecay { get; set; } = SequenceTrainerDefaults.DecoupledWeightDecay;

    /// <summary>
    /// The seed of parameter initialization, batch shuffling and sampling noise. Training with the same seed,
    /// data, options and device gives bitwise-identical weights on the CPU.
    /// </summary>
    public int Seed { get; set; } = SequenceTrainerDefaults.Seed;

    /// <summary>
    /// Stop after this many epochs without an improvement of the validation <c>NDCG@</c><see cref="ValidationCutoff"/>;
    /// 0 disables early stopping. Used only when validation data is given. Whatever the patience, the returned
    /// weights are those of the best validation epoch.
    /// </summary>
    /// <remarks>Not in the search space, like <see cref="NumberOfEpochs"/>: it spends budget, it does not change the model.</remarks>
    public int EarlyStoppingPatience { get; set; } = SequenceTrainerDefaults.EarlyStoppingPatience;

    /// <summary>The cutoff n of the validation <c>NDCG@n</c> that selects the best epoch (the paper reports 10 and 100).</summary>
    public int ValidationCutoff { get; set; } = SequenceTrainerDefaults.ValidationCutoff;

    /// <summary>
    /// Keep only the most recent events of each training history (<see langword="null"/>: all). Bounds the
    /// memory and time of very long histories. Scoring (validation and the fitted model) always reads the whole
    /// history.
    /// </summary>
    public int? MaxHistoryLength { get; set; }

    /// <summary>
    /// The most sequence positions (users × padded length) in one training batch; 0 chooses
    /// <c>2^26 / N</c> for N items, so that a batch's <c>[positions × N]</c> logits stay near 256 MB
    /// (about 19,000 positions for N = 3,500). A single history longer than the budget forms a batch on its own.
    /// </summary>
    public int MaxPositionsPerBatch { get; set; }

    /// <summary>
    /// How the users of an epoch are grouped into batches: <see cref="BatchOrder.Pooled"/> (the default) or
    /// <see cref="BatchOrder.LengthBuckets"/>, which puts users of similar length together over the whole epoch so
    /// that batches carry the least padding. Both shuffle with <see cref="Seed"/> and visit every user once per epoch.
    /// </summary>
    [Choice(new object[] { nameof(Svae.BatchOrder.Pooled), nameof(Svae.BatchOrder.LengthBuckets) }, nameof(Svae.BatchOrder.Pooled))]
    public BatchOrder BatchOrder { get; set; } = SequenceTrainerDefaults.BatchOrder;

    /// <summary>
    /// The number of libtorch intra-op threads while <c>Fit</c> trains and validates; <see langword="null"/> (the
    /// default) keeps libtorch's setting (the number of cores, or <c>OMP_NUM_THREADS</c>). libtorch's setting is
    /// process-wide: <c>Fit</c> sets it when training starts and restores the previous value when training ends, so
    /// trainings that run at the same time in one process should use the same value. On a machine shared by several
    /// processes, 1 avoids oversubscribing the cores (docs/BENCHMARKS.md, issue 16).
    /// </summary>
    public int? NumberOfThreads { get; set; }

    /// <summary>
    /// The CUDA device to train on; <see langword="null"/> uses <c>MLContext.GpuDeviceId</c> (CPU when that is
    /// also <see langword="null"/>).
    /// </summary>
    public int? GpuDeviceId { get; set; }

    /// <summary>
    /// When a GPU is requested through <see cref="GpuDeviceId"/> but CUDA is not available, train on the CPU
    /// instead of failing. When <see cref="GpuDeviceId"/> is <see langword="null"/> the setting of the
    /// <c>MLContext</c> applies.
    /// </summary>
    public bool FallbackToCpu { get; set; } = true;

    /// <summary>
    /// Validation data used when <c>Fit</c> is called without any (as inside an <c>EstimatorChain</c>, whose
    /// <c>Fit(input)</c> has no validation argument): held-out users with the history column as their fold-in and
    /// <see cref="FoldOutColumnName"/> as their fold-out, in the training data's item vocabulary (and, for models with
    /// per-user parameters, with the user column). It drives the best-epoch selection and early stopping.
    /// <c>Fit(train, validation)</c> takes precedence. <see langword="null"/> (the default): no validation.
    /// </summary>
    [JsonIgnore]
    public IDataView? ValidationSet { get; set; }

    /// <summary>
    /// Stops a running <c>Fit</c>: checked before every batch, it ends training with an
    /// <see cref="OperationCanceledException"/> (no model is returned). ML.NET's own cancellation of the context (what
    /// AutoML uses to stop a trial) is honoured too. Default: <see cref="CancellationToken.None"/>.
    /// </summary>
    [JsonIgnore]
    public CancellationToken CancellationToken { get; set; }

    /// <summary>
    /// A folder for training checkpoints (<see langword="null"/>, the default: none). Training writes
    /// <c>&lt;model&gt;.checkpoint</c> there at the end of every epoch (and every <see cref="CheckpointInterval"/>
    /// updates); when the folder already holds one for this model, <c>Fit</c> resumes from it and ends with exactly the
    /// weights and learning curve of an uninterrupted run. A checkpoint made with other options or other data is
    /// refused with a message naming what differs. The checkpoint is kept after training (a completed checkpoint
    /// gives the same model again at once); delete the folder to train from the start. Not serialised.
    /// </summary>
    [JsonIgnore]
    public string? CheckpointFolder { get; set; }

    /// <summary>
    /// With <see cref="CheckpointFolder"/>: also write a checkpoint every this many optimiser updates (batches),
    /// inside epochs; 0 (the default): only at the end of every epoch. Not serialised.
    /// </summary>
    [JsonIgnore]
    public int CheckpointInterval { get; set; }

    /// <summary>Test hook: called after each checkpoint is written, with the epoch and the batches done in it.</summary>
    [JsonIgnore]
    internal Action<int, int>? CheckpointWritten { get; set; }

    /// <summary>Checks the options; throws <see cref="ArgumentOutOfRangeException"/> naming the bad option and its valid range.</summary>
    public override void Validate()
    {
        base.Validate();
        if (string.IsNullOrWhiteSpace(FoldOutColumnName))
            throw new ArgumentOutOfRangeException(nameof(FoldOutColumnName), "FoldOutColumnName must name the validation data's fold-out column.");
        CheckAtLeast(nameof(NumberOfEpochs), NumberOfEpochs, 1);
        CheckAtLeast(nameof(BatchSize), BatchSize, 1);
        if (!(LearningRate > 0) || double.IsInfinity(LearningRate))
            throw new ArgumentOutOfRangeException(nameof(LearningRate), LearningRate, "LearningRate must be a finite number greater than 0 (e.g. 1e-3).");
        CheckAtLeast(nameof(LearningRateWarmupUpdates), LearningRateWarmupUpdates, 0);
        if (LearningRateDecayEpochs < 0)
            throw new ArgumentOutOfRangeException(nameof(LearningRateDecayEpochs), LearningRateDecayEpochs,
                "LearningRateDecayEpochs must be at least 0 (0: a constant learning rate after the warm-up).");
        if (!(WeightDecay >= 0) || double.IsInfinity(WeightDecay))
            throw new ArgumentOutOfRangeException(nameof(WeightDecay), WeightDecay, "WeightDecay must be a finite number of at least 0.");
        CheckAtLeast(nameof(EarlyStoppingPatience), EarlyStoppingPatience, 0);
        CheckAtLeast(nameof(ValidationCutoff), ValidationCutoff, 1);
        if (MaxHistoryLength is int max && max < 2)
            throw new ArgumentOutOfRangeException(nameof(MaxHistoryLength), max, "MaxHistoryLength must be at least 2 (a step needs an item and a next item), or null to keep whole histories.");
        CheckAtLeast(nameof(MaxPositionsPerBatch), MaxPositionsPerBatch, 0);
        if (!Enum.IsDefined(BatchOrder))
            throw new ArgumentOutOfRangeException(nameof(BatchOrder), BatchOrder, "BatchOrder must be Pooled or LengthBuckets.");
        CheckAtLeast(nameof(CheckpointInterval), CheckpointInterval, 0);
        if (NumberOfThreads is int threads && threads < 1)
            throw new ArgumentOutOfRangeException(nameof(NumberOfThreads), threads, "NumberOfThreads must be at least 1, or null to keep libtorch's setting.");
        if (CheckpointFolder is not null && string.IsNullOrWhiteSpace(CheckpointFolder))
            throw new ArgumentOutOfRangeException(nameof(CheckpointFolder), "CheckpointFolder must name a folder, or be null for no checkpoints.");
        if (GpuDeviceId is int gpu && gpu < 0)
            throw new ArgumentOutOfRangeException(nameof(GpuDeviceId), gpu, "GpuDeviceId must be at least 0, or null to follow MLContext.GpuDeviceId.");
    }

    /// <summary>
    /// The number format asked for training's large matrix products, for models that have the choice (SVAE's
    /// <see cref="SvaeTrainer.Options.TrainingPrecision"/>); <see langword="null"/> for the others. The training log
    /// names it, with the device it applies on.
    /// </summary>
    internal virtual TrainingPrecision? TrainingPrecisionSetting => null;

    /// <summary>Throws when <paramref name="value"/> is below <paramref name="min"/>.</summary>
    private protected static void CheckAtLeast(string name, int value, int min)
    {
        if (value < min)
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be at least {min}.");
    }

    /// <summary>Throws when <paramref name="value"/> is outside [<paramref name="min"/>, <paramref name="max"/>] or not finite.</summary>
    private protected static void CheckInRange(string name, double value, double min, double max)
    {
        if (!(value >= min && value <= max))
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be between {min} and {max}.");
    }
}
