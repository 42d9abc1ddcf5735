namespace Microsoft.ML.Svae.Tests.Evaluation;

public class RankingMetricsTests
{
    private const double Tolerance = 1e-12;

    private static (double[] Ndcg, double[] Recall, double[] Precision, int Distinct) Run(int[] ranked, int[] relevant, int[] cutoffs, int itemCount = 200)
    {
        var flags = new bool[itemCount];
        var ndcg = new double[cutoffs.Length];
        var recall = new double[cutoffs.Length];
        var precision = new double[cutoffs.Length];
        int distinct = RankingMetrics.Compute(ranked, relevant, flags, cutoffs, ndcg, recall, precision);
        Assert.DoesNotContain(true, flags); // scratch is left clean for the next user
        return (ndcg, recall, precision, distinct);
    }

    [Fact]
    public void PerfectRankingHasNdcgOne()
    {
        var (ndcg, recall, precision, distinct) = Run([4, 7, 1, 9, 11], [1, 4, 7], [3, 10]);

        Assert.Equal(3, distinct);
        Assert.Equal(1.0, ndcg[0], Tolerance);
        Assert.Equal(1.0, ndcg[1], Tolerance);
        Assert.Equal(1.0, recall[0], Tolerance);
        Assert.Equal(1.0, recall[1], Tolerance);
        Assert.Equal(1.0, precision[0], Tolerance);
        Assert.Equal(0.3, precision[1], Tolerance); // 3 hits / n = 10, although the list holds only 5 items
    }

    [Fact]
    public void NoHitsGivesZeros()
    {
        var (ndcg, recall, precision, _) = Run([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [20, 21], [10]);

        Assert.Equal(0.0, ndcg[0]);
        Assert.Equal(0.0, recall[0]);
        Assert.Equal(0.0, precision[0]);
    }

    [Fact]
    public void RecallDividesByTheFullRelevantSetWhenItExceedsTheCutoff()
    {
        int[] relevant = Enumerable.Range(0, 20).ToArray(); // |R| = 20
        int[] ranked = Enumerable.Range(0, 10).ToArray();   // all 10 recommendations are hits

        var (ndcg, recall, precision, distinct) = Run(ranked, relevant, [10]);

        Assert.Equal(20, distinct);
        Assert.Equal(0.5, recall[0], Tolerance);   // 10 / |R| = 10 / 20, not 10 / min(10, 20)
        Assert.Equal(1.0, precision[0], Tolerance); // 10 / 10
        Assert.Equal(1.0, ndcg[0], Tolerance);      // IDCG@10 sums min(|R|, n) = 10 terms
    }

    [Fact]
    public void HitsAtRanksTwoAndFiveMatchTheHandComputation()
    {
        // R = {50, 60, 70}; hits at ranks 2 (item 50) and 5 (item 60).
        // DCG@10  = 1/log2(3) + 1/log2(6) = 0.6309297535714575 + 0.38685280723454163 = 1.0177825608059992
        // IDCG@10 = 1/log2(2) + 1/log2(3) + 1/log2(4) = 1 + 0.6309297535714575 + 0.5 = 2.1309297535714578
        // NDCG@10 = 1.0177825608059992 / 2.1309297535714578 = 0.4776237035032179
        // Recall@10 = 2/3, Precision@10 = 2/10.
        // At n = 3 only the rank-2 hit counts: NDCG@3 = 0.6309297535714575 / 2.1309297535714578 = 0.2960819109658652,
        // Recall@3 = 1/3, Precision@3 = 1/3.
        int[] ranked = [1, 50, 2, 3, 60, 4, 5, 6, 7, 8];

        var (ndcg, recall, precision, distinct) = Run(ranked, [50, 60, 70], [3, 10]);

        Assert.Equal(3, distinct);
        Assert.Equal(0.2960819109658652, ndcg[0], Tolerance);
        Assert.Equal(1.0 / 3, recall[0], Tolerance);
        Assert.Equal(1.0 / 3, precision[0], Tolerance);
        Assert.Equal(0.4776237035032179, ndcg[1], Tolerance);
        Assert.Equal(2.0 / 3, recall[1], Tolerance);
        Assert.Equal(0.2, precision[1], Tolerance);
    }

    [Fact]
    public void DuplicatesCountOnceAndNoItemEntriesAreMisses()
    {
        // R = {5, 6} given with a duplicate; the list repeats 5 and has "no item" (-1) at rank 1.
        // Hits: item 5 at rank 2 only (its repeat at rank 3 is no second hit), item 6 at rank 4.
        // DCG@4 = 1/log2(3) + 1/log2(5); IDCG@4 = 1 + 1/log2(3).
        var (ndcg, recall, precision, distinct) = Run([-1, 5, 5, 6], [5, 6, 5], [4]);

        Assert.Equal(2, distinct);
        Assert.Equal((1 / Math.Log2(3) + 1 / Math.Log2(5)) / (1 + 1 / Math.Log2(3)), ndcg[0], Tolerance);
        Assert.Equal(1.0, recall[0], Tolerance);
        Assert.Equal(0.5, precision[0], Tolerance);
    }

    [Fact]
    public void EmptyRelevantSetReturnsZeroDistinct()
    {
        var (ndcg, _, _, distinct) = Run([1, 2, 3], [], [10]);

        Assert.Equal(0, distinct);
        Assert.Equal(0.0, ndcg[0]);
    }

    [Fact]
    public void RelevantItemOutsideTheCatalogueThrowsAndLeavesScratchClean()
    {
        var flags = new bool[10];
        var output = new double[1];

        var error = Assert.Throws<ArgumentOutOfRangeException>(() =>
            RankingMetrics.Compute([1], [3, 12], flags, [10], output, output, output));

        Assert.Contains("12", error.Message);
        Assert.DoesNotContain(true, flags);
    }
}
