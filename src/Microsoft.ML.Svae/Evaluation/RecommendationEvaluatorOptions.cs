namespace Microsoft.ML.Svae;

/// <summary>
/// Options of the top-n recommendation evaluator (section 5.2 of Sachdeva et al., WSDM 2019): which columns of
/// a scored data view hold the fold-in, the fold-out and the model's ranking, and which cutoffs to report.
/// </summary>
/// <remarks>
/// The ranking comes either from <see cref="ScoreColumnName"/> (a score per item; all unseen items are ranked)
/// or, when that is <see langword="null"/>, from <see cref="TopItemsColumnName"/> (the model's top-K list).
/// </remarks>
public sealed class RecommendationEvaluatorOptions
{
    /// <summary>The held-out items R of each user (<c>Vector&lt;Key&lt;UInt32&gt;&gt;</c>).</summary>
    public string FoldOutColumnName { get; set; } = SequenceColumns.FoldOut;

    /// <summary>
    /// The fold-in of each user (<c>Vector&lt;Key&lt;UInt32&gt;&gt;</c>, same key count as the fold-out): its items
    /// are never counted as recommendations, and its length places the user in a
    /// <see cref="HistoryLengthBucketEdges"/> bucket.
    /// </summary>
    public string HistoryColumnName { get; set; } = SequenceColumns.History;

    /// <summary>
    /// The model's recommendations, best first: <c>Vector&lt;Key&lt;UInt32&gt;&gt;</c> item keys 1..N, or
    /// <c>Vector&lt;UInt32&gt;</c>, <c>Vector&lt;Int32&gt;</c> or <c>Vector&lt;Int64&gt;</c> holding key values
    /// (e.g. from an ONNX model). A key 0 or out of range is "no item" at that rank. Items of the fold-in are
    /// removed from the list before scoring (a model should already exclude them). The list must hold at least
    /// the largest cutoff's number of items, unless the user has fewer unseen items than that.
    /// Used only when <see cref="ScoreColumnName"/> is <see langword="null"/>.
    /// </summary>
    public string? TopItemsColumnName { get; set; } = SequenceColumns.TopItems;

    /// <summary>
    /// A score for every item (<c>Vector&lt;Single&gt;</c> of length N), e.g. <see cref="SequenceColumns.Scores"/>.
    /// When set, it takes precedence over <see cref="TopItemsColumnName"/>: all items outside the fold-in are
    /// ranked by score, descending, ties going to the lower item index and NaN last.
    /// </summary>
    public string? ScoreColumnName { get; set; }

    /// <summary>
    /// The user id column for <see cref="RecommendationMetrics.PerUser"/> (<c>Key&lt;UInt32&gt;</c>, reported as
    /// the original id from its key values when they are integers, else as the key; or <c>UInt32</c>,
    /// <c>Int32</c>, <c>Int64</c>). When <see langword="null"/> or absent from the data, users are reported by
    /// 0-based row index.
    /// </summary>
    public string? UserIdColumnName { get; set; } = SequenceColumns.UserId;

    /// <summary>The cutoffs n of NDCG@n, Recall@n and Precision@n (positive; the paper uses 10 and 100).</summary>
    public IReadOnlyList<int> Cutoffs { get; set; } = [10, 100];

    /// <summary>
    /// The lower edges of the fold-in-length buckets of <see cref="RecommendationMetrics.ByHistoryLength"/>,
    /// strictly ascending and non-negative (a bucket [0, first edge) is added when the first edge is not 0).
    /// Default: [0,10), [10,20), [20,40), [40,80), [80,160), [160,320), [320,∞).
    /// </summary>
    public IReadOnlyList<int> HistoryLengthBucketEdges { get; set; } = [0, 10, 20, 40, 80, 160, 320];
}
