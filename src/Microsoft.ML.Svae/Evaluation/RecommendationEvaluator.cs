using System.Numerics;
using Microsoft.ML.Data;

namespace Microsoft.ML.Svae;

/// <summary>
/// The evaluator of section 5.2 of Sachdeva et al. (WSDM 2019), the one place where top-n metrics are computed:
/// every trainer's validation (<see cref="Compute"/>, from top-k arrays) and the final evaluation of every model
/// (<see cref="Evaluate(IDataView, RecommendationEvaluatorOptions)"/>, from a scored <see cref="IDataView"/>).
/// </summary>
/// <remarks>
/// Protocol: for each held-out user, the items of the fold-in are never counted as recommendations; the
/// remaining ranked items are compared with the fold-out R by <see cref="RankingMetrics"/>. Users with an empty
/// fold-out are skipped and counted. The fold-out is used as given: an item in both fold-in and fold-out stays
/// in R (it counts in |R| and IDCG) but cannot be hit, since seen items are excluded. The authors' code
/// (svae_cf) behaves the same way, except that it does not deduplicate R. Evaluating a data view with no rows,
/// or whose fold-outs are all empty, is an error (there would be no user to average over).
/// </remarks>
internal static class RecommendationEvaluator
{
    private const int MetricCount = 3;

    private delegate void RowRanker(int row, Span<int> destination);

    private enum RankingKind { Scores, UInt32Keys, Int32Keys, Int64Keys }

    /// <summary>
    /// Evaluates a scored data view (the output of a recommendation transformer) as configured by
    /// <paramref name="options"/>; the implementation behind <c>mlContext.Recommendation().Evaluate(...)</c>.
    /// </summary>
    public static RecommendationMetrics Evaluate(IDataView scored, RecommendationEvaluatorOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return Evaluate(scored, options.FoldOutColumnName, options.HistoryColumnName, options.TopItemsColumnName,
            options.ScoreColumnName, options.Cutoffs, options.HistoryLengthBucketEdges, options.UserIdColumnName);
    }

    /// <summary>
    /// Evaluates a scored data view. The ranking comes from <paramref name="scoreColumnName"/> when it is not
    /// <see langword="null"/> (all unseen items ranked by score, descending, ties to the lower index), else from
    /// <paramref name="topItemsColumnName"/> (the model's top-K list, seen items removed).
    /// </summary>
    /// <param name="scored">One row per held-out user.</param>
    /// <param name="foldOutColumnName">The relevant items R (<c>Vector&lt;Key&lt;UInt32&gt;&gt;</c>).</param>
    /// <param name="historyColumnName">The fold-in (<c>Vector&lt;Key&lt;UInt32&gt;&gt;</c>, same key count).</param>
    /// <param name="topItemsColumnName">Top-K item keys, best first (<c>Vector&lt;Key&lt;UInt32&gt;&gt;</c>, or
    /// <c>Vector&lt;UInt32&gt;</c>, <c>Vector&lt;Int32&gt;</c>, <c>Vector&lt;Int64&gt;</c> holding keys 1..N).</param>
    /// <param name="scoreColumnName">Scores of all N items (<c>Vector&lt;Single&gt;</c>).</param>
    /// <param name="cutoffs">The cutoffs n.</param>
    /// <param name="historyLengthBucketEdges">Lower edges of the fold-in-length buckets; <see langword="null"/> for the default.</param>
    /// <param name="userIdColumnName">An optional user id column for the per-user table; ignored when absent.</param>
    public static RecommendationMetrics Evaluate(
        IDataView scored,
        string foldOutColumnName,
        string historyColumnName,
        string? topItemsColumnName,
        string? scoreColumnName,
        IReadOnlyList<int> cutoffs,
        IReadOnlyList<int>? historyLengthBucketEdges = null,
        string? userIdColumnName = SequenceColumns.UserId)
    {
        ArgumentNullException.ThrowIfNull(scored);
        int[] normalizedCutoffs = NormalizeCutoffs(cutoffs);
        int[] edges = NormalizeBucketEdges(historyLengthBucketEdges);
        int maxCutoff = normalizedCutoffs[^1];

        var schema = scored.Schema;
        int itemCount = SchemaChecks.ItemKeyVectorColumn(schema, foldOutColumnName, "fold-out");
        int historyItemCount = SchemaChecks.ItemKeyVectorColumn(schema, historyColumnName, "history");
        if (historyItemCount != itemCount)
            throw new ArgumentOutOfRangeException(historyColumnName,
                $"The history column '{historyColumnName}' has {historyItemCount} item keys but the fold-out column '{foldOutColumnName}' has {itemCount}; both must use the same item vocabulary.");

        string rankingColumnName;
        RankingKind kind;
        if (scoreColumnName is not null)
        {
            rankingColumnName = scoreColumnName;
            kind = CheckScoreColumn(schema, scoreColumnName, itemCount, foldOutColumnName);
        }
        else if (topItemsColumnName is not null)
        {
            rankingColumnName = topItemsColumnName;
            kind = CheckTopItemsColumn(schema, topItemsColumnName, itemCount, foldOutColumnName);
        }
        else
        {
            throw new ArgumentException(
                "Neither a score column nor a top-items column was given: set TopItemsColumnName (the model's top-K item keys) or ScoreColumnName (a score per item).");
        }
        DataViewSchema.Column? userIdColumn = FindUserIdColumn(schema, userIdColumnName);

        var foldIn = UserSequences.Read(scored, historyColumnName, "history");
        var foldOut = UserSequences.Read(scored, foldOutColumnName, "fold-out");
        if (foldIn.Count != foldOut.Count)
            throw new InvalidOperationException(
                $"The data view returned {foldIn.Count} rows for column '{historyColumnName}' but {foldOut.Count} for column '{foldOutColumnName}'.");
        int users = foldOut.Count;
        if (users == 0)
            throw new ArgumentException(
                "The data to evaluate is empty (0 rows): there is no user to evaluate, and every metric would be NaN. " +
                "Evaluate the scored held-out users (e.g. model.Transform(dataset.Test) with TestUsers > 0).", nameof(scored));
        if (foldOut.EventCount == 0)
            throw new ArgumentException(
                $"None of the {users} rows has an item in the fold-out column '{foldOutColumnName}': users with an empty fold-out are skipped, " +
                "so there is no user to evaluate and every metric would be NaN. Check that the column holds the held-out items (R) of each user.", nameof(scored));

        var topItems = new int[checked(users * maxCutoff)];
        long[]? userIds = userIdColumn is null ? null : new long[users];

        var rankingColumn = schema[rankingColumnName];
        var active = userIdColumn is null ? new[] { rankingColumn } : new[] { rankingColumn, userIdColumn.Value };
        using (var cursor = scored.GetRowCursor(active))
        {
            RowRanker rank = kind switch
            {
                RankingKind.Scores => ScoreRanker(cursor, rankingColumn, foldIn, maxCutoff),
                RankingKind.UInt32Keys => TopItemsRanker<uint>(cursor, rankingColumn, foldIn, maxCutoff),
                RankingKind.Int32Keys => TopItemsRanker<int>(cursor, rankingColumn, foldIn, maxCutoff),
                _ => TopItemsRanker<long>(cursor, rankingColumn, foldIn, maxCutoff),
            };
            Func<long>? readUserId = userIdColumn is null ? null : UserIdGetter(cursor, userIdColumn.Value);

            int row = 0;
            while (cursor.MoveNext())
            {
                if (row >= users)
                    throw new InvalidOperationException(
                        $"The data view returned more rows for column '{rankingColumnName}' than for column '{foldOutColumnName}' ({users}).");
                if (userIds is not null)
                    userIds[row] = readUserId!();
                var destination = topItems.AsSpan(row * maxCutoff, maxCutoff);
                if (foldOut.Length(row) == 0)
                    destination.Fill(-1); // skipped user: no need to rank
                else
                    rank(row, destination);
                row++;
            }
            if (row != users)
                throw new InvalidOperationException(
                    $"The data view returned {row} rows for column '{rankingColumnName}' but {users} for column '{foldOutColumnName}'.");
        }

        return Compute(topItems, maxCutoff, foldIn, foldOut, normalizedCutoffs, edges, userIds);
    }

    /// <summary>
    /// Computes the metrics from each user's top-k list, as trainers do for validation after every epoch.
    /// </summary>
    /// <param name="topItems">users × <paramref name="k"/> row-major 0-based item indices, best first; −1 is "no
    /// item" at that rank. Items of the user's fold-in are removed from the list before scoring (the trainer
    /// should already have masked them).</param>
    /// <param name="k">The length of each user's list; at least the largest cutoff.</param>
    /// <param name="foldIn">The users' fold-ins (seen items, and the history length of the per-user table).</param>
    /// <param name="foldOut">The users' fold-outs R, in the same user order.</param>
    /// <param name="cutoffs">The cutoffs n (positive).</param>
    /// <param name="historyLengthBucketEdges">Lower edges of the fold-in-length buckets; <see langword="null"/> for the default.</param>
    /// <param name="userIds">Optional ids reported in the per-user table (default: the 0-based user index).</param>
    public static RecommendationMetrics Compute(
        ReadOnlySpan<int> topItems,
        int k,
        UserSequences foldIn,
        UserSequences foldOut,
        IReadOnlyList<int> cutoffs,
        IReadOnlyList<int>? historyLengthBucketEdges = null,
        long[]? userIds = null)
    {
        ArgumentNullException.ThrowIfNull(foldIn);
        ArgumentNullException.ThrowIfNull(foldOut);
        int[] normalizedCutoffs = NormalizeCutoffs(cutoffs);
        int[] edges = NormalizeBucketEdges(historyLengthBucketEdges);
        int maxCutoff = normalizedCutoffs[^1];
        if (k < maxCutoff)
            throw new ArgumentOutOfRangeException(nameof(k),
                $"The top-k lists hold k = {k} items per user, fewer than the largest cutoff ({maxCutoff}). " +
                $"Compute at least {maxCutoff} items per user (with seen items masked) or lower the cutoffs.");
        if (foldIn.Count != foldOut.Count)
            throw new ArgumentException($"The fold-in has {foldIn.Count} users but the fold-out has {foldOut.Count}.", nameof(foldIn));
        if (foldIn.ItemCount != foldOut.ItemCount)
            throw new ArgumentException($"The fold-in has {foldIn.ItemCount} items but the fold-out has {foldOut.ItemCount}; both must use the same item vocabulary.", nameof(foldIn));
        int users = foldOut.Count;
        if (topItems.Length != (long)users * k)
            throw new ArgumentException($"The top-k array has {topItems.Length} entries; expected users × k = {users} × {k} = {(long)users * k}.", nameof(topItems));
        if (userIds is not null && userIds.Length != users)
            throw new ArgumentException($"{userIds.Length} user ids were given for {users} users.", nameof(userIds));

        int itemCount = foldOut.ItemCount;
        int cutoffCount = normalizedCutoffs.Length;
        int stride = MetricCount * cutoffCount;
        var seen = new bool[itemCount];
        var relevant = new bool[itemCount];
        var list = new int[maxCutoff];
        var values = new double[checked(users * stride)];
        var ids = new long[users];
        var historyLengths = new int[users];
        var foldOutSizes = new int[users];
        int evaluated = 0, skipped = 0;

        for (int u = 0; u < users; u++)
        {
            var fold = foldOut[u];
            if (fold.IsEmpty)
            {
                skipped++;
                continue;
            }
            var history = foldIn[u];
            Mark(history, seen);
            int length = 0;
            foreach (int item in topItems.Slice(u * k, k))
            {
                if (length == maxCutoff)
                    break;
                if (item >= itemCount)
                    throw new ArgumentOutOfRangeException(nameof(topItems),
                        $"User {u}'s top-k list holds item index {item}, outside the catalogue of {itemCount} items (0-based indices; -1 for no item).");
                if (item >= 0 && seen[item])
                    continue;
                list[length++] = item;
            }
            Unmark(history, seen);

            var row = values.AsSpan(evaluated * stride, stride);
            int distinct = RankingMetrics.Compute(list.AsSpan(0, length), fold, relevant, normalizedCutoffs,
                row[..cutoffCount], row.Slice(cutoffCount, cutoffCount), row.Slice(2 * cutoffCount, cutoffCount));
            ids[evaluated] = userIds is null ? u : userIds[u];
            historyLengths[evaluated] = history.Length;
            foldOutSizes[evaluated] = distinct;
            evaluated++;
        }

        Array.Resize(ref values, evaluated * stride);
        Array.Resize(ref ids, evaluated);
        Array.Resize(ref historyLengths, evaluated);
        Array.Resize(ref foldOutSizes, evaluated);
        return new RecommendationMetrics(normalizedCutoffs, ids, historyLengths, foldOutSizes, values, skipped, edges);
    }

    /// <summary>The cutoffs, validated, deduplicated and sorted ascending.</summary>
    internal static int[] NormalizeCutoffs(IReadOnlyList<int> cutoffs)
    {
        ArgumentNullException.ThrowIfNull(cutoffs);
        if (cutoffs.Count == 0)
            throw new ArgumentException("At least one cutoff is required (the paper uses 10 and 100).", nameof(cutoffs));
        var result = new SortedSet<int>();
        foreach (int n in cutoffs)
        {
            if (n <= 0)
                throw new ArgumentOutOfRangeException(nameof(cutoffs), $"Cutoffs must be positive, but {n} was given.");
            result.Add(n);
        }
        return [.. result];
    }

    /// <summary>The bucket edges, validated; 0 is prepended when missing.</summary>
    internal static int[] NormalizeBucketEdges(IReadOnlyList<int>? edges)
    {
        if (edges is null)
            return [0, 10, 20, 40, 80, 160, 320];
        if (edges.Count == 0)
            throw new ArgumentException("At least one history-length bucket edge is required.", nameof(edges));
        var result = new List<int>(edges.Count + 1);
        for (int i = 0; i < edges.Count; i++)
        {
            if (edges[i] < 0)
                throw new ArgumentOutOfRangeException(nameof(edges), $"History-length bucket edges must be non-negative, but {edges[i]} was given.");
            if (i > 0 && edges[i] <= edges[i - 1])
                throw new ArgumentException($"History-length bucket edges must be strictly ascending, but {edges[i]} follows {edges[i - 1]}.", nameof(edges));
        }
        if (edges[0] != 0)
            result.Add(0);
        result.AddRange(edges);
        return [.. result];
    }

    private static RankingKind CheckScoreColumn(DataViewSchema schema, string name, int itemCount, string foldOutColumnName)
    {
        var column = SchemaChecks.Column(schema, name, "score");
        if (column.Type is not VectorDataViewType { ItemType: NumberDataViewType number } vector || number.RawType != typeof(float))
            throw new ArgumentOutOfRangeException(name,
                $"The score column '{name}' must be a vector of Single scores, one per item (Vector<Single, {itemCount}>), but its type is {SchemaChecks.Describe(column.Type)}.");
        if (vector.Size != 0 && vector.Size != itemCount)
            throw new ArgumentOutOfRangeException(name,
                $"The score column '{name}' holds {vector.Size} scores per row, but the fold-out column '{foldOutColumnName}' has {itemCount} items; expected one score per item.");
        return RankingKind.Scores;
    }

    private static RankingKind CheckTopItemsColumn(DataViewSchema schema, string name, int itemCount, string foldOutColumnName)
    {
        var column = SchemaChecks.Column(schema, name, "top-items");
        if (column.Type is VectorDataViewType vector)
        {
            if (vector.ItemType is KeyDataViewType key && key.RawType == typeof(uint))
            {
                if (key.Count != (ulong)itemCount)
                    throw new ArgumentOutOfRangeException(name,
                        $"The top-items column '{name}' has {key.Count} item keys but the fold-out column '{foldOutColumnName}' has {itemCount}; both must use the same item vocabulary.");
                return RankingKind.UInt32Keys;
            }
            if (vector.ItemType == NumberDataViewType.UInt32)
                return RankingKind.UInt32Keys;
            if (vector.ItemType == NumberDataViewType.Int32)
                return RankingKind.Int32Keys;
            if (vector.ItemType == NumberDataViewType.Int64)
                return RankingKind.Int64Keys;
        }
        throw new ArgumentOutOfRangeException(name,
            $"The top-items column '{name}' must be a vector of item keys, best first: Vector<Key<UInt32>> (keys 1..{itemCount}), " +
            $"or Vector<UInt32>, Vector<Int32> or Vector<Int64> holding those key values; but its type is {SchemaChecks.Describe(column.Type)}.");
    }

    private static DataViewSchema.Column? FindUserIdColumn(DataViewSchema schema, string? name)
    {
        if (name is null)
            return null;
        var found = schema.GetColumnOrNull(name);
        if (found is not DataViewSchema.Column column)
            return null;
        if (column.Type is KeyDataViewType { RawType: var raw } && raw == typeof(uint)
            || column.Type == NumberDataViewType.UInt32 || column.Type == NumberDataViewType.Int32 || column.Type == NumberDataViewType.Int64)
            return column;
        throw new ArgumentOutOfRangeException(name,
            $"The user id column '{name}' must be Key<UInt32>, UInt32, Int32 or Int64, but its type is {SchemaChecks.Describe(column.Type)}. " +
            "Set the user id column name to null to report users by row index.");
    }

    /// <summary>Reads a user id: the original id for a key column with integer key values, else the key (−1 when missing) or the number.</summary>
    private static Func<long> UserIdGetter(DataViewRowCursor cursor, DataViewSchema.Column column)
    {
        if (column.Type == NumberDataViewType.Int32)
        {
            var getter = cursor.GetGetter<int>(column);
            return () => { int v = 0; getter(ref v); return v; };
        }
        if (column.Type == NumberDataViewType.Int64)
        {
            var getter = cursor.GetGetter<long>(column);
            return () => { long v = 0; getter(ref v); return v; };
        }
        var uintGetter = cursor.GetGetter<uint>(column);
        if (column.Type is not KeyDataViewType)
            return () => { uint v = 0; uintGetter(ref v); return v; };

        long[]? keyValues = IntegerKeyValues(column);
        return () =>
        {
            uint key = 0;
            uintGetter(ref key);
            if (key == 0)
                return -1;
            return keyValues is not null && key <= keyValues.Length ? keyValues[key - 1] : key;
        };
    }

    private static long[]? IntegerKeyValues(DataViewSchema.Column column)
    {
        const string kind = "KeyValues";
        var annotation = column.Annotations.Schema.GetColumnOrNull(kind);
        if (annotation is not DataViewSchema.Column { Type: VectorDataViewType { ItemType: var itemType } })
            return null;
        if (itemType == NumberDataViewType.UInt32)
            return ReadKeyValues<uint>(column, kind);
        if (itemType == NumberDataViewType.Int32)
            return ReadKeyValues<int>(column, kind);
        if (itemType == NumberDataViewType.Int64)
            return ReadKeyValues<long>(column, kind);
        if (itemType == NumberDataViewType.UInt64)
            return ReadKeyValues<ulong>(column, kind);
        return null;
    }

    private static long[] ReadKeyValues<T>(DataViewSchema.Column column, string kind) where T : unmanaged, IBinaryInteger<T>
    {
        var values = default(VBuffer<T>);
        column.Annotations.GetValue(kind, ref values);
        var dense = new T[values.Length];
        values.CopyTo(dense);
        var result = new long[dense.Length];
        for (int i = 0; i < dense.Length; i++)
            result[i] = long.CreateSaturating(dense[i]);
        return result;
    }

    /// <summary>Ranks all unseen items of a score vector and writes the top <paramref name="count"/>, padded with −1.</summary>
    private static RowRanker ScoreRanker(DataViewRowCursor cursor, DataViewSchema.Column column, UserSequences foldIn, int count)
    {
        int itemCount = foldIn.ItemCount;
        var getter = cursor.GetGetter<VBuffer<float>>(column);
        var buffer = default(VBuffer<float>);
        var dense = new float[itemCount];
        var keys = new ulong[itemCount];
        var seen = new bool[itemCount];
        return (row, destination) =>
        {
            getter(ref buffer);
            if (buffer.Length != itemCount)
                throw new ArgumentOutOfRangeException(column.Name,
                    $"The score column '{column.Name}' must hold one score per item ({itemCount}), but row {row} holds {buffer.Length}.");
            ReadOnlySpan<float> scores;
            if (buffer.IsDense)
            {
                scores = buffer.GetValues();
            }
            else
            {
                buffer.CopyTo(dense);
                scores = dense;
            }
            var history = foldIn[row];
            Mark(history, seen);
            int written = TopItemSelection.SelectTop(scores, seen, count, keys, destination);
            Unmark(history, seen);
            destination[written..].Fill(-1);
        };
    }

    /// <summary>
    /// Converts a top-K key list to 0-based indices (−1 for a key 0 or out of range), removes seen items and keeps
    /// the first <paramref name="count"/>, padded with −1. Throws when the list is too short for the largest cutoff.
    /// </summary>
    private static RowRanker TopItemsRanker<T>(DataViewRowCursor cursor, DataViewSchema.Column column, UserSequences foldIn, int count)
        where T : unmanaged, IBinaryInteger<T>
    {
        int itemCount = foldIn.ItemCount;
        var getter = cursor.GetGetter<VBuffer<T>>(column);
        var buffer = default(VBuffer<T>);
        var dense = Array.Empty<T>();
        var seen = new bool[itemCount];
        return (row, destination) =>
        {
            getter(ref buffer);
            int length = buffer.Length;
            ReadOnlySpan<T> keys;
            if (buffer.IsDense)
            {
                keys = buffer.GetValues();
            }
            else
            {
                if (dense.Length < length)
                    dense = new T[length];
                buffer.CopyTo(dense.AsSpan(0, length));
                keys = dense.AsSpan(0, length);
            }

            var history = foldIn[row];
            int unseen = itemCount - Mark(history, seen);
            if (length < count && unseen > length)
            {
                Unmark(history, seen);
                throw new ArgumentOutOfRangeException(column.Name,
                    $"The top-items column '{column.Name}' holds {length} items in row {row}, fewer than the largest cutoff ({count}), " +
                    $"while that user has {unseen} unseen items. Have the model recommend at least {count} items per user, or lower the cutoffs.");
            }

            int written = 0;
            foreach (T value in keys)
            {
                if (written == count)
                    break;
                long key = long.CreateSaturating(value);
                int item = key >= 1 && key <= itemCount ? (int)(key - 1) : -1;
                if (item >= 0 && seen[item])
                    continue;
                destination[written++] = item;
            }
            Unmark(history, seen);
            destination[written..].Fill(-1);
        };
    }

    /// <summary>Sets the flags of <paramref name="items"/> and returns how many distinct items were set.</summary>
    private static int Mark(ReadOnlySpan<int> items, bool[] flags)
    {
        int distinct = 0;
        foreach (int item in items)
        {
            if (!flags[item])
            {
                flags[item] = true;
                distinct++;
            }
        }
        return distinct;
    }

    private static void Unmark(ReadOnlySpan<int> items, bool[] flags)
    {
        foreach (int item in items)
            flags[item] = false;
    }
}
