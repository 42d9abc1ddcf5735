namespace Microsoft.ML.Svae;

/// <summary>How a held-out user's history is divided into fold-in and fold-out (section 5.2).</summary>
public enum FoldSplit
{
    /// <summary>
    /// The fold-in is the first part of the time-sorted history and the fold-out the last part (the paper's protocol:
    /// every fold-in event precedes or ties with every fold-out event).
    /// </summary>
    Temporal = 0,

    /// <summary>
    /// The fold-out events are drawn uniformly at random (seeded) from the history, as in Liang et al. and the
    /// paper's MVAE* row. Both parts stay in time order.
    /// </summary>
    Random = 1,
}

/// <summary>How <see cref="SequenceDataCatalog.PrepareSequences(IDataView, SequenceProtocolOptions)"/> divides users and events into training, validation and test.</summary>
public enum SequenceSplit
{
    /// <summary>
    /// The paper's protocol (section 5.2): disjoint training, validation and test users; a held-out user's history is
    /// split into a fold-in (the model's input) and a fold-out (the relevant items), see <see cref="SequenceProtocolOptions.FoldOutFraction"/>.
    /// </summary>
    Paper = 0,

    /// <summary>
    /// Leave-last-one-out (RecBole's <c>LS</c> split with <c>valid_and_test</c>): every user is in all three splits;
    /// the last event of the time-ordered history is the test target (fold-in: all the events before it), the one
    /// before it the validation target (fold-in: the training history), and the rest is the training history. The
    /// item vocabulary is every item of the kept events, so targets are ranked against all items. Read the metrics
    /// at a single target as HR@k (<see cref="RecommendationMetrics.HitRate(int)"/>) and NDCG@k.
    /// </summary>
    LeaveOneOut = 1,
}

/// <summary>
/// Options of <see cref="SequenceDataCatalog.PrepareSequences(IDataView, SequenceProtocolOptions)"/>:
/// the data protocol of section 5 of Sachdeva et al. (WSDM 2019). The defaults do not binarize; use
/// <see cref="MovieLens1M"/> for the paper's MovieLens-1M setting.
/// </summary>
public sealed class SequenceProtocolOptions
{
    /// <summary>
    /// The user id column: Text (e.g. "alice" or a GUID) or Int64 ids, kept in their type; UInt32 or another integer
    /// type, read as UInt32 ids; or Key&lt;UInt32&gt;, read as the ids of its <c>KeyValues</c> annotation (Text, Int64 or
    /// UInt32, as <c>MapValueToKey</c> writes them) or else as its key values.
    /// </summary>
    public string UserIdColumnName { get; set; } = InteractionColumns.UserId;

    /// <summary>
    /// The item id column (same types as <see cref="UserIdColumnName"/>, e.g. product SKUs as Text). A model trained on
    /// the prepared data reads and writes item ids of that type.
    /// </summary>
    public string ItemIdColumnName { get; set; } = InteractionColumns.ItemId;

    /// <summary>The rating column; only read when <see cref="RatingThreshold"/> is set.</summary>
    public string RatingColumnName { get; set; } = InteractionColumns.Rating;

    /// <summary>
    /// The time column (Unix seconds as Int64 or another numeric type, or DateTime/DateTimeOffset). Null: the row
    /// order of the input is the time order (the row index is used as the timestamp).
    /// </summary>
    public string? TimestampColumnName { get; set; } = InteractionColumns.Timestamp;

    /// <summary>
    /// If set, only interactions whose rating is strictly greater than this value are kept: the paper's
    /// binarization, 3 by default on MovieLens' and Netflix's 1–5 scale. Set it to <see langword="null"/> for
    /// implicit-feedback logs, where every interaction is a positive event (the rating column is then not read).
    /// Ratings must be finite: a NaN or infinite rating is an error naming its row. Any finite rating counts as it
    /// is, whatever its scale (negative ratings are below the threshold; 1e30 is above it).
    /// </summary>
    public float? RatingThreshold { get; set; } = 3;

    /// <summary>Users with fewer events than this (after binarization) are dropped. Default 5, as in the paper.</summary>
    public int MinItemsPerUser { get; set; } = 5;

    /// <summary>
    /// If set, each user keeps only their most recent <c>MaxHistoryLength</c> events (applied after the minimum
    /// filter and before the user split). Null (the default): no limit.
    /// </summary>
    public int? MaxHistoryLength { get; set; }

    /// <summary>Number of validation users. Null (the default): <see cref="ValidationFraction"/> of the users.</summary>
    public int? ValidationUsers { get; set; }

    /// <summary>Number of test users. Null (the default): <see cref="TestFraction"/> of the users.</summary>
    public int? TestUsers { get; set; }

    /// <summary>
    /// Share of the users held out for validation when <see cref="ValidationUsers"/> is null: the count is
    /// round(fraction × users), rounding halves away from zero. Default 0.1.
    /// </summary>
    public double ValidationFraction { get; set; } = 0.1;

    /// <summary>Share of the users held out for test when <see cref="TestUsers"/> is null (rounded as <see cref="ValidationFraction"/>). Default 0.1.</summary>
    public double TestFraction { get; set; } = 0.1;

    /// <summary>
    /// Share of a held-out user's history that forms the fold-out, default 0.2 (fold-in = first 80%). For a
    /// history of n events (after dropping unknown items) the fold-in has
    /// <c>clamp(floor((1 − FoldOutFraction)·n), 1, n − 1)</c> events and the fold-out the remaining ones, as in the
    /// authors' code (<c>int(0.8 · n)</c>): n = 5 → 4 + 1, n = 10 → 8 + 2, n = 12 → 9 + 3.
    /// </summary>
    public double FoldOutFraction { get; set; } = 0.2;

    /// <summary>Temporal (default, the paper's protocol) or random fold-in/fold-out split.</summary>
    public FoldSplit FoldSplit { get; set; } = FoldSplit.Temporal;

    /// <summary>
    /// The paper's held-out users (default) or leave-last-one-out. Under <see cref="SequenceSplit.LeaveOneOut"/> the
    /// user-split and fold options (<see cref="ValidationUsers"/>, <see cref="TestUsers"/>, the fractions and
    /// <see cref="FoldSplit"/>) are not used, and every user needs at least 3 events.
    /// </summary>
    public SequenceSplit Split { get; set; } = SequenceSplit.Paper;

    /// <summary>Seed of the user split and of the random fold split. Default 98765 (the seed of Liang et al.'s preprocessing).</summary>
    public int Seed { get; set; } = 98765;

    /// <summary>
    /// The paper's MovieLens-1M setting: ratings strictly greater than 3, users with at least 5 positive events,
    /// 750 validation and 750 test users, temporal 80/20 fold split.
    /// </summary>
    public static SequenceProtocolOptions MovieLens1M() => new()
    {
        RatingThreshold = 3,
        MinItemsPerUser = 5,
        ValidationUsers = 750,
        TestUsers = 750,
    };

    internal SequenceProtocolOptions Clone() => (SequenceProtocolOptions)MemberwiseClone();

    internal void Validate()
    {
        ArgumentException.ThrowIfNullOrEmpty(UserIdColumnName, nameof(UserIdColumnName));
        ArgumentException.ThrowIfNullOrEmpty(ItemIdColumnName, nameof(ItemIdColumnName));
        if (RatingThreshold is float t)
        {
            ArgumentException.ThrowIfNullOrEmpty(RatingColumnName, nameof(RatingColumnName));
            if (!float.IsFinite(t))
                throw new ArgumentOutOfRangeException(nameof(RatingThreshold), $"RatingThreshold must be a finite number (got {t}).");
        }
        if (TimestampColumnName is { Length: 0 })
            throw new ArgumentException("TimestampColumnName must be null (row order is time order) or a column name, not empty.", nameof(TimestampColumnName));
        if (MinItemsPerUser < 1)
            throw new ArgumentOutOfRangeException(nameof(MinItemsPerUser), $"MinItemsPerUser must be at least 1 (got {MinItemsPerUser}).");
        if (MaxHistoryLength is int max && max < 2)
            throw new ArgumentOutOfRangeException(nameof(MaxHistoryLength), $"MaxHistoryLength must be at least 2 so that held-out users can be split (got {max}).");
        if (ValidationUsers is < 0)
            throw new ArgumentOutOfRangeException(nameof(ValidationUsers), $"ValidationUsers must not be negative (got {ValidationUsers}).");
        if (TestUsers is < 0)
            throw new ArgumentOutOfRangeException(nameof(TestUsers), $"TestUsers must not be negative (got {TestUsers}).");
        if (!(ValidationFraction >= 0 && ValidationFraction < 1))
            throw new ArgumentOutOfRangeException(nameof(ValidationFraction), $"ValidationFraction must be in [0, 1) (got {ValidationFraction}).");
        if (!(TestFraction >= 0 && TestFraction < 1))
            throw new ArgumentOutOfRangeException(nameof(TestFraction), $"TestFraction must be in [0, 1) (got {TestFraction}).");
        if (!(FoldOutFraction > 0 && FoldOutFraction < 1))
            throw new ArgumentOutOfRangeException(nameof(FoldOutFraction), $"FoldOutFraction must be strictly between 0 and 1 (got {FoldOutFraction}).");
        if (!Enum.IsDefined(Split))
            throw new ArgumentOutOfRangeException(nameof(Split), $"Split must be {string.Join(" or ", Enum.GetNames<SequenceSplit>())} (got {Split}).");
        if (Split == SequenceSplit.LeaveOneOut && MinItemsPerUser < 3)
            throw new ArgumentOutOfRangeException(nameof(MinItemsPerUser),
                $"MinItemsPerUser must be at least 3 with Split = LeaveOneOut (a training event, a validation target and a test target; got {MinItemsPerUser}).");
        if (Split == SequenceSplit.LeaveOneOut && MaxHistoryLength is int kept && kept < 3)
            throw new ArgumentOutOfRangeException(nameof(MaxHistoryLength),
                $"MaxHistoryLength must be at least 3 with Split = LeaveOneOut (got {kept}).");
        if (!Enum.IsDefined(FoldSplit))
            throw new ArgumentOutOfRangeException(nameof(FoldSplit), $"FoldSplit must be {string.Join(" or ", Enum.GetNames<FoldSplit>())} (got {FoldSplit}).");
    }

    /// <summary>The fold-in size for a history of <paramref name="n"/> ≥ 2 events.</summary>
    internal int FoldInCount(int n)
    {
        int foldIn = (int)Math.Floor((1 - FoldOutFraction) * n + 1e-9);
        return Math.Clamp(foldIn, 1, n - 1);
    }
}
