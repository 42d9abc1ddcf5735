using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Svae;

/// <summary>A sequential VAE of section 4.3.2 as the shared loop sees it.</summary>
internal sealed class SequentialVaeModel : ISequenceModel
{
    private readonly SequentialVaeNetwork _network;
    private readonly int _nextK;
    private readonly float[] _itemCounts;
    private readonly Tensor _popularity;
    private readonly Generator _noise;

    /// <summary>Creates the network of <paramref name="options"/> for <paramref name="train"/>'s items on <paramref name="device"/>.</summary>
    public SequentialVaeModel(UserSequences train, SequentialVaeTrainer.Options options, Device device)
    {
        _network = SequentialVaeNetwork.Create(train.ItemCount, options);
        _nextK = options.NextK;
        _itemCounts = ItemCounts.Of(train);
        (_noise, _popularity) = NextItemHead.Place(_network, _itemCounts, options.Seed, device);
        _network.NoiseGenerator = _noise;
    }

    /// <summary>The network (owned).</summary>
    public SequentialVaeNetwork Network => _network;

    /// <inheritdoc/>
    public nn.Module Module => _network;

    /// <inheritdoc/>
    public long LossUnits(int length) => SequentialVaeObjective.Units(length);

    /// <inheritdoc/>
    public Tensor Loss(SequenceBatch batch, double klWeight) => SequentialVaeObjective.Loss(_network, batch, _nextK, klWeight);

    /// <summary>
    /// The logits after each user's last item with every latent variable at its mean; empty histories get the training
    /// popularity, as the ONNX graph does.
    /// </summary>
    public Tensor ScoreUsers(SequenceBatch batch)
    {
        using var scope = NewDisposeScope();
        var logits = _network.ScoreLast(batch.Items, batch.LengthTensor);
        return NextItemHead.PopularityWhenEmpty(logits, batch, _popularity).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public byte[] WriteOnnx(RecommendationModelDescription description)
    {
        using var noGrad = no_grad();
        return SequentialVaeOnnxGraph.Write(description, _network.ExportWeights(_itemCounts));
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
