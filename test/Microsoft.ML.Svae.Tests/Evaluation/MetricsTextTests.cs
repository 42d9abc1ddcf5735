using Microsoft.Data.Analysis;

namespace Microsoft.ML.Svae.Tests.Evaluation;

/// <summary>The readable text of the metrics and of the data frames the library returns.</summary>
public class MetricsTextTests
{
    private static readonly string NL = Environment.NewLine;

    /// <summary>
    /// Two users, cutoffs 1 and 2. Values per user: NDCG@1, NDCG@2, Recall@1, Recall@2, Precision@1, Precision@2.
    /// User 10 (fold-in 3) hits at rank 1 of its single relevant item; user 11 (fold-in 9) hits one of two at rank 2.
    /// </summary>
    private static RecommendationMetrics TwoUsers() => new(
        cutoffs: new[] { 1, 2 },
        users: new long[] { 10, 11 },
        historyLengths: new[] { 3, 9 },
        foldOutSizes: new[] { 1, 2 },
        values: new[] { 1, 1, 1, 1, 1, 0.5, 0, 0.25, 0, 0.5, 0, 0.5 },
        skippedUsers: 1,
        bucketEdges: new[] { 0, 4, 8 });

    [Fact]
    public void MetricsPrintAsATableOfMetricsByCutoff()
    {
        string expected = string.Join(NL,
            "Metric         @1      @2",
            "---------  ------  ------",
            "NDCG       0.5000  0.6250",
            "Recall     0.5000  0.7500",
            "Precision  0.5000  0.5000",
            "2 users evaluated, 1 skipped (empty fold-out)");
        Assert.Equal(expected, TwoUsers().ToText());
    }

    [Fact]
    public void ByHistoryLengthPrintsAlignedColumnsWithMissingValues()
    {
        string expected = string.Join(NL,
            "Bucket   Users  NDCG@1  NDCG@2  Recall@1  Recall@2  Precision@1  Precision@2",
            "-------  -----  ------  ------  --------  --------  -----------  -----------",
            "[0,4)        1  1.0000  1.0000    1.0000    1.0000       1.0000       0.5000",
            "[4,8)        0       -       -         -         -            -            -",
            "[8,inf)      1  0.0000  0.2500    0.0000    0.5000       0.0000       0.5000");
        Assert.Equal(expected, TwoUsers().ByHistoryLength.ToText());
    }

    [Fact]
    public void PerUserPrintsTheFirstRowsAndCountsTheRest()
    {
        string expected = string.Join(NL,
            "User  HistoryLength  FoldOutSize  NDCG@1  NDCG@2  Recall@1  Recall@2  Precision@1  Precision@2",
            "----  -------------  -----------  ------  ------  --------  --------  -----------  -----------",
            "  10              3            1  1.0000  1.0000    1.0000    1.0000       1.0000       0.5000",
            "... 1 more row (2 in all)");
        Assert.Equal(expected, TwoUsers().PerUser.ToText(maxRows: 1));
    }

    [Fact]
    public void TextColumnsAreLeftAlignedAndNumbersRightAligned()
    {
        var frame = new DataFrame(
            new StringDataFrameColumn("Dataset", new[] { "a", "longer name" }),
            new Int32DataFrameColumn("Users", new[] { 5, 12345 }),
            new DoubleDataFrameColumn("Density (%)", new[] { 1.5, 0.123456 }));
        string expected = string.Join(NL,
            "Dataset      Users  Density (%)",
            "-----------  -----  -----------",
            "a                5       1.5000",
            "longer name  12345       0.1235");
        Assert.Equal(expected, frame.ToText());
        Assert.Equal(string.Join(NL, "Dataset  Users  Density (%)", "-------  -----  -----------", "... 2 more rows (2 in all)"), frame.ToText(0));
        Assert.Equal("maxRows", Assert.Throws<ArgumentOutOfRangeException>(() => frame.ToText(-1)).ParamName);
    }
}
