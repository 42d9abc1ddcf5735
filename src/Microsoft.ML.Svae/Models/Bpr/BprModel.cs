using Microsoft.ML.Svae.Onnx;
using static TorchSharp.torch;

namespace Microsoft.ML.Svae;

/// <summary>BPR as the shared loop sees it: one loss unit per (user, item) event, each with one negative item.</summary>
internal sealed class BprModel : UserSequenceModel<BprNetwork>
{
    private readonly double _lambda;

    /// <summary>Creates the network of <paramref name="options"/> for <paramref name="data"/>'s users and items, on the CPU.</summary>
    public BprModel(UserKeyedData data, BprTrainer.Options options)
        : base(new BprNetwork(data.UserCount, data.Train.ItemCount, options.EmbeddingSize, options.UseItemBias, options.Seed), data, options.Seed)
    {
        _lambda = options.Lambda;
    }

    /// <inheritdoc/>
    public override long LossUnits(int length) => length;

    /// <inheritdoc/>
    public override Tensor Loss(SequenceBatch batch, double klWeight)
    {
        int pairs = batch.Lengths.Sum();
        var users = new long[pairs];
        var positives = new long[pairs];
        var negatives = new long[pairs];
        int p = 0;
        for (int b = 0; b < batch.Count; b++)
        {
            int row = batch.Users[b];
            int user = User(row);
            foreach (int item in Events(batch, b))
            {
                users[p] = user;
                positives[p] = item;
                negatives[p] = Negatives.Sample(row);
                p++;
            }
        }
        var device = batch.Device;
        return BprObjective.PairLoss(Network, Int64(users, device), Int64(positives, device), Int64(negatives, device), _lambda);
    }

    /// <inheritdoc/>
    public override byte[] WriteOnnx(RecommendationModelDescription description)
        => BprOnnxGraph.Write(description, ExportWeights(Network));

    /// <summary>Copies the inference weights out of a trained network.</summary>
    internal static BprWeights ExportWeights(BprNetwork network)
    {
        using var noGrad = no_grad();
        return new BprWeights(TorchWeights.Values(network.userFactors.weight!), TorchWeights.Values(network.itemFactors.weight!),
            network.itemBias is null ? null : TorchWeights.Values(network.itemBias.weight!), network.Factors);
    }
}
