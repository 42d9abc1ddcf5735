using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Microsoft.ML.Svae;

/// <summary>
/// FPMC's loss, S-BPR (Rendle, Freudenthaler and Schmidt-Thieme, WWW 2010): per transition (u, l → i) with a sampled
/// item j the user has not interacted with, <c>−log σ(x(u, l, i) − x(u, l, j))</c> plus λ times the squared norms of
/// the six factor vectors involved.
/// </summary>
internal static class FpmcObjective
{
    /// <summary>
    /// The sum over transitions of the BPR-style loss of the paper (S-BPR),
    /// <c>−log σ(x(u, l, i) − x(u, l, j)) + λ(‖V_U,I[u]‖² + ‖V_I,U[i]‖² + ‖V_I,U[j]‖² + ‖V_I,L[i]‖² + ‖V_I,L[j]‖² + ‖V_L,I[l]‖²)</c>,
    /// for users, previous, next and negative items <c>[P]</c>.
    /// </summary>
    public static Tensor TransitionLoss(FpmcNetwork network, Tensor users, Tensor previous, Tensor next, Tensor negatives, double lambda)
    {
        using var scope = NewDisposeScope();
        var u = network.userItem.call(users);
        var l = network.previousItem.call(previous);
        var iu = network.itemUser.call(next);
        var ju = network.itemUser.call(negatives);
        var il = network.itemPrevious.call(next);
        var jl = network.itemPrevious.call(negatives);
        var difference = (u * (iu - ju)).sum(1).Plus((l * (il - jl)).sum(1));
        var penalty = u.square().sum(1).Plus(l.square().sum(1)).Plus(iu.square().sum(1)).Plus(ju.square().sum(1)).Plus(il.square().sum(1)).Plus(jl.square().sum(1));
        using var lambdaScalar = lambda.ToScalar();
        return TorchScalars.Softplus(-difference).sum().Plus(penalty.sum().mul(lambdaScalar)).MoveToOuterDisposeScope();
    }
}
