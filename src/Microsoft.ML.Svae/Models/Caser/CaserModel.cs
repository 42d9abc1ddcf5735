using Microsoft.ML.Svae.Onnx;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Svae;

/// <summary>
/// Caser as the shared loop sees it: one loss unit per training window (L previous items → the next T items),
/// each target with S negative items, and the binary cross-entropy of the authors' code.
/// </summary>
/// <remarks>
/// Windows of a history of n events (after truncation), as in the authors' code: when n ≥ L + T, every window
/// of L + T consecutive events (n − L − T + 1 windows); otherwise one window whose targets are the last
/// min(T, n − 1) events and whose inputs are the events before them, left padded (the authors pad the whole
/// window, so padding can become a target there). A window's loss is the mean over its targets of
/// <c>−log σ(s_target)</c> plus the mean over its negatives of <c>−log(1 − σ(s_negative))</c>, the authors' two
/// batch means per window.
/// </remarks>
internal sealed class CaserModel : UserSequenceModel<CaserNetwork>
{
    private readonly int _sequenceLength;
    private readonly int _targetLength;
    private readonly int _negativeSamples;

    private readonly Generator _dropout;

    /// <summary>
    /// Creates the network of <paramref name="options"/> for <paramref name="data"/>'s users and items on the CPU, with a
    /// dropout generator on <paramref name="device"/> seeded from the options' seed.
    /// </summary>
    public CaserModel(UserKeyedData data, CaserTrainer.Options options, Device device)
        : base(new CaserNetwork(data.UserCount, data.Train.ItemCount, options.EmbeddingSize, options.SequenceLength,
            options.HorizontalFilters, options.VerticalFilters, options.DropoutRate, options.Seed), data, options.Seed)
    {
        _sequenceLength = Network.SequenceLength;
        _targetLength = options.TargetLength;
        _negativeSamples = options.NegativesPerPositive;
        _dropout = NoiseSeeds.NoiseGenerator(options.Seed, device);
        Network.DropoutGenerator = _dropout;
    }

    /// <inheritdoc/>
    public override byte[] WriteOnnx(RecommendationModelDescription description)
        => CaserOnnxGraph.Write(description, ExportWeights(Network));

    /// <summary>Copies the inference weights out of a trained network.</summary>
    internal static CaserWeights ExportWeights(CaserNetwork network)
    {
        using var noGrad = no_grad();
        var horizontal = network.horizontalConvolutions.ToList();
        var fullyConnected = network.fullyConnected;
        return new CaserWeights(
            TorchWeights.Values(network.userEmbedding.weight!), TorchWeights.Values(network.itemEmbedding.weight!), network.EmbeddingSize, network.SequenceLength,
            TorchWeights.Values(network.verticalConvolution.weight!), TorchWeights.Values(network.verticalConvolution.bias!), network.VerticalFilters,
            horizontal.Select(c => TorchWeights.Values(c.weight!)).ToArray(), horizontal.Select(c => TorchWeights.Values(c.bias!)).ToArray(), network.HorizontalFilters,
            new DenseWeights(TorchWeights.Values(fullyConnected.weight!), TorchWeights.Values(fullyConnected.bias!),
                (int)fullyConnected.weight!.shape[0], (int)fullyConnected.weight!.shape[1]),
            TorchWeights.Values(network.outputItems.weight!), TorchWeights.Values(network.outputBias.weight!));
    }

    /// <inheritdoc/>
    public override IReadOnlyList<Generator> Generators => [_dropout];

    /// <inheritdoc/>
    public override void Dispose()
    {
        Network.DropoutGenerator = null;
        _dropout.Dispose();
        base.Dispose();
    }

    /// <inheritdoc/>
    public override long LossUnits(int length) => Windows(length, _sequenceLength, _targetLength);

    /// <summary>The number of training windows of a history of <paramref name="length"/> events.</summary>
    public static int Windows(int length, int sequenceLength, int targetLength)
        => length >= sequenceLength + targetLength ? length - sequenceLength - targetLength + 1 : length >= 2 ? 1 : 0;

    /// <inheritdoc/>
    public override Tensor Loss(SequenceBatch batch, double klWeight)
    {
        int l = _sequenceLength, t = _targetLength, s = _negativeSamples;
        int windows = 0;
        for (int b = 0; b < batch.Count; b++)
            windows += Windows(batch.Lengths[b], l, t);
        var sequences = new long[windows * l];
        var users = new long[windows];
        var targets = new long[windows * t];
        var mask = new float[windows * t];
        var negatives = new long[windows * t * s];
        int w = 0;
        for (int b = 0; b < batch.Count; b++)
        {
            int row = batch.Users[b];
            var events = Events(batch, b);
            int n = events.Length;
            if (n >= l + t)
            {
                for (int start = l; start <= n - t; start++)
                    AddWindow(row, events, start, t);
            }
            else if (n >= 2)
            {
                int count = Math.Min(t, n - 1);
                AddWindow(row, events, n - count, count);
            }
        }

        void AddWindow(int row, ReadOnlySpan<int> events, int start, int count)
        {
            users[w] = User(row);
            for (int p = 0; p < l; p++)
            {
                int index = start - l + p;
                sequences[w * l + p] = index >= 0 ? events[index] : Network.PaddingIndex;
            }
            for (int k = 0; k < t; k++)
            {
                targets[w * t + k] = k < count ? events[start + k] : 0;
                mask[w * t + k] = k < count ? 1 : 0;
            }
            for (int k = 0; k < t * s; k++)
                negatives[w * t * s + k] = Negatives.Sample(row);
            w++;
        }

        var device = batch.Device;
        return CaserObjective.Loss(Network, Int64(sequences, device, windows, l), Int64(users, device),
            Int64(targets, device, windows, t), tensor(mask, new long[] { windows, t }).to(device), Int64(negatives, device, windows, t * s));
    }
}
