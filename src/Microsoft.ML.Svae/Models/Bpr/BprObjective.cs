using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Microsoft.ML.Svae;

/// <summary>
/// BPR's loss, BPR-Opt (Rendle et al., UAI 2009): per sampled triple (u, i, j) of a user, an item of the user's history
/// and an item the user has not interacted with, <c>−log σ(x_ui − x_uj)</c> plus λ times the squared norms of the
/// triple's parameters.
/// </summary>
internal static class BprObjective
{
    /// <summary>
    /// The sum over pairs of BPR-Opt's per-pair loss, <c>−log σ(x_ui − x_uj) + λ(‖W_u‖² + ‖H_i‖² + ‖H_j‖² + b_i² + b_j²)</c>,
    /// for users, positive and negative items <c>[P]</c>.
    /// </summary>
    public static Tensor PairLoss(BprNetwork network, Tensor users, Tensor positives, Tensor negatives, double lambda)
    {
        using var scope = NewDisposeScope();
        var u = network.userFactors.call(users);
        var i = network.itemFactors.call(positives);
        var j = network.itemFactors.call(negatives);
        var difference = (u * (i - j)).sum(1);
        var penalty = u.square().sum(1).Plus(i.square().sum(1)).Plus(j.square().sum(1));
        if (network.itemBias is not null)
        {
            var bi = network.itemBias.call(positives).squeeze(1);
            var bj = network.itemBias.call(negatives).squeeze(1);
            difference = difference.Plus(bi) - bj;
            penalty = penalty.Plus(bi.square()).Plus(bj.square());
        }
        using var lambdaScalar = lambda.ToScalar();
        return TorchScalars.Softplus(-difference).sum().Plus(penalty.sum().mul(lambdaScalar)).MoveToOuterDisposeScope();
    }
}
