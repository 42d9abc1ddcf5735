namespace Microsoft.ML.Svae;

/// <summary>Column names of an interaction log as the readers produce it: one row per (user, item) event.</summary>
public static class InteractionColumns
{
    /// <summary>The user identifier (UInt32 for the MovieLens and Netflix readers).</summary>
    public const string UserId = "UserId";

    /// <summary>The item identifier (UInt32 for the MovieLens and Netflix readers).</summary>
    public const string ItemId = "ItemId";

    /// <summary>The explicit rating (Single).</summary>
    public const string Rating = "Rating";

    /// <summary>The event time in seconds since the Unix epoch (Int64).</summary>
    public const string Timestamp = "Timestamp";
}

/// <summary>
/// Column names of a sequence data set: one row per user, with the time-ordered history of item keys.
/// These are the defaults of every trainer and of the evaluator.
/// </summary>
public static class SequenceColumns
{
    /// <summary>The user's key (Key&lt;UInt32&gt;, carrying the original user ids as key values).</summary>
    public const string UserId = "UserId";

    /// <summary>
    /// The time-ordered history (training users) or fold-in (held-out users): a variable-length
    /// <c>Vector&lt;Key&lt;UInt32&gt;&gt;</c> whose key count is the number of items in the vocabulary.
    /// </summary>
    public const string History = "History";

    /// <summary>The event times of <see cref="History"/> (variable-length <c>Vector&lt;Int64&gt;</c>).</summary>
    public const string HistoryTimestamps = "HistoryTimestamps";

    /// <summary>The held-out user's fold-out items (variable-length <c>Vector&lt;Key&lt;UInt32&gt;&gt;</c>), the relevant set R of section 5.2.</summary>
    public const string FoldOut = "FoldOut";

    /// <summary>Output: the top-K recommended item keys, best first (<c>Vector&lt;Key&lt;UInt32&gt;&gt;</c> of length K; seen items excluded).</summary>
    public const string TopItems = "TopItems";

    /// <summary>Output: the scores of <see cref="TopItems"/> (<c>Vector&lt;Single&gt;</c> of length K).</summary>
    public const string TopScores = "TopScores";

    /// <summary>Output (on request): the score of every item (<c>Vector&lt;Single&gt;</c> of length N; seen items set to negative infinity).</summary>
    public const string Scores = "Scores";
}
