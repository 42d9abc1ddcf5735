using Microsoft.ML.Svae.Onnx;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Svae;

/// <summary>SVAE as the shared loop sees it.</summary>
internal sealed class SvaeModel : ISequenceModel
{
    private readonly SvaeNetwork _network;
    private readonly int _nextK;
    private readonly NextKLikelihood _likelihood;
    private readonly TrainingPrecision _precision;
    private readonly float[] _itemCounts;
    private readonly Tensor _popularity;
    private readonly Generator _noise;

    /// <summary>Creates the network of <paramref name="options"/> for <paramref name="train"/>'s items on <paramref name="device"/>.</summary>
    public SvaeModel(UserSequences train, SvaeTrainer.Options options, Device device)
        : this(new SvaeNetwork(train.ItemCount, options.EmbeddingSize, options.RecurrentSize, options.EncoderSize,
            options.LatentSize, options.DecoderSize, options.Seed, options.DropoutRate), options, ItemCounts.Of(train), device)
    {
    }

    /// <summary>Wraps <paramref name="network"/> (owned from here on) and moves it to <paramref name="device"/>.</summary>
    /// <param name="network">The network.</param>
    /// <param name="options">k and the likelihood of the objective, and the seed of ε.</param>
    /// <param name="itemCounts">Training popularity: the scores of users with an empty history.</param>
    /// <param name="device">The device.</param>
    public SvaeModel(SvaeNetwork network, SvaeTrainer.Options options, float[] itemCounts, Device device)
    {
        _network = network;
        _nextK = options.NextK;
        _likelihood = options.Likelihood;
        _precision = options.TrainingPrecision;
        _itemCounts = itemCounts;
        try
        {
            network.to(device);
            _noise = NoiseSeeds.NoiseGenerator(options.Seed, device);
            network.NoiseGenerator = _noise;
            var popularity = tensor(itemCounts, new long[] { 1, itemCounts.Length }, ScalarType.Float32);
            _popularity = device.type == DeviceType.CPU ? popularity : popularity.to(device, disposeAfter: true);
        }
        catch
        {
            network.Dispose();
            throw;
        }
    }

    /// <summary>Training popularity: the scores of users with an empty history.</summary>
    public float[] EmptyHistoryScores => _itemCounts;

    /// <summary>The network (owned).</summary>
    public SvaeNetwork Network => _network;

    /// <inheritdoc/>
    public nn.Module Module => _network;

    /// <inheritdoc/>
    public long LossUnits(int length) => SvaeObjective.Units(length);

    /// <inheritdoc/>
    public Tensor Loss(SequenceBatch batch, double klWeight) => SvaeObjective.Loss(_network, batch, _nextK, _likelihood, klWeight, _precision);

    /// <summary>
    /// The logits of the state after each user's last item (z = μ); users with an empty history get the training
    /// popularity, as the exported ONNX graph does.
    /// </summary>
    public Tensor ScoreUsers(SequenceBatch batch)
    {
        using var scope = NewDisposeScope();
        var logits = _network.ScoreLast(batch.Items, batch.LengthTensor);
        if (batch.Lengths.Contains(0))
            logits = where(batch.LengthTensor.gt(TorchScalars.Zero).unsqueeze(1), logits, _popularity.expand_as(logits));
        return logits.MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public byte[] WriteOnnx(RecommendationModelDescription description)
        => SvaeOnnxGraph.Write(description, ExportWeights(_network, _itemCounts));

    /// <summary>Copies the inference weights out of a trained network (on any device).</summary>
    internal static SvaeWeights ExportWeights(SvaeNetwork network, float[] emptyHistoryScores)
    {
        using var noGrad = no_grad();
        var gru = network.gru;
        var gruWeights = new GruWeights(
            TorchWeights.Values(gru.get_parameter("weight_ih_l0")!), TorchWeights.Values(gru.get_parameter("weight_hh_l0")!),
            TorchWeights.Values(gru.get_parameter("bias_ih_l0")!), TorchWeights.Values(gru.get_parameter("bias_hh_l0")!),
            network.RecurrentSize, network.EmbeddingSize);
        return new SvaeWeights(
            TorchWeights.Values(network.itemEmbedding.weight!), network.EmbeddingSize, gruWeights,
            TorchWeights.Dense(network.encoderHidden), TorchWeights.Dense(network.encoderOut), network.LatentSize,
            TorchWeights.Dense(network.decoderHidden), TorchWeights.Dense(network.decoderOut), emptyHistoryScores);
    }

    /// <inheritdoc/>
    public IReadOnlyList<Generator> Generators => [_noise];

    /// <inheritdoc/>
    public void Dispose()
    {
        _network.NoiseGenerator = null;
        _noise?.Dispose();
        _popularity?.Dispose();
        _network.Dispose();
    }
}
