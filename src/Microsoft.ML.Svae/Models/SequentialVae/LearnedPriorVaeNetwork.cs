using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Microsoft.ML.Svae;

/// <summary>
/// Fig. 2c, a history-conditioned prior: a deterministic GRU <c>h_s = GRU(h_{s−1}, x_s)</c> (eq. 4.7), a learned
/// Gaussian prior <c>P(z_{s+1} | x_{0..s}) = N(μ_p(h_s), σ_p²(h_s))</c>, and <c>P(x_{s+1..s+k} | z_{s+1}) = softmax(f(z_{s+1}))</c>.
/// </summary>
/// <remarks>
/// SVAE uses a standard-normal prior and infers z from h_s; with a prior that already reads h_s, the approximate
/// posterior must see more than the prior: here <c>q(z_{s+1} | x_{0..s+1}) = N(μ_q(h_{s+1}), σ_q²(h_{s+1}))</c>, a Gaussian
/// perceptron of the state after the first predicted item (the filtering posterior; the paper leaves it open). The KL
/// term is KL(q ‖ p) of two Gaussians at every unit. Scoring: z = μ_p(h_last), the prior mean, decoded by f.
/// </remarks>
internal sealed class LearnedPriorVaeNetwork : SequentialVaeNetwork
{
#pragma warning disable IDE1006 // Naming: PyTorch-style module names
    internal readonly GRU gru;
    internal readonly TanhMlp prior;
    internal readonly TanhMlp posterior;
    internal readonly TanhMlp decoder;
#pragma warning restore IDE1006

    public LearnedPriorVaeNetwork(int itemCount, SequentialVaeTrainer.Options o)
        : base(nameof(LearnedPriorVaeNetwork), itemCount, o.EmbeddingSize, o.RecurrentSize, o.LatentSize, o.DropoutRate)
    {
        gru = GRU(o.EmbeddingSize, o.RecurrentSize, numLayers: 1, batchFirst: true);
        prior = new TanhMlp(nameof(prior), o.RecurrentSize, o.EncoderSize, 2L * o.LatentSize);
        posterior = new TanhMlp(nameof(posterior), o.RecurrentSize, o.EncoderSize, 2L * o.LatentSize);
        decoder = new TanhMlp(nameof(decoder), o.LatentSize, o.DecoderSize, itemCount);
        register_module(nameof(gru), gru);
        register_module(nameof(prior), prior);
        register_module(nameof(posterior), posterior);
        register_module(nameof(decoder), decoder);
        ResetParameters(o.Seed, g =>
        {
            RecurrentLayers.ResetGru(gru, RecurrentSize, g);
            prior.ResetParameters(g);
            posterior.ResetParameters(g);
            decoder.ResetParameters(g);
        });
    }

    /// <inheritdoc/>
    public override SequentialVaeVariant Variant => SequentialVaeVariant.LearnedPrior;

    /// <inheritdoc/>
    public override (Tensor Logits, Tensor Kl) Terms(SequenceBatch batch, Tensor units, Tensor unitMask)
    {
        using var scope = NewDisposeScope();
        var states = States(gru, batch.Items);                                         // [B, T, H]
        var (priorMean, priorLogVariance) = Gaussian(prior.call(NextItemHead.AtUnits(states, units)));
        // Unit s < L − 1, so its next position s + 1 is in the same row.
        var (mean, logVariance) = Gaussian(posterior.call(NextItemHead.AtUnits(states, units.Plus(TorchScalars.One))));
        var logits = decoder.call(Sample(mean, logVariance));
        var kl = GaussianLatent.KlDivergence(mean, logVariance, priorMean, priorLogVariance).sum();
        return (logits.MoveToOuterDisposeScope(), kl.MoveToOuterDisposeScope());
    }

    /// <inheritdoc/>
    public override Tensor ScoreLast(Tensor items, Tensor lengths)
    {
        using var scope = NewDisposeScope();
        var (mean, _) = Gaussian(prior.call(NextItemHead.LastState(States(gru, items), lengths)));
        return decoder.call(mean).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public override SequentialVaeWeights ExportWeights(float[] emptyHistoryScores)
        => new(Variant, EmbeddingValues(), EmbeddingSize, LatentSize, RecurrentLayers.Weights(gru, RecurrentSize, EmbeddingSize),
            BackwardGru: null, Prior: prior.Weights(), Posterior: null, decoder.Weights(), emptyHistoryScores);
}
