using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Svae;

/// <summary>
/// SASRec's loss: at every position s of a training sequence but the last, the next item x_{s+1} is the target.
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item><see cref="NextItemLoss.CrossEntropy"/> (default): the full-softmax cross-entropy
/// <c>−log softmax(r_s · Eᵀ)[x_{s+1}]</c>, which Klenitskiy and Vasilev (RecSys 2023) show beats the paper's sampled loss.</item>
/// <item><see cref="NextItemLoss.SampledBinaryCrossEntropy"/> (the paper's eq.): <c>−log σ(r_s · e_{x_{s+1}}) − Σ_j log(1 − σ(r_s · e_j))</c>
/// over <c>NegativesPerPositive</c> items j the user never interacted with, drawn uniformly.</item>
/// </list>
/// A unit is a position with a next item (L − 1 per user of length L); the batch loss is the SUM over units.
/// </remarks>
internal static class SasrecObjective
{
    /// <summary>The loss units of a user with <paramref name="length"/> events.</summary>
    public static long Units(int length) => NextItemHead.Units(length);

    /// <summary>The batch's loss (a scalar tensor); <paramref name="negatives"/> draws the sampled loss's negatives.</summary>
    public static Tensor Loss(SasrecNetwork network, SequenceBatch batch, NextItemLoss loss, int negativesPerPositive, NegativeSampler? negatives)
    {
        using var scope = NewDisposeScope();
        var (units, targets) = NextItemHead.Units(batch);
        var states = NextItemHead.AtUnits(network.call(batch.Items), units);                 // [P, d]
        if (loss == NextItemLoss.CrossEntropy)
            return NextItemHead.CrossEntropySum(network.Logits(states), targets).MoveToOuterDisposeScope();

        ArgumentNullException.ThrowIfNull(negatives);
        long maxLength = batch.MaxLength;
        var unitIndices = units.cpu().data<long>().ToArray();
        var sampled = new long[unitIndices.Length * (long)negativesPerPositive];
        for (int p = 0; p < unitIndices.Length; p++)
        {
            int user = batch.Users[unitIndices[p] / maxLength];
            for (int j = 0; j < negativesPerPositive; j++)
                sampled[(long)p * negativesPerPositive + j] = negatives.Sample(user);
        }
        var negativeItems = tensor(sampled, new long[] { unitIndices.Length, negativesPerPositive }).to(batch.Device);
        var embeddings = network.itemEmbedding.weight!;
        var positive = (states * embeddings.index_select(0, targets)).sum(1);                 // [P]
        var negative = embeddings.index_select(0, negativeItems.reshape(-1))
            .view(unitIndices.Length, negativesPerPositive, network.EmbeddingSize)
            .matmul(states.unsqueeze(2)).squeeze(2);                                           // [P, n]
        // −log σ(x) = softplus(−x); −log(1 − σ(x)) = softplus(x).
        var nll = TorchScalars.Softplus(-positive).sum().Plus(TorchScalars.Softplus(negative).sum());
        return nll.MoveToOuterDisposeScope();
    }
}
