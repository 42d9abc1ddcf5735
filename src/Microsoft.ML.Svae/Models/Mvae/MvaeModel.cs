using Microsoft.ML.Svae.Onnx;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Svae;

/// <summary>
/// MVAE as the shared loop sees it: one loss unit per user (<see cref="MvaeObjective"/>; the loop divides the batch sum
/// by the batch size, Liang et al.'s mean over users).
/// </summary>
internal sealed class MvaeModel : ISequenceModel
{
    private readonly MvaeNetwork _network;
    private readonly Generator _noise;

    /// <summary>Creates the network of <paramref name="options"/> for <paramref name="itemCount"/> items on <paramref name="device"/>.</summary>
    public MvaeModel(int itemCount, MvaeTrainer.Options options, Device device)
    {
        _network = new MvaeNetwork(itemCount, options.EncoderSize, options.LatentSize, options.DecoderSize, options.DropoutRate, options.Seed);
        try
        {
            _network.to(device);
            _noise = NoiseSeeds.NoiseGenerator(options.Seed, device);
            _network.NoiseGenerator = _noise;
        }
        catch
        {
            _network.Dispose();
            throw;
        }
    }

    /// <summary>The network (owned).</summary>
    public MvaeNetwork Network => _network;

    /// <inheritdoc/>
    public nn.Module Module => _network;

    /// <inheritdoc/>
    public long LossUnits(int length) => length > 0 ? 1 : 0;

    /// <inheritdoc/>
    public Tensor Loss(SequenceBatch batch, double klWeight)
    {
        using var scope = NewDisposeScope();
        var x = MultiHotInput.Dense(batch, _network.ItemCount);
        return MvaeObjective.Loss(_network, x, klWeight).MoveToOuterDisposeScope();
    }

    /// <summary>The logits of each user's whole (multi-hot) history with z = μ; an empty history is scored from the zero input, as in the ONNX graph.</summary>
    public Tensor ScoreUsers(SequenceBatch batch)
    {
        using var scope = NewDisposeScope();
        return _network.Score(MultiHotInput.Dense(batch, _network.ItemCount)).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public byte[] WriteOnnx(RecommendationModelDescription description)
        => MvaeOnnxGraph.Write(description, ExportWeights(_network));

    /// <summary>Copies the inference weights out of a trained network (on any device).</summary>
    internal static MvaeWeights ExportWeights(MvaeNetwork network)
    {
        using var noGrad = no_grad();
        return new MvaeWeights(
            TorchWeights.Dense(network.encoderHidden), TorchWeights.Dense(network.encoderOut), network.LatentSize,
            TorchWeights.Dense(network.decoderHidden), TorchWeights.Dense(network.decoderOut));
    }

    /// <inheritdoc/>
    public IReadOnlyList<Generator> Generators => [_noise];

    /// <inheritdoc/>
    public void Dispose()
    {
        _network.NoiseGenerator = null;
        _noise?.Dispose();
        _network.Dispose();
    }
}
