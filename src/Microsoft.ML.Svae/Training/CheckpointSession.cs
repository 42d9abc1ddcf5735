using static TorchSharp.torch;

namespace Microsoft.ML.Svae;

/// <summary>
/// The checkpoints of one training run (<see cref="SequenceTrainerOptions.CheckpointFolder"/>): restores the loop's
/// state from the folder's checkpoint for the model, when there is one made for the same options and data, and
/// writes the state at epoch ends and every <see cref="SequenceTrainerOptions.CheckpointInterval"/> updates.
/// </summary>
internal sealed class CheckpointSession
{
    private readonly CheckpointFile _file;
    private readonly SequenceTrainerOptions _options;
    private readonly string _modelName;
    private readonly string _optionsJson;
    private readonly string _defaultOptionsJson;
    private readonly TrainingFingerprint _fingerprint;
    private readonly ISequenceModel _model;
    private readonly EpochRunner _runner;
    private readonly BestWeightsTracker _tracker;
    private readonly List<TrainingEpoch> _history;
    private readonly TrainingReporter _reporter;

    private CheckpointSession(SequenceTrainerOptions options, string modelName, TrainingFingerprint fingerprint, ISequenceModel model,
        EpochRunner runner, BestWeightsTracker tracker, List<TrainingEpoch> history, TrainingReporter reporter)
    {
        _file = new CheckpointFile(options.CheckpointFolder!, modelName);
        _options = options;
        _modelName = modelName;
        _optionsJson = TrainingCheckpoint.SerializeOptions(options);
        _defaultOptionsJson = TrainingCheckpoint.SerializeOptions((SequenceTrainerOptions)Activator.CreateInstance(options.GetType())!);
        _fingerprint = fingerprint;
        _model = model;
        _runner = runner;
        _tracker = tracker;
        _history = history;
        _reporter = reporter;
    }

    /// <summary>The session of <paramref name="options"/>' checkpoint folder; <see langword="null"/> without one.</summary>
    public static CheckpointSession? Open(SequenceTrainerOptions options, string modelName, TrainingFingerprint fingerprint, ISequenceModel model,
        EpochRunner runner, BestWeightsTracker tracker, List<TrainingEpoch> history, TrainingReporter reporter)
        => options.CheckpointFolder is null ? null
            : new CheckpointSession(options, modelName, fingerprint, model, runner, tracker, history, reporter);

    /// <summary>The checkpoint file's path.</summary>
    public string Path => _file.Path;

    /// <summary>
    /// Restores the loop from the folder's checkpoint, if any; returns it (its tensors disposed, its scalars readable)
    /// or <see langword="null"/> when there is none. Throws <see cref="ArgumentException"/> when the checkpoint
    /// was made for another model, other options or other data, naming what differs.
    /// </summary>
    public (EpochPosition Position, bool Completed, bool StoppedEarly)? Resume()
    {
        using var checkpoint = _file.TryRead(_reporter.CheckpointWarning);
        if (checkpoint is null)
            return null;
        Check(checkpoint);

        using (no_grad())
        {
            foreach (var (name, value) in _model.Module.state_dict())
                value.copy_(checkpoint.Weights[name]);
        }
        using (var stream = new MemoryStream(checkpoint.OptimizerState, writable: false))
        using (var reader = new BinaryReader(stream))
            ((TorchSharp.Modules.OptimizerHelper)_runner.Optimizer).load_state_dict(reader);
        var generators = _model.Generators;
        for (int g = 0; g < generators.Count; g++)
            generators[g].set_state(checkpoint.GeneratorStates[g]);
        _model.NegativeSampler?.Restore(checkpoint.NegativeDraws);
        _runner.Resume(checkpoint.Updates, checkpoint.Position);
        _tracker.Restore(checkpoint.BestEpoch, checkpoint.BestNdcg, checkpoint.BestWeights);
        _history.AddRange(checkpoint.History);
        _reporter.Resumed(_file.Path, checkpoint.Position, checkpoint.Completed);
        return (checkpoint.Position, checkpoint.Completed, checkpoint.StoppedEarly);
    }

    /// <summary>Writes the loop's state at <paramref name="position"/> (an epoch's start when its batches done are 0).</summary>
    public void Write(EpochPosition position, bool completed = false, bool stoppedEarly = false)
    {
        byte[] optimizerState;
        using (var stream = new MemoryStream())
        {
            using (var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true))
                ((TorchSharp.Modules.OptimizerHelper)_runner.Optimizer).save_state_dict(writer);
            optimizerState = stream.ToArray();
        }
        var generatorStates = _model.Generators.Select(g => g.get_state()).ToList();
        try
        {
            var checkpoint = new TrainingCheckpoint
            {
                ModelName = _modelName,
                OptionsJson = _optionsJson,
                Fingerprint = _fingerprint,
                Position = position,
                Updates = _runner.Updates,
                Completed = completed,
                StoppedEarly = stoppedEarly,
                History = _history,
                BestEpoch = _tracker.BestEpoch,
                BestNdcg = _tracker.BestNdcg,
                BestWeights = _tracker.BestWeights,
                Weights = _model.Module.state_dict(),
                OptimizerState = optimizerState,
                GeneratorStates = generatorStates,
                NegativeDraws = _model.NegativeSampler?.Draws ?? 0,
            };
            // Not disposed: its weights are the module's own tensors.
            _file.Write(checkpoint);
        }
        finally
        {
            foreach (var state in generatorStates)
                state.Dispose();
        }
        _reporter.CheckpointWritten(_file.Path, position);
        _options.CheckpointWritten?.Invoke(position.Epoch, position.BatchesDone);
    }

    private void Check(TrainingCheckpoint checkpoint)
    {
        string restart = $"Use the same options and data to resume, or delete {_file.Path} (or choose another CheckpointFolder) to train from the start.";
        if (checkpoint.ModelName != _modelName)
            throw new ArgumentException($"The checkpoint {_file.Path} was made by {checkpoint.ModelName}, not {_modelName}. {restart}");
        var options = TrainingCheckpoint.OptionDifferences(checkpoint.OptionsJson, _optionsJson, _defaultOptionsJson);
        if (options.Count > 0)
            throw new ArgumentException($"The checkpoint {_file.Path} was made with other options: {string.Join("; ", options)}. {restart}");
        var data = checkpoint.Fingerprint.Differences(_fingerprint);
        if (data.Count > 0)
            throw new ArgumentException($"The checkpoint {_file.Path} was made for other data: {string.Join("; ", data)}. {restart}");

        var state = _model.Module.state_dict();
        foreach (var (name, value) in state)
        {
            if (!checkpoint.Weights.TryGetValue(name, out var saved) || !saved.shape.SequenceEqual(value.shape) || saved.dtype != value.dtype)
                throw new InvalidDataException($"The checkpoint {_file.Path} is damaged: its weights do not fit the model ({name}). {restart}");
        }
        if (checkpoint.Weights.Count != state.Count || checkpoint.GeneratorStates.Count != _model.Generators.Count)
            throw new InvalidDataException($"The checkpoint {_file.Path} is damaged: it holds {checkpoint.Weights.Count} weights and {checkpoint.GeneratorStates.Count} generator states, the model has {state.Count} and {_model.Generators.Count}. {restart}");
        if (checkpoint.Position.Epoch < 1 || checkpoint.Position.BatchesDone < 0 || checkpoint.History.Count != checkpoint.Position.Epoch - 1)
            throw new InvalidDataException($"The checkpoint {_file.Path} is damaged: it is at epoch {checkpoint.Position.Epoch} with {checkpoint.History.Count} epochs recorded. {restart}");
    }
}
