using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Svae;

/// <summary>
/// RVAE's loss (section 4.2, eq. 4.4 of Sachdeva et al., WSDM 2019): per triple (u, i, j) of a preferred event i
/// and a non-preferred item j, <c>−log σ(f(z_{u,i}) − f(z_{u,j})) + β·(KL(q(z_{u,j})) + KL(q(z_{u,i})) / n)</c>.
/// </summary>
/// <remarks>
/// <para>
/// Per triple: <c>−log σ(f(z_{u,i}) − f(z_{u,j})) + β·(KL(q(z_{u,j})) + KL(q(z_{u,i})) / n)</c> with n negatives per
/// positive, so that each sampled latent's KL is counted once. Eq. 4.4 writes <c>P(i ≺_u j) = σ(f(z_{u,j}) −
/// f(z_{u,i}))</c>, where <c>i ≺_u j</c> means that u prefers j (section 4.2: <c>p_uᵀq_i &lt; p_uᵀq_j</c> whenever
/// <c>i ≺_u j</c>); with i the preferred item, as here and in BPR, that is <c>σ(f(z_{u,i}) − f(z_{u,j}))</c>.
/// </para>
/// <para>
/// The user embedding of the positive's latent is computed from the history WITHOUT item i (leave one out), that of
/// the negatives from the whole history (j is not in it): both then see the history as it is at scoring time, where
/// candidates are unseen items and x_u is the whole history; this is <c>z_{u,i} = μ(x_u | x_{u,i} = 1)</c> of
/// section 4.2, the history and the indicator of item i entering the encoder separately.
/// </para>
/// </remarks>
internal static class RvaeObjective
{
    /// <summary>
    /// The SUM over the batch's triples of the per-triple loss; <paramref name="negativesPerPositive"/> negatives per
    /// event, drawn by <paramref name="generator"/> uniformly or proportionally to <paramref name="popularity"/>.
    /// </summary>
    public static Tensor Loss(RvaeNetwork network, SequenceBatch batch, int negativesPerPositive, Tensor? popularity, Generator generator, double klWeight)
    {
        using var scope = NewDisposeScope();
        long b = batch.Count, t = batch.MaxLength, k = negativesPerPositive;
        var device = batch.Device;
        var x = MultiHotInput.Dense(batch, network.ItemCount);                                  // [B, N]

        // Positives: every valid event; rows: its user's row in the batch.
        var valid = batch.Mask.reshape(-1).nonzero().squeeze(1);                                 // [P]
        var rows = TorchScalars.Range(b, device).unsqueeze(1).expand(b, t).reshape(-1).index_select(0, valid);
        var positives = batch.Items.reshape(-1).index_select(0, valid);                          // [P]

        var (drawn, rowOk) = SampleNegatives(x, popularity, t * k, generator);                  // [B, T·k], [B]
        var negatives = drawn.view(b * t, k).index_select(0, valid);                             // [P, k]
        var pairOk = rowOk.index_select(0, rows);                                                // [P]

        // User embeddings: without item i for the positive's latent, the whole history for the negatives'.
        var (sum, count) = network.HistorySum(x);
        var rowSum = sum.index_select(0, rows);                                                  // [P, E]
        var rowCount = count.index_select(0, rows);                                              // [P]
        var userPositive = network.UserFromSum(rowSum - network.UserColumns(positives), rowCount.sub(TorchScalars.One));
        var userNegative = network.UserFromSum(rowSum, rowCount);
        long p = positives.shape[0];

        var (meanI, logVarianceI) = network.Encode(userPositive, positives);                   // [P, K]
        var scoreI = network.Score(network.Sample(meanI, logVarianceI));                       // [P]
        var (meanJ, logVarianceJ) = network.Encode(userNegative.unsqueeze(1).expand(p, k, network.EmbeddingSize), negatives);
        var scoreJ = network.Score(network.Sample(meanJ, logVarianceJ));                       // [P, k]

        var nll = -nn.functional.logsigmoid(scoreI.unsqueeze(1) - scoreJ);                       // [P, k]
        using var negativesScalar = k.ToScalar();
        using var beta = klWeight.ToScalar();
        var kl = GaussianLatent.KlDivergence(meanJ, logVarianceJ).Plus(GaussianLatent.KlDivergence(meanI, logVarianceI).unsqueeze(1).div(negativesScalar));
        var perTriple = nll.Plus(kl.mul(beta));
        return where(pairOk.unsqueeze(1), perTriple, zeros_like(perTriple)).sum().MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Draws <paramref name="count"/> items per row, with replacement, among the items the row's user never
    /// interacted with: uniformly, or proportionally to <paramref name="popularity"/> (<c>[1, N]</c>) when given.
    /// Returns the items <c>[B, count]</c> and <c>[B]</c> whether the row has any candidate (a user who saw every
    /// item has none: that row's draws are meaningless and must be masked).
    /// </summary>
    public static (Tensor Items, Tensor HasCandidates) SampleNegatives(Tensor multiHot, Tensor? popularity, long count, Generator generator)
    {
        using var scope = NewDisposeScope();
        var weights = multiHot.negative().add(TorchScalars.One, TorchScalars.One);                 // 1 − x
        if (popularity is not null)
            weights = weights * popularity;
        var rowOk = weights.sum(1).gt(TorchScalars.Zero);
        weights = where(rowOk.unsqueeze(1), weights, ones_like(weights));
        var drawn = weights.multinomial(count, replacement: true, generator: generator);
        return (drawn.MoveToOuterDisposeScope(), rowOk.MoveToOuterDisposeScope());
    }
}
