using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Svae;

/// <summary>
/// The sequential VAEs' loss (the negative ELBO of fig. 2a-d with SVAE's next-k likelihood, eq. 4.9): the summed
/// multi-set NLL of each unit's next k items under the decoded z, plus β times the variant's KL terms.
/// </summary>
/// <remarks>
/// Units are SVAE's (states s = 0..L−2; <see cref="NextKTargets"/>). The KL terms are the variant's
/// (<see cref="SequentialVaeNetwork.Terms"/>): once per user for the global latent (2a), once per unit otherwise. The batch
/// loss is the SUM over the batch; the training loop divides it by the expected units of a full batch, as for SVAE.
/// </remarks>
internal static class SequentialVaeObjective
{
    /// <summary>The loss units of a user with <paramref name="length"/> events.</summary>
    public static long Units(int length) => NextKTargets.Units(length);

    /// <summary>The batch's loss: <c>Σ NLL + β · Σ KL</c> (a scalar tensor).</summary>
    public static Tensor Loss(SequentialVaeNetwork network, SequenceBatch batch, int nextK, double klWeight)
    {
        using var scope = NewDisposeScope();
        var (units, unitMask, targets, targetMask) = NextKTargets.Of(batch, nextK);
        var (logits, kl) = network.Terms(batch, units, unitMask);
        using var beta = klWeight.ToScalar();
        return NextKTargets.MultiSetNllSum(logits, targets, targetMask).Plus(kl.mul(beta)).MoveToOuterDisposeScope();
    }
}
