using Microsoft.ML.Svae.Onnx;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Svae;

/// <summary>GRU4Rec as the shared loop sees it.</summary>
internal sealed class Gru4RecModel : ISequenceModel
{
    private readonly Gru4RecNetwork _network;
    private readonly float[] _itemCounts;
    private readonly Tensor _popularity;
    private readonly Generator _noise;

    /// <summary>Creates the network of <paramref name="options"/> for <paramref name="train"/>'s items on <paramref name="device"/>.</summary>
    public Gru4RecModel(UserSequences train, Gru4RecTrainer.Options options, Device device)
    {
        _network = new Gru4RecNetwork(train.ItemCount, options.EmbeddingSize, options.RecurrentSize, options.DropoutRate, options.Seed);
        _itemCounts = ItemCounts.Of(train);
        (_noise, _popularity) = NextItemHead.Place(_network, _itemCounts, options.Seed, device);
        _network.DropoutGenerator = _noise;
    }

    /// <summary>The network (owned).</summary>
    public Gru4RecNetwork Network => _network;

    /// <inheritdoc/>
    public nn.Module Module => _network;

    /// <inheritdoc/>
    public long LossUnits(int length) => Gru4RecObjective.Units(length);

    /// <inheritdoc/>
    public Tensor Loss(SequenceBatch batch, double klWeight) => Gru4RecObjective.Loss(_network, batch);

    /// <summary>The logits after each user's last item; empty histories get the training popularity, as the ONNX graph does.</summary>
    public Tensor ScoreUsers(SequenceBatch batch)
    {
        using var scope = NewDisposeScope();
        var logits = _network.ScoreLast(batch.Items, batch.LengthTensor);
        return NextItemHead.PopularityWhenEmpty(logits, batch, _popularity).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public byte[] WriteOnnx(RecommendationModelDescription description) => Gru4RecOnnxGraph.Write(description, ExportWeights());

    /// <summary>The inference weights, copied out of the network.</summary>
    public Gru4RecWeights ExportWeights()
    {
        using var noGrad = no_grad();
        var gru = _network.gru;
        var gruWeights = new GruWeights(
            TorchWeights.Values(gru.get_parameter("weight_ih_l0")!), TorchWeights.Values(gru.get_parameter("weight_hh_l0")!),
            TorchWeights.Values(gru.get_parameter("bias_ih_l0")!), TorchWeights.Values(gru.get_parameter("bias_hh_l0")!),
            _network.RecurrentSize, _network.EmbeddingSize);
        return new Gru4RecWeights(
            TorchWeights.Values(_network.itemEmbedding.weight!), _network.EmbeddingSize, gruWeights,
            TorchWeights.Dense(_network.dense), _itemCounts);
    }

    /// <inheritdoc/>
    public IReadOnlyList<Generator> Generators => [_noise];

    /// <inheritdoc/>
    public void Dispose()
    {
        _network.DropoutGenerator = null;
        _noise?.Dispose();
        _popularity?.Dispose();
        _network.Dispose();
    }
}
