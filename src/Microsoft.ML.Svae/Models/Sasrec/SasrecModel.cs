using Microsoft.ML.Svae.Onnx;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Svae;

/// <summary>SASRec as the shared loop sees it.</summary>
internal sealed class SasrecModel : ISequenceModel
{
    private readonly SasrecNetwork _network;
    private readonly float[] _itemCounts;
    private readonly Tensor _popularity;
    private readonly Generator _noise;
    private readonly NextItemLoss _loss;
    private readonly int _negativesPerPositive;
    private readonly NegativeSampler? _negatives;

    /// <summary>Creates the network of <paramref name="options"/> for <paramref name="train"/>'s items on <paramref name="device"/>.</summary>
    public SasrecModel(UserSequences train, SasrecTrainer.Options options, Device device)
    {
        _network = new SasrecNetwork(train.ItemCount, options.EmbeddingSize, options.MaxHistoryLength ?? SasrecTrainer.Defaults.MaxHistoryLength,
            options.NumberOfBlocks, options.NumberOfHeads, options.DropoutRate, options.Seed);
        _itemCounts = ItemCounts.Of(train);
        _loss = options.Loss;
        _negativesPerPositive = options.NegativesPerPositive;
        if (_loss == NextItemLoss.SampledBinaryCrossEntropy)
            _negatives = new NegativeSampler(train, unchecked((int)NoiseSeeds.Negatives(options.Seed)));
        (_noise, _popularity) = NextItemHead.Place(_network, _itemCounts, options.Seed, device);
        _network.DropoutGenerator = _noise;
    }

    /// <summary>The network (owned).</summary>
    public SasrecNetwork Network => _network;

    /// <inheritdoc/>
    public nn.Module Module => _network;

    /// <inheritdoc/>
    public long LossUnits(int length) => SasrecObjective.Units(length);

    /// <inheritdoc/>
    public Tensor Loss(SequenceBatch batch, double klWeight) => SasrecObjective.Loss(_network, batch, _loss, _negativesPerPositive, _negatives);

    /// <summary>
    /// The logits after each user's last item, read from the most recent <c>MaxHistoryLength</c> items; empty
    /// histories get the training popularity, as the ONNX graph does.
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
        var n = _network;
        LayerNormWeights Norm(TorchSharp.Modules.LayerNorm norm)
            => new(TorchWeights.Values(norm.weight!), TorchWeights.Values(norm.bias!), (float)SasrecNetwork.LayerNormEpsilon);
        var blocks = Enumerable.Range(0, n.Blocks).Select(i => new AttentionBlockWeights(
            Norm(n.attentionNorms[i]), TorchWeights.Dense(n.queries[i]), TorchWeights.Dense(n.keys[i]), TorchWeights.Dense(n.values[i]),
            TorchWeights.Dense(n.outputs[i]), Norm(n.feedForwardNorms[i]), TorchWeights.Dense(n.feedForwardIn[i]),
            TorchWeights.Dense(n.feedForwardOut[i]))).ToArray();
        return SasrecOnnxGraph.Write(description, new SasrecWeights(
            TorchWeights.Values(n.itemEmbedding.weight!), TorchWeights.Values(n.positionEmbedding.weight!), n.EmbeddingSize, n.MaxLength,
            n.Heads, blocks, Norm(n.finalNorm), _itemCounts));
    }

    /// <inheritdoc/>
    public IReadOnlyList<Generator> Generators => [_noise];

    /// <inheritdoc/>
    public NegativeSampler? NegativeSampler => _negatives;

    /// <inheritdoc/>
    public void Dispose()
    {
        _network.DropoutGenerator = null;
        _noise?.Dispose();
        _popularity?.Dispose();
        _network.Dispose();
    }
}
