using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Svae;

/// <summary>
/// MVAE's loss (Liang et al., WWW 2018; eq. 4.1 of Sachdeva et al., WSDM 2019): per user,
/// <c>β·KL(q(z_u | x_u) ‖ N(0, I)) − Σ_i x_ui log π_i(z_u)</c>, the multinomial log-likelihood of the user's
/// multi-hot history under the decoded softmax.
/// </summary>
internal static class MvaeObjective
{
    /// <summary>The SUM over the batch's users of the per-user loss, from their multi-hot histories <c>[B, N]</c>.</summary>
    public static Tensor Loss(MvaeNetwork network, Tensor multiHot, double klWeight)
    {
        using var scope = NewDisposeScope();
        var (logits, mean, logVariance) = network.call(multiHot);
        // The multinomial log-likelihood as a dense masked sum: [B, N] once per step.
        var nll = -(logits.log_softmax(1) * multiHot).sum(1);
        var kl = GaussianLatent.KlDivergence(mean, logVariance);
        using var beta = klWeight.ToScalar();
        return nll.Plus(kl.mul(beta)).sum().MoveToOuterDisposeScope();
    }
}
