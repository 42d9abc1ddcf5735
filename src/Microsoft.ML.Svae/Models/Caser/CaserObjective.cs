using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Microsoft.ML.Svae;

/// <summary>
/// Caser's loss, the binary cross-entropy of the authors' code (Tang and Wang, WSDM 2018): per training window, the
/// mean over its targets of <c>−log σ(s_target)</c> plus the mean over its negatives of <c>−log(1 − σ(s_negative))</c>.
/// </summary>
internal static class CaserObjective
{
    /// <summary>
    /// The SUM over windows of the window loss, from the windows' L previous items <c>[W, L]</c>, users <c>[W]</c>,
    /// T targets <c>[W, T]</c> with their validity mask (float <c>[W, T]</c>) and T·S negatives <c>[W, T·S]</c>.
    /// </summary>
    public static Tensor Loss(CaserNetwork network, Tensor sequences, Tensor users, Tensor targets, Tensor targetMask, Tensor negatives)
    {
        using var scope = NewDisposeScope();
        long windows = targets.shape[0], t = targets.shape[1], s = negatives.shape[1] / t;
        var hidden = network.Encode(sequences, users);
        var candidates = cat(new[] { targets, negatives }, 1);
        var scores = network.ScoreItems(hidden, candidates);
        var counts = targetMask.sum(1);
        using var negativesPerTarget = s.ToScalar();
        var positive = (TorchScalars.Softplus(-scores.narrow(1, 0, t)) * targetMask).sum(1) / counts;
        var negative = (TorchScalars.Softplus(scores.narrow(1, t, t * s)).view(windows, t, s) * targetMask.unsqueeze(2)).sum(new long[] { 1, 2 }) / counts.mul(negativesPerTarget);
        return positive.Plus(negative).sum().MoveToOuterDisposeScope();
    }
}
