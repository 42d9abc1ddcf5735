using System.Diagnostics;

namespace Microsoft.ML.Svae;

/// <summary>
/// The per-user top-n metrics of section 5.2 (Sachdeva et al., WSDM 2019), allocation-free:
/// <list type="bullet">
/// <item><c>NDCG@n = DCG@n / IDCG@n</c>, <c>DCG@n = Σ_{i=1..n} r_i / log2(i + 1)</c>,
/// <c>IDCG@n = Σ_{i=1..min(|R|, n)} 1 / log2(i + 1)</c>;</item>
/// <item><c>Recall@n = Hits@n / |R|</c> (not <c>min(n, |R|)</c>, as in the paper and the authors' code);</item>
/// <item><c>Precision@n = Hits@n / n</c>, also when the ranked list is shorter than n.</item>
/// </list>
/// R is the set of distinct relevant (fold-out) items: duplicates in the fold-out count once.
/// </summary>
internal static class RankingMetrics
{
    private const int TableSize = 1024;

    // s_discount[i] = 1 / log2(i + 2): the discount of the item at 0-based rank i.
    private static readonly double[] s_discount = BuildDiscounts();

    // s_idealDcg[j] = Σ_{i < j} s_discount[i]: the DCG of j relevant items at the top.
    private static readonly double[] s_idealDcg = BuildIdealDcg(s_discount);

    /// <summary><c>1 / log2(rank + 2)</c>: the discount of the item at 0-based <paramref name="rank"/>.</summary>
    public static double Discount(int rank) => rank < TableSize ? s_discount[rank] : 1.0 / Math.Log2(rank + 2.0);

    /// <summary>The DCG of a list whose first <paramref name="count"/> items are all relevant.</summary>
    public static double IdealDcg(int count)
    {
        if (count <= TableSize)
            return s_idealDcg[count];
        double sum = s_idealDcg[TableSize];
        for (int i = TableSize; i < count; i++)
            sum += Discount(i);
        return sum;
    }

    /// <summary>
    /// Computes NDCG, Recall and Precision of one user at each cutoff.
    /// </summary>
    /// <param name="ranked">The recommendation list, best first, as 0-based item indices. Only the first
    /// <c>max(cutoffs)</c> entries are read; the list may be shorter. A negative or out-of-range entry is
    /// "no item" at that rank (a miss). A repeated item counts as a hit once, at its first rank.</param>
    /// <param name="relevant">The fold-out items (0-based; duplicates allowed, counted once).</param>
    /// <param name="isRelevant">Scratch membership flags, one per item of the catalogue; all false on entry
    /// and all false again on return.</param>
    /// <param name="cutoffs">The cutoffs n, strictly ascending, all ≥ 1.</param>
    /// <param name="ndcg">Receives NDCG@n for each cutoff.</param>
    /// <param name="recall">Receives Recall@n for each cutoff.</param>
    /// <param name="precision">Receives Precision@n for each cutoff.</param>
    /// <returns>|R|, the number of distinct relevant items. When it is 0 the outputs are set to 0 and the
    /// user should be skipped (section 5.2's metrics are undefined for an empty R).</returns>
    public static int Compute(
        ReadOnlySpan<int> ranked,
        ReadOnlySpan<int> relevant,
        Span<bool> isRelevant,
        ReadOnlySpan<int> cutoffs,
        Span<double> ndcg,
        Span<double> recall,
        Span<double> precision)
    {
        Debug.Assert(cutoffs.Length > 0 && ndcg.Length >= cutoffs.Length && recall.Length >= cutoffs.Length && precision.Length >= cutoffs.Length);

        int itemCount = isRelevant.Length;
        int distinct = 0;
        foreach (int item in relevant)
        {
            if ((uint)item >= (uint)itemCount)
            {
                Clear(relevant, isRelevant);
                throw new ArgumentOutOfRangeException(nameof(relevant),
                    $"Relevant item index {item} is outside the catalogue of {itemCount} items (0-based indices).");
            }
            if (!isRelevant[item])
            {
                isRelevant[item] = true;
                distinct++;
            }
        }

        if (distinct == 0)
        {
            ndcg[..cutoffs.Length].Clear();
            recall[..cutoffs.Length].Clear();
            precision[..cutoffs.Length].Clear();
            return 0;
        }

        int limit = Math.Min(ranked.Length, cutoffs[^1]);
        double dcg = 0;
        int hits = 0;
        int c = 0;
        for (int i = 0; i < limit; i++)
        {
            int item = ranked[i];
            if ((uint)item < (uint)itemCount && isRelevant[item])
            {
                isRelevant[item] = false; // a repeated item is not a second hit
                hits++;
                dcg += Discount(i);
            }
            while (c < cutoffs.Length && cutoffs[c] == i + 1)
            {
                Record(c, cutoffs[c], dcg, hits, distinct, ndcg, recall, precision);
                c++;
            }
        }
        // The list ended before the larger cutoffs: no further hits.
        for (; c < cutoffs.Length; c++)
            Record(c, cutoffs[c], dcg, hits, distinct, ndcg, recall, precision);

        Clear(relevant, isRelevant);
        return distinct;
    }

    private static void Record(int c, int n, double dcg, int hits, int distinct, Span<double> ndcg, Span<double> recall, Span<double> precision)
    {
        ndcg[c] = dcg / IdealDcg(Math.Min(distinct, n));
        recall[c] = hits / (double)distinct;
        precision[c] = hits / (double)n;
    }

    private static void Clear(ReadOnlySpan<int> items, Span<bool> flags)
    {
        foreach (int item in items)
        {
            if ((uint)item < (uint)flags.Length)
                flags[item] = false;
        }
    }

    private static double[] BuildDiscounts()
    {
        var discounts = new double[TableSize];
        for (int i = 0; i < TableSize; i++)
            discounts[i] = 1.0 / Math.Log2(i + 2.0);
        return discounts;
    }

    private static double[] BuildIdealDcg(double[] discounts)
    {
        var ideal = new double[discounts.Length + 1];
        for (int i = 0; i < discounts.Length; i++)
            ideal[i + 1] = ideal[i] + discounts[i];
        return ideal;
    }
}
