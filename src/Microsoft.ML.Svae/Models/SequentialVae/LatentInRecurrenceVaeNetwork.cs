using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Microsoft.ML.Svae;

/// <summary>
/// Fig. 2b, a latent variable in the recurrence (eq. 4.8), following the VRNN of Chung et al. (NIPS 2015): at every
/// item s, a prior <c>p(z_s | h_{s−1})</c> and an approximate posterior <c>q(z_s | x_s, h_{s−1})</c>, both Gaussian
/// perceptrons, the recurrence <c>h_s = GRU(h_{s−1}, [x_s, z_s])</c>, and <c>P(x_{s+1..s+k} | z_{0..s}, x_{0..s}) = softmax(f(h_s))</c>.
/// </summary>
/// <remarks>
/// The VRNN's prior and posterior shapes (prior from h_{s−1}; posterior from the item and h_{s−1}) with the paper's
/// likelihood f(h_s), which conditions on z_{0..s} and x_{0..s} (the VRNN decodes x_s from [z_s, h_{s−1}] instead; the
/// paper's form keeps the next items out of the posterior). The VRNN's feature extractors φ_x and φ_z are the item
/// embedding and the identity. z_0..z_{L−2} carry KL terms (z_{L−1} has no item to explain during training). Scoring:
/// the recurrence runs over the history with every z_s at its posterior mean (the items are observed), then f(h_last).
/// The recurrence feeds z back into the GRU, so it runs one GRU-cell step per position (and an ONNX <c>Loop</c>).
/// </remarks>
internal sealed class LatentInRecurrenceVaeNetwork : SequentialVaeNetwork
{
#pragma warning disable IDE1006 // Naming: PyTorch-style module names
    internal readonly GRUCell cell;
    internal readonly TanhMlp prior;
    internal readonly TanhMlp posterior;
    internal readonly TanhMlp decoder;
#pragma warning restore IDE1006

    public LatentInRecurrenceVaeNetwork(int itemCount, SequentialVaeTrainer.Options o)
        : base(nameof(LatentInRecurrenceVaeNetwork), itemCount, o.EmbeddingSize, o.RecurrentSize, o.LatentSize, o.DropoutRate)
    {
        cell = GRUCell(o.EmbeddingSize + o.LatentSize, o.RecurrentSize);
        prior = new TanhMlp(nameof(prior), o.RecurrentSize, o.EncoderSize, 2L * o.LatentSize);
        posterior = new TanhMlp(nameof(posterior), o.EmbeddingSize + o.RecurrentSize, o.EncoderSize, 2L * o.LatentSize);
        decoder = new TanhMlp(nameof(decoder), o.RecurrentSize, o.DecoderSize, itemCount);
        register_module(nameof(cell), cell);
        register_module(nameof(prior), prior);
        register_module(nameof(posterior), posterior);
        register_module(nameof(decoder), decoder);
        ResetParameters(o.Seed, g =>
        {
            RecurrentLayers.ResetGru(cell, RecurrentSize, g);
            prior.ResetParameters(g);
            posterior.ResetParameters(g);
            decoder.ResetParameters(g);
        });
    }

    /// <inheritdoc/>
    public override SequentialVaeVariant Variant => SequentialVaeVariant.LatentInRecurrence;

    /// <summary>The states h_s <c>[B, T, H]</c> and, in training mode, the KL of each z_s <c>[B, T]</c> (null in eval mode).</summary>
    private (Tensor States, Tensor? Kl) Recur(Tensor items)
    {
        using var scope = NewDisposeScope();
        var embedded = Embedded(items);                                                // [B, T, E]
        long b = embedded.shape[0], t = embedded.shape[1];
        var h = zeros(b, RecurrentSize, embedded.dtype, embedded.device);
        var states = new Tensor[t];
        var kls = training ? new Tensor[t] : null;
        for (long s = 0; s < t; s++)
        {
            var item = embedded.select(1, s);
            var (mean, logVariance) = Gaussian(posterior.call(cat(new[] { item, h }, 1)));
            if (kls is not null)
            {
                var (priorMean, priorLogVariance) = Gaussian(prior.call(h));
                kls[s] = GaussianLatent.KlDivergence(mean, logVariance, priorMean, priorLogVariance);
            }
            h = cell.call(cat(new[] { item, Sample(mean, logVariance) }, 1), h);
            states[s] = h;
        }
        var result = stack(states, 1).MoveToOuterDisposeScope();
        return (result, kls is null ? null : stack(kls, 1).MoveToOuterDisposeScope());
    }

    /// <inheritdoc/>
    public override (Tensor Logits, Tensor Kl) Terms(SequenceBatch batch, Tensor units, Tensor unitMask)
    {
        using var scope = NewDisposeScope();
        var (states, kl) = Recur(batch.Items);
        var logits = decoder.call(NextItemHead.AtUnits(states, units));
        var klSum = where(unitMask, kl!, zeros_like(kl!)).sum();
        return (logits.MoveToOuterDisposeScope(), klSum.MoveToOuterDisposeScope());
    }

    /// <inheritdoc/>
    public override Tensor ScoreLast(Tensor items, Tensor lengths)
    {
        using var scope = NewDisposeScope();
        var (states, _) = Recur(items);
        return decoder.call(NextItemHead.LastState(states, lengths)).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public override SequentialVaeWeights ExportWeights(float[] emptyHistoryScores)
        => new(Variant, EmbeddingValues(), EmbeddingSize, LatentSize, RecurrentLayers.Weights(cell, RecurrentSize, EmbeddingSize + LatentSize),
            BackwardGru: null, Prior: null, Posterior: posterior.Weights(), decoder.Weights(), emptyHistoryScores);
}
