using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Microsoft.ML.Svae;

/// <summary>
/// Fig. 2d, a global recurrent dependency, following the SRNN of Fraccaro, Sønderby, Paquet and Winther (NIPS 2016):
/// the latent variables depend on each other and on the history through one recurrence,
/// <c>h_s = GRU(h_{s−1}, [x_s, z_s])</c> (eq. 4.8), with the prior <c>P(z_{s+1} | z_{0..s}, x_{0..s}) = N(μ_p(h_s), σ_p²(h_s))</c>
/// and <c>P(x_{s+1..s+k} | z_{0..s+1}, x_{0..s}) = softmax(f([z_{s+1}, h_s]))</c>.
/// </summary>
/// <remarks>
/// The approximate posterior is SRNN's smoother: a backward GRU <c>a_j = GRU_b(a_{j+1}, x_j)</c> over the rest of the
/// sequence and <c>q(z_{s+1} | z_{0..s}, x) = N(μ_p(h_s) + Δμ([h_s, a_{s+1}]), σ_q²([h_s, a_{s+1}]))</c>, with SRNN's
/// residual parameterisation of the mean. The paper's form is kept for the recurrence (z feeds the GRU, as eq. 4.8
/// says; SRNN keeps a deterministic GRU below a separate stochastic chain). The first item has no latent variable
/// (z_0 = 0: it is never a target). Scoring: the recurrence over the history with z_s at its posterior mean (the
/// backward GRU reads the history), then z = μ_p(h_last) and f([μ_p, h_last]). One GRU-cell step per position (an
/// ONNX <c>Loop</c>).
/// </remarks>
internal sealed class GlobalRecurrenceVaeNetwork : SequentialVaeNetwork
{
#pragma warning disable IDE1006 // Naming: PyTorch-style module names
    internal readonly GRUCell cell;
    internal readonly GRU backward;
    internal readonly TanhMlp prior;
    internal readonly TanhMlp posterior;
    internal readonly TanhMlp decoder;
#pragma warning restore IDE1006

    public GlobalRecurrenceVaeNetwork(int itemCount, SequentialVaeTrainer.Options o)
        : base(nameof(GlobalRecurrenceVaeNetwork), itemCount, o.EmbeddingSize, o.RecurrentSize, o.LatentSize, o.DropoutRate)
    {
        cell = GRUCell(o.EmbeddingSize + o.LatentSize, o.RecurrentSize);
        backward = GRU(o.EmbeddingSize, o.RecurrentSize, numLayers: 1, batchFirst: true);
        prior = new TanhMlp(nameof(prior), o.RecurrentSize, o.EncoderSize, 2L * o.LatentSize);
        posterior = new TanhMlp(nameof(posterior), 2L * o.RecurrentSize, o.EncoderSize, 2L * o.LatentSize);
        decoder = new TanhMlp(nameof(decoder), o.LatentSize + o.RecurrentSize, o.DecoderSize, itemCount);
        register_module(nameof(cell), cell);
        register_module(nameof(backward), backward);
        register_module(nameof(prior), prior);
        register_module(nameof(posterior), posterior);
        register_module(nameof(decoder), decoder);
        ResetParameters(o.Seed, g =>
        {
            RecurrentLayers.ResetGru(cell, RecurrentSize, g);
            RecurrentLayers.ResetGru(backward, RecurrentSize, g);
            prior.ResetParameters(g);
            posterior.ResetParameters(g);
            decoder.ResetParameters(g);
        });
    }

    /// <inheritdoc/>
    public override SequentialVaeVariant Variant => SequentialVaeVariant.GlobalRecurrence;

    /// <summary>
    /// Runs the recurrence: the states h_s <c>[B, T, H]</c>; the decoder input <c>[z_{s+1}, h_s]</c> <c>[B, T, K + H]</c>
    /// of each unit s (zeros at the last position); in training mode the KL of z_{s+1} per unit s <c>[B, T]</c>.
    /// </summary>
    private (Tensor States, Tensor DecoderInputs, Tensor? Kl) Recur(Tensor items, Tensor lengths)
    {
        using var scope = NewDisposeScope();
        var embedded = Embedded(items);                                                // [B, T, E]
        long b = embedded.shape[0], t = embedded.shape[1];
        var reversed = GruSequence.Forward(backward, RecurrentLayers.ReverseWithinLengths(embedded, lengths));
        var after = RecurrentLayers.ReverseWithinLengths(reversed, lengths);           // a_j: items j..L−1
        var h = zeros(b, RecurrentSize, embedded.dtype, embedded.device);
        var z = zeros(b, LatentSize, embedded.dtype, embedded.device);
        var states = new Tensor[t];
        var decoderInputs = new Tensor[t];
        var kls = training ? new Tensor[t] : null;
        for (long s = 0; s < t; s++)
        {
            if (s > 0)
            {
                var (priorMean, priorLogVariance) = Gaussian(prior.call(h));
                var (shift, logVariance) = Gaussian(posterior.call(cat(new[] { h, after.select(1, s) }, 1)));
                var mean = priorMean.Plus(shift);
                z = Sample(mean, logVariance);
                decoderInputs[s - 1] = cat(new[] { z, h }, 1);
                if (kls is not null)
                    kls[s - 1] = GaussianLatent.KlDivergence(mean, logVariance, priorMean, priorLogVariance);
            }
            h = cell.call(cat(new[] { embedded.select(1, s), z }, 1), h);
            states[s] = h;
        }
        decoderInputs[t - 1] = zeros(b, LatentSize + RecurrentSize, embedded.dtype, embedded.device);
        if (kls is not null)
            kls[t - 1] = zeros(b, embedded.dtype, embedded.device);
        return (stack(states, 1).MoveToOuterDisposeScope(), stack(decoderInputs, 1).MoveToOuterDisposeScope(),
            kls is null ? null : stack(kls, 1).MoveToOuterDisposeScope());
    }

    /// <inheritdoc/>
    public override (Tensor Logits, Tensor Kl) Terms(SequenceBatch batch, Tensor units, Tensor unitMask)
    {
        using var scope = NewDisposeScope();
        var (_, decoderInputs, kl) = Recur(batch.Items, batch.LengthTensor);
        var logits = decoder.call(NextItemHead.AtUnits(decoderInputs, units));
        var klSum = where(unitMask, kl!, zeros_like(kl!)).sum();
        return (logits.MoveToOuterDisposeScope(), klSum.MoveToOuterDisposeScope());
    }

    /// <inheritdoc/>
    public override Tensor ScoreLast(Tensor items, Tensor lengths)
    {
        using var scope = NewDisposeScope();
        var (states, _, _) = Recur(items, lengths);
        var last = NextItemHead.LastState(states, lengths);
        var (mean, _) = Gaussian(prior.call(last));
        return decoder.call(cat(new[] { mean, last }, 1)).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public override SequentialVaeWeights ExportWeights(float[] emptyHistoryScores)
        => new(Variant, EmbeddingValues(), EmbeddingSize, LatentSize, RecurrentLayers.Weights(cell, RecurrentSize, EmbeddingSize + LatentSize),
            RecurrentLayers.Weights(backward, RecurrentSize, EmbeddingSize), prior.Weights(), posterior.Weights(), decoder.Weights(), emptyHistoryScores);
}
