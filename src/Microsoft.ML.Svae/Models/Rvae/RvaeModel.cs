using Microsoft.ML.Svae.Onnx;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Svae;

/// <summary>
/// RVAE as the shared loop sees it. A loss unit is a triple (u, i, j): an event i of the training user's history
/// (preferred) and an item j the user never interacted with (non-preferred), sampled on the device
/// (<see cref="RvaeObjective"/>).
/// </summary>
internal sealed class RvaeModel : ISequenceModel
{
    private readonly RvaeNetwork _network;
    private readonly int _negatives;
    private readonly Tensor? _popularity;
    private readonly Generator _noise;
    private readonly Generator _generator;

    /// <summary>Creates the network of <paramref name="options"/> for <paramref name="train"/>'s items on <paramref name="device"/>.</summary>
    /// <param name="train">The training histories: the vocabulary, and the popularity of <see cref="RvaeNegativeSampling.Popularity"/>.</param>
    /// <param name="options">The architecture, the negatives and the seed.</param>
    /// <param name="device">The device.</param>
    public RvaeModel(UserSequences train, RvaeTrainer.Options options, Device device)
    {
        if (train.ItemCount < 2)
            throw new ArgumentOutOfRangeException(nameof(train), train.ItemCount,
                "RVAE ranks a preferred item above a non-preferred one: the vocabulary needs at least two items.");
        var itemCounts = ItemCounts.Of(train);
        _network = new RvaeNetwork(train.ItemCount, options.EmbeddingSize, options.EncoderSize, options.LatentSize, options.Seed);
        try
        {
            _network.to(device);
            _noise = NoiseSeeds.NoiseGenerator(options.Seed, device);
            _generator = new Generator(NoiseSeeds.Negatives(options.Seed), device);
            _network.NoiseGenerator = _noise;
            _negatives = options.NegativesPerPositive;
            if (options.NegativeSampling == RvaeNegativeSampling.Popularity)
            {
                var popularity = tensor(itemCounts, new long[] { 1, itemCounts.Length }, ScalarType.Float32);
                _popularity = device.type == DeviceType.CPU ? popularity : popularity.to(device, disposeAfter: true);
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>The network (owned).</summary>
    public RvaeNetwork Network => _network;

    /// <inheritdoc/>
    public nn.Module Module => _network;

    /// <inheritdoc/>
    public long LossUnits(int length) => (long)length * _negatives;

    /// <inheritdoc/>
    public Tensor Loss(SequenceBatch batch, double klWeight)
        => RvaeObjective.Loss(_network, batch, _negatives, _popularity, _generator, klWeight);

    /// <summary>Every item's score f(μ(u, i)) from each user's whole history (an empty history gives <c>p_u = tanh(b_user)</c>), as in the ONNX graph.</summary>
    public Tensor ScoreUsers(SequenceBatch batch)
    {
        using var scope = NewDisposeScope();
        return _network.ScoreAll(MultiHotInput.Dense(batch, _network.ItemCount)).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public byte[] WriteOnnx(RecommendationModelDescription description)
        => RvaeOnnxGraph.Write(description, ExportWeights(_network));

    /// <summary>Copies the inference weights out of a trained network (on any device).</summary>
    internal static RvaeWeights ExportWeights(RvaeNetwork network)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var (userWeight, itemHidden, scoreVector, scoreBias) = network.InferenceParts();
        return new RvaeWeights(
            TorchWeights.Dense(network.userEmbedding), TorchWeights.Values(userWeight), TorchWeights.Values(itemHidden),
            TorchWeights.Values(scoreVector), TorchWeights.Values(scoreBias), network.EncoderSize);
    }

    /// <inheritdoc/>
    public IReadOnlyList<Generator> Generators => [_noise, _generator];

    /// <inheritdoc/>
    public void Dispose()
    {
        _network.NoiseGenerator = null;
        _noise?.Dispose();
        _generator?.Dispose();
        _popularity?.Dispose();
        _network.Dispose();
    }
}
