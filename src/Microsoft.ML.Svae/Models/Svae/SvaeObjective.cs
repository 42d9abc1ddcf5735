using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Svae;

/// <summary>
/// SVAE's loss (eq. 4.5–4.6 of Sachdeva et al., WSDM 2019, with the next-k extensions of eq. 4.9 and 4.10).
/// </summary>
/// <remarks>
/// <para>
/// Indexing (0-based, as in the authors' code): the state s of a user of length L is the GRU output after items
/// 0..s; it parameterizes q(z_s) and π(z_s), which explains the next items s+1..s+k. The states s = 0..L−2 have
/// at least one target and are the loss units (L − 1 per user); the last state has no target and is not
/// decoded. The first item is never a target (there is no state before it).
/// </para>
/// <para>
/// Per unit s: <c>ℓ_s = β · KL(q(z_s) ‖ N(0, I)) + NLL_s</c> with <c>KL = ½ Σ_k (σ² − 1 − log σ² + μ²)</c> and
/// <list type="bullet">
/// <item><see cref="NextKLikelihood.MultiSet"/> (eq. 4.9): <c>NLL_s = −(1/k_s) Σ_{j=1..k_s} log π(z_s)[x_{s+j}]</c>,
/// k_s = min(k, L−1−s) (the mean over the valid targets; the authors' code divides by k even where fewer remain);</item>
/// <item><see cref="NextKLikelihood.Mixture"/> (eq. 4.10): NLL of the target p = s+1,
/// <c>−log( (1/c_p) Σ_{j=max(0,p−k)..p−1} π(z_j)[x_p] )</c>, c_p = min(k, p), computed with logsumexp.</item>
/// </list>
/// <c>log π</c> is one <c>log_softmax</c> over the N items per decoded step; targets are gathered from it (no dense
/// multi-hot targets). For <see cref="NextKLikelihood.MultiSet"/> the decoder's output layer and the likelihood are one
/// function (<see cref="NextKOutputLayer"/>, issue 16): on the CPU its three <c>[P × D]·[D × N]</c>-sized products (bfloat16
/// inputs with <see cref="TrainingPrecision.BFloat16"/>) and one managed pass over the <c>[P × N]</c> logits that computes
/// the loss and leaves the gradient at the logits in the same buffer, instead of libtorch's chain of elementwise passes
/// (bias, log-softmax, exp, scale, scatter, column sums, casts), each over the whole matrix; off the CPU, the decoder's
/// <c>Linear</c> then the fused loss <see cref="NextKTargets.MultiSetNll"/> (float32). The GRU's products over all
/// positions take bfloat16 inputs too with <see cref="TrainingPrecision.BFloat16"/> (<see cref="GruSequence"/>); the
/// mixture likelihood (eq. 4.10) keeps the float32 output layer (its gradient goes through autograd's chain, not a fused
/// backward).
/// The batch loss is the SUM of ℓ_s over the batch's units; the training loop divides it by
/// the expected number of units in a full batch, so that every step of every user weighs the same, as in the
/// double sum of eq. 4.6 (the authors' code instead sums the likelihood over steps but averages the KL, and
/// divides by the batch size).
/// </para>
/// </remarks>
internal static class SvaeObjective
{
    // A finite stand-in for log 0 in the mixture: exp(Masked − max) underflows to 0 and gradients stay finite.
    private const double Masked = -1e30;

    /// <summary>The number of loss units of a user with <paramref name="length"/> events: one per state with a target.</summary>
    public static long Units(int length) => NextKTargets.Units(length);

    /// <summary>The batch's loss: the sum of <c>β·KL + NLL</c> over its units (a scalar tensor).</summary>
    /// <param name="network">The network, in training mode for sampled z.</param>
    /// <param name="batch">The batch.</param>
    /// <param name="nextK">k, the number of next items each state explains.</param>
    /// <param name="likelihood">Eq. 4.9 or eq. 4.10.</param>
    /// <param name="klWeight">β.</param>
    /// <param name="precision">
    /// The number format of the large products (<see cref="TrainingPrecision"/>): bfloat16 applies on the CPU only, elsewhere
    /// training runs in float32.
    /// </param>
    public static Tensor Loss(SvaeNetwork network, SequenceBatch batch, int nextK, NextKLikelihood likelihood, double klWeight,
        TrainingPrecision precision = TrainingPrecision.Float32)
    {
        using var scope = NewDisposeScope();
        long b = batch.Count, t = batch.MaxLength;
        var device = batch.Device;
        var lengths = batch.LengthTensor;
        var positions = TorchScalars.Range(t, device);

        // Units: states with at least one target (s < length − 1), decoded only there; their targets are items
        // s+1..s+k, valid while < length (eq. 4.9's targets, shared with the sequential VAEs).
        var (units, _, unitTargets, unitTargetMask) = NextKTargets.Of(batch, nextK);        // [P], [P, k], [P, k]
        var states = network.Recurrent(batch.Items, precision).reshape(b * t, network.RecurrentSize).index_select(0, units);
        var (z, klSum) = network.SampleWithKl(states);                                     // [P, K], Σ_s KL_s

        Tensor nll;
        if (likelihood == NextKLikelihood.MultiSet)
        {
            // The output layer and eq. 4.9 in one function: on the CPU the products (bfloat16 with BFloat16) and one pass
            // over the logits; elsewhere Linear then the fused loss.
            var output = network.decoderOut;
            nll = NextKOutputLayer.MultiSetNll(network.DecodeHidden(z), output.weight!, output.bias!, unitTargets,
                unitTargetMask.to(ScalarType.Float32), precision);
        }
        else
        {
            var logits = network.Decode(z);                                                // [P, N]
            var gathered = logits.log_softmax(1).gather(1, unitTargets);                    // [P, k]: log π(z_s)[x_{s+j}]
            // Dense [B, T, k] table of log π(z_s)[x_{s+1+d}], then skewed so that row p holds the k states before p:
            // mixture[b, p, d] = table[b, p − 1 − d, d].
            using var masked = Masked.ToScalar();
            var table = full(b * t, nextK, masked, gathered.dtype, device)
                .index_copy(0, units, gathered.masked_fill(unitTargetMask.logical_not(), masked))
                .view(b, t, nextK);
            var columns = new Tensor[nextK];
            for (int d = 0; d < nextK; d++)
            {
                long shift = d + 1;
                var column = table.select(2, d);                                           // [B, T]
                columns[d] = shift >= t
                    ? full(b, t, masked, gathered.dtype, device)
                    : cat(new[] { full(b, shift, masked, gathered.dtype, device), column.narrow(1, 0, t - shift) }, 1);
            }
            var mixture = stack(columns, 2);                                                // [B, T, k]
            using var maxCount = nextK.ToScalar();
            var counts = positions.clamp(TorchScalars.One, maxCount).to(gathered.dtype);  // c_p = min(k, p), ≥ 1
            var logLikelihood = mixture.logsumexp(2) - counts.log().unsqueeze(0);          // [B, T]
            var targetValid = positions.unsqueeze(0).ge(TorchScalars.One).logical_and(positions.unsqueeze(0) < lengths.unsqueeze(1));
            nll = -where(targetValid, logLikelihood, zeros_like(logLikelihood)).sum();
        }

        using var beta = klWeight.ToScalar();
        return nll.Plus(klSum.mul(beta)).MoveToOuterDisposeScope();
    }
}
