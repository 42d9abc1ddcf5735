using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Svae;

/// <summary>What SVAE training hands to the trainer: the network and its learning curve.</summary>
internal sealed class SvaeTrainingResult
{
    public SvaeTrainingResult(SvaeNetwork network, IReadOnlyList<TrainingEpoch> history, int bestEpoch, bool stoppedEarly, float[] itemCounts)
    {
        Network = network;
        History = history;
        BestEpoch = bestEpoch;
        StoppedEarly = stoppedEarly;
        ItemCounts = itemCounts;
    }

    /// <summary>The trained network, on the CPU, in eval mode; owned (and disposed) by the caller.</summary>
    public SvaeNetwork Network { get; }

    /// <summary>One entry per epoch run.</summary>
    public IReadOnlyList<TrainingEpoch> History { get; }

    /// <summary>The epoch (from 1) whose weights <see cref="Network"/> holds: the best validation epoch, else the last.</summary>
    public int BestEpoch { get; }

    /// <summary>Whether early stopping ended training.</summary>
    public bool StoppedEarly { get; }

    /// <summary>How often each item occurs in the training histories (whole, not truncated): the popularity fallback for empty histories.</summary>
    public float[] ItemCounts { get; }
}

/// <summary>Trains SVAE with the shared loop.</summary>
internal static class SvaeTraining
{
    /// <summary>
    /// Trains an SVAE on <paramref name="train"/>, validating (and early stopping) on the validation users when
    /// given.
    /// </summary>
    /// <param name="env">The environment (an <c>MLContext</c> or a host registered from one): logging, progress,
    /// cancellation and the default GPU settings.</param>
    /// <param name="train">The training users' histories.</param>
    /// <param name="validationFoldIn">Validation users' fold-ins, or <see langword="null"/>.</param>
    /// <param name="validationFoldOut">Validation users' fold-outs, or <see langword="null"/>.</param>
    /// <param name="options">The options (validated here).</param>
    public static SvaeTrainingResult Train(IHostEnvironment env, UserSequences train, UserSequences? validationFoldIn, UserSequences? validationFoldOut, SvaeTrainer.Options options)
    {
        ArgumentNullException.ThrowIfNull(env);
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var host = env.Register(nameof(SvaeTrainer));
        var device = TrainingDevice.Resolve(env, options);
        var itemCounts = PopularityTrainer.ItemCounts(train);

        var network = new SvaeNetwork(train.ItemCount, options.EmbeddingSize, options.HiddenSize, options.EncoderSize,
            options.LatentSize, options.DecoderSize, options.Seed, options.Dropout);
        try
        {
            network.to(device);
            using var noise = new Generator(NoiseSeed(options.Seed), device);
            network.NoiseGenerator = noise;
            using var model = new SvaeModel(network, options.NextK, options.Likelihood, itemCounts, device);
            var kl = new KlAnnealingSchedule(options.KlWeightCap, options.KlAnnealingSteps, options.KlAnnealingResetsEachEpoch);
            var result = SequenceTrainingLoop.Train(host, model, train, validationFoldIn, validationFoldOut, options, kl, device, "SVAE");
            network.NoiseGenerator = null;
            if (device.type != DeviceType.CPU)
                network.to(CPU);
            network.eval();
            return new SvaeTrainingResult(network, result.History, result.BestEpoch, result.StoppedEarly, itemCounts);
        }
        catch
        {
            network.Dispose();
            throw;
        }
    }

    /// <summary>A seed for ε distinct from the initialization seed.</summary>
    internal static ulong NoiseSeed(int seed) => unchecked((ulong)(uint)seed * 0x9E3779B97F4A7C15UL + 1);
}

/// <summary>SVAE as the shared loop sees it.</summary>
internal sealed class SvaeModel : ISequenceModel
{
    private readonly SvaeNetwork _network;
    private readonly int _nextK;
    private readonly NextKLikelihood _likelihood;
    private readonly Tensor _popularity;

    /// <summary>Wraps <paramref name="network"/> (not owned).</summary>
    /// <param name="network">The network, on <paramref name="device"/>.</param>
    /// <param name="nextK">k of the next-k likelihood.</param>
    /// <param name="likelihood">Eq. 4.9 or 4.10.</param>
    /// <param name="itemCounts">Training popularity: the scores of users with an empty history.</param>
    /// <param name="device">The device.</param>
    public SvaeModel(SvaeNetwork network, int nextK, NextKLikelihood likelihood, float[] itemCounts, Device device)
    {
        _network = network;
        _nextK = nextK;
        _likelihood = likelihood;
        var popularity = tensor(itemCounts, new long[] { 1, itemCounts.Length }, ScalarType.Float32);
        _popularity = device.type == DeviceType.CPU ? popularity : popularity.to(device, disposeAfter: true);
    }

    /// <inheritdoc/>
    public nn.Module Module => _network;

    /// <inheritdoc/>
    public long LossUnits(int length) => SvaeObjective.Units(length);

    /// <inheritdoc/>
    public Tensor Loss(SequenceBatch batch, double klWeight) => SvaeObjective.Loss(_network, batch, _nextK, _likelihood, klWeight);

    /// <summary>
    /// The logits of the state after each user's last item (z = μ); users with an empty history get the training
    /// popularity, as the exported ONNX graph does.
    /// </summary>
    public Tensor ScoreUsers(SequenceBatch batch)
    {
        using var scope = NewDisposeScope();
        var logits = _network.ScoreLast(batch.Items, batch.LengthTensor);
        if (batch.Lengths.Contains(0))
            logits = where((batch.LengthTensor > 0).unsqueeze(1), logits, _popularity.expand_as(logits));
        return logits.MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public void Dispose() => _popularity.Dispose();
}
