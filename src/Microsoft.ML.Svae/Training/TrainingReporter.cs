using System.Globalization;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Svae;

/// <summary>
/// What the shared loop tells the world through ML.NET's host: a log channel (info per epoch, trace per
/// tenth of an epoch) and a progress channel with the loss and the validation NDCG.
/// </summary>
internal sealed class TrainingReporter : IDisposable
{
    private readonly SequenceTrainerOptions _options;
    private readonly IChannel _channel;
    private readonly IProgressChannel _progress;
    private readonly string _ndcgName;
    private int _progressEpoch;
    private double _progressLoss = double.NaN;
    private double _progressNdcg = double.NaN;

    /// <summary>Opens the channels of one training run.</summary>
    public TrainingReporter(IHost host, string modelName, SequenceTrainerOptions options)
    {
        ModelName = modelName;
        _options = options;
        _ndcgName = RecommendationMetrics.MetricName("NDCG", options.ValidationCutoff);
        _channel = host.Start("Training");
        _progress = host.StartProgressChannel($"Training {modelName}");
        _progress.SetHeader(new ProgressHeader(new[] { "Loss", _ndcgName }, new[] { "epoch" }), e =>
        {
            e.SetProgress(0, _progressEpoch, options.NumberOfEpochs);
            e.SetMetric(0, _progressLoss);
            e.SetMetric(1, _progressNdcg);
        });
    }

    /// <summary>The model's name in messages.</summary>
    public string ModelName { get; }

    /// <summary>The opening line: data, device, batching, threads, learning-rate schedule and validation.</summary>
    public void Started(EpochRunner runner, UserSequences train, int? validationUsers, Device device)
    {
        string validationText = validationUsers is int count ? $"{count} users" : "none";
        _channel.Info(FormattableString.Invariant(
            $"{ModelName}: {runner.TrainingUsers} training users, {runner.PositionCount} events, {train.ItemCount} items, device {device}; up to {_options.BatchSize} users and {runner.Budget} positions per batch ({_options.BatchOrder}); {PrecisionText(device)}{get_num_threads()} libtorch threads; {LearningRateText(runner)}; validation: {validationText}."));
        if (_options.TrainingPrecisionSetting == TrainingPrecision.BFloat16 && device.type == DeviceType.CPU && BFloat16Hardware.Warning(ModelName, BFloat16Hardware.Present) is string warning)
            _channel.Warning(warning);
    }

    /// <summary>How the opening line names the matrix products' number format: bfloat16 applies on the CPU only.</summary>
    private string PrecisionText(Device device) => _options.TrainingPrecisionSetting switch
    {
        null => "",
        TrainingPrecision.BFloat16 when device.type == DeviceType.CPU => "bfloat16 matrix products (float32 weights); ",
        TrainingPrecision.BFloat16 => "float32 matrix products (TrainingPrecision = BFloat16 applies on the CPU only); ",
        _ => "float32 matrix products; ",
    };

    private string LearningRateText(EpochRunner runner)
    {
        string text = FormattableString.Invariant($"learning rate {_options.LearningRate}");
        if (_options.LearningRateWarmupUpdates > 0)
            text += FormattableString.Invariant($", warm-up {_options.LearningRateWarmupUpdates} updates");
        if (runner.DecayUpdates > 0)
            text += FormattableString.Invariant($", cosine decay over {_options.LearningRateDecayEpochs} epochs ({runner.DecayUpdates} updates) to {_options.LearningRate / EpochRunner.DecayFloorDivisor}");
        return text;
    }

    /// <summary>Traces about every tenth batch of an epoch.</summary>
    public void BatchStarting(int epoch, long batchesDone, int batches)
    {
        int reportEvery = Math.Max(1, batches / 10);
        if (batchesDone % reportEvery == 0)
            _channel.Trace(FormattableString.Invariant($"{ModelName} epoch {epoch}/{_options.NumberOfEpochs}, batch {batchesDone + 1}/{batches}"));
    }

    /// <summary>An epoch's line and progress checkpoint.</summary>
    public void EpochEnded(TrainingEpoch record, bool best)
    {
        _progressEpoch = record.Epoch;
        _progressLoss = record.TrainingLoss;
        _progressNdcg = record.ValidationNdcg ?? double.NaN;
        _progress.Checkpoint(record.TrainingLoss, record.ValidationNdcg, record.Epoch);
        _channel.Info($"{ModelName} {record}{(best ? " (best)" : "")}");
    }

    /// <summary>Early stopping ended training after <paramref name="epoch"/>.</summary>
    public void StoppedEarly(int epoch)
        => _channel.Info(string.Format(CultureInfo.InvariantCulture,
            "{0}: early stopping after epoch {1}: {2} did not improve for {3} epochs.", ModelName, epoch, _ndcgName, _options.EarlyStoppingPatience));

    /// <summary>The best epoch's weights were restored.</summary>
    public void Restored(int bestEpoch, double bestNdcg)
        => _channel.Info(FormattableString.Invariant($"{ModelName}: restored the weights of epoch {bestEpoch} ({_ndcgName} {bestNdcg:F4})."));

    /// <summary>Training continues from a checkpoint.</summary>
    public void Resumed(string path, EpochPosition position, bool completed)
        => _channel.Info(completed
            ? $"{ModelName}: the checkpoint {path} holds a completed training; its result is returned."
            : string.Format(CultureInfo.InvariantCulture, "{0}: resuming from the checkpoint {1} at epoch {2}, batch {3}.", ModelName, path, position.Epoch, position.BatchesDone + 1));

    /// <summary>A warning about checkpoints (e.g. a damaged one was skipped).</summary>
    public void CheckpointWarning(string message) => _channel.Warning($"{ModelName}: {message}");

    /// <summary>A checkpoint was written.</summary>
    public void CheckpointWritten(string path, EpochPosition position)
        => _channel.Trace(FormattableString.Invariant($"{ModelName}: checkpoint written to {path} (epoch {position.Epoch}, {position.BatchesDone} batches done)."));

    /// <summary>No validation user had a fold-out.</summary>
    public void NothingToValidate()
        => _channel.Warning($"{ModelName}: no validation user could be evaluated (all fold-outs empty); the last epoch's weights are kept.");

    /// <inheritdoc/>
    public void Dispose()
    {
        _progress.Dispose();
        _channel.Dispose();
    }
}
