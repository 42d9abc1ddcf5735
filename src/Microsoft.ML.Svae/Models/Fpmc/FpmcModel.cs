using Microsoft.ML.Svae.Onnx;
using static TorchSharp.torch;

namespace Microsoft.ML.Svae;

/// <summary>FPMC as the shared loop sees it: one loss unit per transition (previous item → next item), each with one negative item.</summary>
internal sealed class FpmcModel : UserSequenceModel<FpmcNetwork>
{
    private readonly double _lambda;

    /// <summary>Creates the network of <paramref name="options"/> for <paramref name="data"/>'s users and items, on the CPU.</summary>
    public FpmcModel(UserKeyedData data, FpmcTrainer.Options options)
        : base(new FpmcNetwork(data.UserCount, data.Train.ItemCount, options.EmbeddingSize, options.Seed), data, options.Seed)
    {
        _lambda = options.Lambda;
    }

    /// <inheritdoc/>
    public override long LossUnits(int length) => Math.Max(0, length - 1);

    /// <inheritdoc/>
    public override Tensor Loss(SequenceBatch batch, double klWeight)
    {
        long count = 0;
        for (int b = 0; b < batch.Count; b++)
            count += LossUnits(batch.Lengths[b]);
        var users = new long[count];
        var previous = new long[count];
        var next = new long[count];
        var negatives = new long[count];
        int p = 0;
        for (int b = 0; b < batch.Count; b++)
        {
            int row = batch.Users[b];
            int user = User(row);
            var events = Events(batch, b);
            for (int t = 1; t < events.Length; t++)
            {
                users[p] = user;
                previous[p] = events[t - 1];
                next[p] = events[t];
                negatives[p] = Negatives.Sample(row);
                p++;
            }
        }
        var device = batch.Device;
        return FpmcObjective.TransitionLoss(Network, Int64(users, device), Int64(previous, device), Int64(next, device), Int64(negatives, device), _lambda);
    }

    /// <inheritdoc/>
    public override byte[] WriteOnnx(RecommendationModelDescription description)
        => FpmcOnnxGraph.Write(description, ExportWeights(Network));

    /// <summary>Copies the inference weights out of a trained network.</summary>
    internal static FpmcWeights ExportWeights(FpmcNetwork network)
    {
        using var noGrad = no_grad();
        return new FpmcWeights(TorchWeights.Values(network.userItem.weight!), TorchWeights.Values(network.itemUser.weight!),
            TorchWeights.Values(network.itemPrevious.weight!), TorchWeights.Values(network.previousItem.weight!), network.Factors);
    }
}
