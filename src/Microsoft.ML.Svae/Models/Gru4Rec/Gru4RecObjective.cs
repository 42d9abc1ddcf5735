using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Svae;

/// <summary>
/// GRU4Rec's loss as RecBole benchmarks it (<c>loss_type: CE</c>): at every position s of a training sequence but
/// the last, the full-softmax cross-entropy of the next item, <c>−log softmax(logits_s)[x_{s+1}]</c>.
/// </summary>
/// <remarks>
/// A unit is a position with a next item (L − 1 per user of length L). Training on every position of a whole
/// sequence in one pass is the same sum of terms as RecBole's one example per prefix, since the GRU is causal.
/// The batch loss is the SUM over units; the loop divides it by the expected units of a full batch.
/// </remarks>
internal static class Gru4RecObjective
{
    /// <summary>The loss units of a user with <paramref name="length"/> events.</summary>
    public static long Units(int length) => NextItemHead.Units(length);

    /// <summary>The batch's loss: the summed next-item cross-entropy over its units (a scalar tensor).</summary>
    public static Tensor Loss(Gru4RecNetwork network, SequenceBatch batch)
    {
        using var scope = NewDisposeScope();
        var (units, targets) = NextItemHead.Units(batch);
        var states = NextItemHead.AtUnits(network.call(batch.Items), units);
        return NextItemHead.CrossEntropySum(network.Logits(states), targets).MoveToOuterDisposeScope();
    }
}
