using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Svae;

/// <summary>What MVAE training hands to the trainer: the network and its learning curve.</summary>
internal sealed class MvaeTrainingResult
{
    public MvaeTrainingResult(MvaeNetwork network, IReadOnlyList<TrainingEpoch> history, int bestEpoch, bool stoppedEarly)
    {
        Network = network;
        History = history;
        BestEpoch = bestEpoch;
        StoppedEarly = stoppedEarly;
    }

    /// <summary>The trained network, on the CPU, in eval mode; owned (and disposed) by the caller.</summary>
    public MvaeNetwork Network { get; }

    /// <summary>One entry per epoch run.</summary>
    public IReadOnlyList<TrainingEpoch> History { get; }

    /// <summary>The epoch (from 1) whose weights <see cref="Network"/> holds: the best validation epoch, else the last.</summary>
    public int BestEpoch { get; }

    /// <summary>Whether early stopping ended training.</summary>
    public bool StoppedEarly { get; }
}

/// <summary>Trains MVAE with the shared loop.</summary>
internal static class MvaeTraining
{
    /// <summary>
    /// Trains an MVAE on <paramref name="train"/>, validating (and early stopping) on the validation users when given.
    /// </summary>
    /// <param name="env">The environment: logging, progress, cancellation and the default GPU settings.</param>
    /// <param name="train">The training users' histories (order is ignored).</param>
    /// <param name="validationFoldIn">Validation users' fold-ins, or <see langword="null"/>.</param>
    /// <param name="validationFoldOut">Validation users' fold-outs, or <see langword="null"/>.</param>
    /// <param name="options">The options (validated here).</param>
    public static MvaeTrainingResult Train(IHostEnvironment env, UserSequences train, UserSequences? validationFoldIn, UserSequences? validationFoldOut, MvaeTrainer.Options options)
    {
        ArgumentNullException.ThrowIfNull(env);
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var host = env.Register(nameof(MvaeTrainer));
        var device = TrainingDevice.Resolve(env, options);

        var network = new MvaeNetwork(train.ItemCount, options.HiddenSize, options.LatentSize, options.InputDropout, options.Seed);
        try
        {
            network.to(device);
            using var noise = new Generator(SvaeTraining.NoiseSeed(options.Seed), device);
            network.NoiseGenerator = noise;
            using var model = new MvaeModel(network);
            var kl = new KlAnnealingSchedule(options.KlWeightCap, options.KlAnnealingSteps, resetsEachEpoch: false);
            var result = SequenceTrainingLoop.Train(host, model, train, validationFoldIn, validationFoldOut, options, kl, device, "MVAE");
            network.NoiseGenerator = null;
            if (device.type != DeviceType.CPU)
                network.to(CPU);
            network.eval();
            return new MvaeTrainingResult(network, result.History, result.BestEpoch, result.StoppedEarly);
        }
        catch
        {
            network.Dispose();
            throw;
        }
    }
}

/// <summary>
/// MVAE as the shared loop sees it: one loss unit per user, <c>β·KL(q(z_u | x_u) ‖ N(0, I)) − Σ_i x_ui log π_i(z_u)</c>
/// (Liang et al.'s objective; the loop divides the batch sum by the batch size, their mean over users).
/// </summary>
internal sealed class MvaeModel : ISequenceModel
{
    private readonly MvaeNetwork _network;

    /// <summary>Wraps <paramref name="network"/> (not owned).</summary>
    public MvaeModel(MvaeNetwork network) => _network = network;

    /// <inheritdoc/>
    public nn.Module Module => _network;

    /// <inheritdoc/>
    public long LossUnits(int length) => length > 0 ? 1 : 0;

    /// <inheritdoc/>
    public Tensor Loss(SequenceBatch batch, double klWeight)
    {
        using var scope = NewDisposeScope();
        var x = MultiHotInput.Dense(batch, _network.ItemCount);
        var (logits, mean, logVariance) = _network.call(x);
        // The multinomial log-likelihood as a dense masked sum: [B, N] once per step.
        var nll = -(logits.log_softmax(1) * x).sum(1);
        var kl = GaussianLatent.KlDivergence(mean, logVariance);
        return (nll + klWeight * kl).sum().MoveToOuterDisposeScope();
    }

    /// <summary>The logits of each user's whole (multi-hot) history with z = μ; an empty history is scored from the zero input, as in the ONNX graph.</summary>
    public Tensor ScoreUsers(SequenceBatch batch)
    {
        using var scope = NewDisposeScope();
        return _network.Score(MultiHotInput.Dense(batch, _network.ItemCount)).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public void Dispose()
    {
    }
}
