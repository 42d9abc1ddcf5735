using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Microsoft.ML.Svae;

/// <summary>
/// Fig. 2a, one global latent variable per user (eq. 4.7): a deterministic GRU <c>h_s = GRU(h_{s−1}, x_s)</c>, one
/// Gaussian <c>z ~ N(0, I)</c> per user, and <c>P(x_{s+1..s+k} | z, x_{0..s}) = softmax(f([z, h_s]))</c>.
/// </summary>
/// <remarks>
/// The paper leaves the inference network open. Here <c>q(z | x)</c> is a Gaussian perceptron of the same GRU's state
/// after the user's last item (the whole training sequence in training, the history when scoring), as MVAE infers its
/// z from the whole user; the KL term is counted once per user. The decoder f is a tanh layer over the concatenation
/// <c>[z, h_s]</c> followed by the item logits. Scoring: z = μ(h_last), logits f([μ, h_last]).
/// </remarks>
internal sealed class GlobalLatentVaeNetwork : SequentialVaeNetwork
{
#pragma warning disable IDE1006 // Naming: PyTorch-style module names
    internal readonly GRU gru;
    internal readonly TanhMlp encoder;
    internal readonly TanhMlp decoder;
#pragma warning restore IDE1006

    public GlobalLatentVaeNetwork(int itemCount, SequentialVaeTrainer.Options o)
        : base(nameof(GlobalLatentVaeNetwork), itemCount, o.EmbeddingSize, o.RecurrentSize, o.LatentSize, o.DropoutRate)
    {
        gru = GRU(o.EmbeddingSize, o.RecurrentSize, numLayers: 1, batchFirst: true);
        encoder = new TanhMlp(nameof(encoder), o.RecurrentSize, o.EncoderSize, 2L * o.LatentSize);
        decoder = new TanhMlp(nameof(decoder), o.LatentSize + o.RecurrentSize, o.DecoderSize, itemCount);
        register_module(nameof(gru), gru);
        register_module(nameof(encoder), encoder);
        register_module(nameof(decoder), decoder);
        ResetParameters(o.Seed, g =>
        {
            RecurrentLayers.ResetGru(gru, RecurrentSize, g);
            encoder.ResetParameters(g);
            decoder.ResetParameters(g);
        });
    }

    /// <inheritdoc/>
    public override SequentialVaeVariant Variant => SequentialVaeVariant.GlobalLatent;

    /// <inheritdoc/>
    public override (Tensor Logits, Tensor Kl) Terms(SequenceBatch batch, Tensor units, Tensor unitMask)
    {
        using var scope = NewDisposeScope();
        var states = States(gru, batch.Items);                                         // [B, T, H]
        var (mean, logVariance) = Gaussian(encoder.call(NextItemHead.LastState(states, batch.LengthTensor)));
        var z = Sample(mean, logVariance);                                             // [B, K]
        long b = states.shape[0], t = states.shape[1];
        var decoderInput = cat(new[] { z.unsqueeze(1).expand(b, t, LatentSize), states }, 2);
        var logits = decoder.call(NextItemHead.AtUnits(decoderInput, units));
        var kl = GaussianLatent.KlDivergence(mean, logVariance).sum();
        return (logits.MoveToOuterDisposeScope(), kl.MoveToOuterDisposeScope());
    }

    /// <inheritdoc/>
    public override Tensor ScoreLast(Tensor items, Tensor lengths)
    {
        using var scope = NewDisposeScope();
        var last = NextItemHead.LastState(States(gru, items), lengths);
        var (mean, _) = Gaussian(encoder.call(last));
        return decoder.call(cat(new[] { mean, last }, 1)).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public override SequentialVaeWeights ExportWeights(float[] emptyHistoryScores)
        => new(Variant, EmbeddingValues(), EmbeddingSize, LatentSize, RecurrentLayers.Weights(gru, RecurrentSize, EmbeddingSize),
            BackwardGru: null, Prior: null, Posterior: encoder.Weights(), decoder.Weights(), emptyHistoryScores);
}
