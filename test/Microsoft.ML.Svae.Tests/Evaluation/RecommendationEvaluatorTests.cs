using Microsoft.Data.Analysis;
using Microsoft.ML.Data;

namespace Microsoft.ML.Svae.Tests.Evaluation;

public class RecommendationEvaluatorTests
{
    private const double Tolerance = 1e-12;
    private static readonly MLContext Ml = new(seed: 0);

    // ---------- helpers ----------

    private static UserSequences Sequences(int itemCount, params int[][] users)
    {
        var offsets = new int[users.Length + 1];
        for (int u = 0; u < users.Length; u++)
            offsets[u + 1] = offsets[u] + users[u].Length;
        return new UserSequences(itemCount, offsets, users.SelectMany(x => x).ToArray());
    }

    /// <summary>0-based item indices to 1-based keys.</summary>
    private static uint[] Keys(params int[] items) => items.Select(i => (uint)(i + 1)).ToArray();

    private sealed class KeyRow
    {
        public uint UserId { get; set; }
        public uint[] History { get; set; } = [];
        public uint[] FoldOut { get; set; } = [];
        public uint[] TopItems { get; set; } = [];
        public float[] Scores { get; set; } = [];
    }

    private sealed class Int64TopItemsRow
    {
        public uint[] History { get; set; } = [];
        public uint[] FoldOut { get; set; } = [];
        public long[] TopItems { get; set; } = [];
    }

    private sealed class WrongTypesRow
    {
        public uint[] History { get; set; } = [];
        public uint[] FoldOut { get; set; } = [];
        public float[] TopItems { get; set; } = [];
        public double[] Scores { get; set; } = [];
    }

    private static SchemaDefinition ItemKeyColumns<T>(int itemCount, params string[] columns)
    {
        var definition = SchemaDefinition.Create(typeof(T));
        foreach (string column in columns)
            definition[column].ColumnType = new VectorDataViewType(new KeyDataViewType(typeof(uint), itemCount));
        return definition;
    }

    private static IDataView KeyView(int itemCount, IEnumerable<KeyRow> rows) =>
        Ml.Data.LoadFromEnumerable(rows, ItemKeyColumns<KeyRow>(itemCount, "History", "FoldOut", "TopItems"));

    private static double Log2Discount(int rank1) => 1 / Math.Log2(rank1 + 1);

    // ---------- the array path (trainers' validation) ----------

    // Three users over 12 items, cutoffs 2 and 5:
    // user 0: fold-in {0, 1}, fold-out {5, 6}, top-5 [0, 5, 7, 6, 8] -> seen item 0 removed -> [5, 7, 6, 8]:
    //         hits at ranks 1 and 3. NDCG@2 = 1 / (1 + 1/log2 3); NDCG@5 = (1 + 1/log2 4) / (1 + 1/log2 3);
    //         Recall@2 = 1/2, Recall@5 = 2/2; Precision@2 = 1/2, Precision@5 = 2/5.
    // user 1: empty fold-out -> skipped.
    // user 2: fold-in {}, fold-out {3}, top-5 [3, 0, 1, 2, 4]: NDCG = Recall = 1; Precision@2 = 1/2, @5 = 1/5.
    private static readonly int[][] HandFoldIn = [[0, 1], [2], []];
    private static readonly int[][] HandFoldOut = [[5, 6], [], [3]];
    private static readonly int[] HandTopItems = [0, 5, 7, 6, 8, /**/ 1, 2, 3, 4, 5, /**/ 3, 0, 1, 2, 4];
    private static readonly double User0Ndcg2 = 1 / (1 + 1 / Math.Log2(3));
    private static readonly double User0Ndcg5 = (1 + 1 / Math.Log2(4)) / (1 + 1 / Math.Log2(3));

    private static void AssertHandCase(RecommendationMetrics metrics)
    {
        Assert.Equal([2, 5], metrics.Cutoffs);
        Assert.Equal(2, metrics.UserCount);
        Assert.Equal(1, metrics.SkippedUsers);
        Assert.Equal((User0Ndcg2 + 1) / 2, metrics.Ndcg(2), Tolerance);
        Assert.Equal((User0Ndcg5 + 1) / 2, metrics.Ndcg(5), Tolerance);
        Assert.Equal((0.5 + 1) / 2, metrics.Recall(2), Tolerance);
        Assert.Equal((1.0 + 1) / 2, metrics.Recall(5), Tolerance);
        Assert.Equal((0.5 + 0.5) / 2, metrics.Precision(2), Tolerance);
        Assert.Equal((0.4 + 0.2) / 2, metrics.Precision(5), Tolerance);
    }

    [Fact]
    public void ComputeMatchesTheHandCaseWithSeenItemsRemovedAndEmptyFoldOutsSkipped()
    {
        var metrics = RecommendationEvaluator.Compute(HandTopItems, 5,
            Sequences(12, HandFoldIn), Sequences(12, HandFoldOut), [5, 2]);

        AssertHandCase(metrics);
        Assert.Equal(
            ["NDCG@2", "NDCG@5", "Recall@2", "Recall@5", "Precision@2", "Precision@5"],
            metrics.Means.Keys);
        Assert.Equal(metrics.Ndcg(5), metrics.Means["NDCG@5"]);
        Assert.StartsWith("NDCG@2 0.8066 NDCG@5 ", metrics.ToString());
        Assert.EndsWith("(2 users, 1 skipped)", metrics.ToString());
    }

    [Fact]
    public void PerUserTableHasOneRowPerEvaluatedUser()
    {
        var metrics = RecommendationEvaluator.Compute(HandTopItems, 5,
            Sequences(12, HandFoldIn), Sequences(12, HandFoldOut), [2, 5]);

        DataFrame perUser = metrics.PerUser;

        Assert.Equal(
            ["User", "HistoryLength", "FoldOutSize", "NDCG@2", "NDCG@5", "Recall@2", "Recall@5", "Precision@2", "Precision@5"],
            perUser.Columns.Select(c => c.Name));
        Assert.Equal(2, perUser.Rows.Count);
        Assert.Equal([0L, 2L], perUser["User"].Cast<long>());   // row indices; user 1 was skipped
        Assert.Equal([2, 0], perUser["HistoryLength"].Cast<int>());
        Assert.Equal([2, 1], perUser["FoldOutSize"].Cast<int>());
        Assert.Equal(User0Ndcg2, (double)perUser["NDCG@2"][0]!, Tolerance);
        Assert.Equal(1.0, (double)perUser["NDCG@5"][1]!, Tolerance);
        Assert.Equal(0.4, (double)perUser["Precision@5"][0]!, Tolerance);
    }

    [Fact]
    public void ComputeRejectsListsShorterThanTheLargestCutoff()
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => RecommendationEvaluator.Compute(
            new int[3 * 5], 5, Sequences(12, HandFoldIn), Sequences(12, HandFoldOut), [10, 100]));

        Assert.Equal("k", error.ParamName);
        Assert.Contains("k = 5", error.Message);
        Assert.Contains("largest cutoff (100)", error.Message);
    }

    [Fact]
    public void AskingForAnUncomputedCutoffNamesTheCutoffs()
    {
        var metrics = RecommendationEvaluator.Compute(HandTopItems, 5,
            Sequences(12, HandFoldIn), Sequences(12, HandFoldOut), [2, 5]);

        var error = Assert.Throws<ArgumentOutOfRangeException>(() => metrics.Ndcg(10));
        Assert.Contains("2, 5", error.Message);
    }

    [Fact]
    public void HistoryLengthBucketsHaveTheRightRows()
    {
        // Fold-in lengths 3, 9, 10, 25 and 400 (items repeat); every user hits its only fold-out item at rank 1
        // except the one with length 10, which has no hit.
        int[] lengths = [3, 9, 10, 25, 400];
        int[][] foldIn = lengths.Select(n => Enumerable.Repeat(0, n).ToArray()).ToArray();
        int[][] foldOut = [[1], [1], [1], [1], [1]];
        int[] top = [1, 2, /**/ 1, 2, /**/ 2, 3, /**/ 1, 2, /**/ 1, 2];

        var metrics = RecommendationEvaluator.Compute(top, 2, Sequences(4, foldIn), Sequences(4, foldOut), [1]);
        DataFrame buckets = metrics.ByHistoryLength;

        Assert.Equal(["Bucket", "Users", "NDCG@1", "Recall@1", "Precision@1"], buckets.Columns.Select(c => c.Name));
        Assert.Equal(["[0,10)", "[10,20)", "[20,40)", "[40,80)", "[80,160)", "[160,320)", "[320,inf)"], buckets["Bucket"].Cast<string>());
        Assert.Equal([2, 1, 1, 0, 0, 0, 1], buckets["Users"].Cast<int>());
        Assert.Equal([1.0, 0.0, 1.0, null, null, null, 1.0], buckets["NDCG@1"].Cast<double?>());

        var custom = RecommendationEvaluator.Compute(top, 2, Sequences(4, foldIn), Sequences(4, foldOut), [1], historyLengthBucketEdges: [5, 50]);
        Assert.Equal([0, 5, 50], custom.HistoryLengthBucketEdges);
        Assert.Equal(["[0,5)", "[5,50)", "[50,inf)"], custom.ByHistoryLength["Bucket"].Cast<string>());
        Assert.Equal([1, 3, 1], custom.ByHistoryLength["Users"].Cast<int>());
        Assert.Equal([1.0, 2.0 / 3, 1.0], custom.ByHistoryLength["NDCG@1"].Cast<double?>());
    }

    // ---------- the IDataView path ----------

    [Fact]
    public void EvaluateFromTopItemKeysMatchesTheHandCase()
    {
        var rows = Enumerable.Range(0, 3).Select(u => new KeyRow
        {
            UserId = (uint)(100 + u),
            History = Keys(HandFoldIn[u]),
            FoldOut = Keys(HandFoldOut[u]),
            TopItems = Keys(HandTopItems[(u * 5)..(u * 5 + 5)]),
        });

        var metrics = RecommendationEvaluator.Evaluate(KeyView(12, rows), new RecommendationEvaluatorOptions { Cutoffs = [2, 5] });

        AssertHandCase(metrics);
        Assert.Equal([100L, 102L], metrics.PerUser["User"].Cast<long>()); // the UserId column is used when present
    }

    [Fact]
    public void ScoreVectorRanksTiesByLowerIndexAndExcludesSeenItems()
    {
        // Item 0 (seen) scores highest; items 2, 3 and 5 tie at 0.7. Lower index first gives [2, 3, 5, 1, 4],
        // so the relevant item 2 is at rank 1 (a higher-index-first tie break, or not excluding item 0,
        // would put it lower).
        var row = new KeyRow { History = Keys(0), FoldOut = Keys(2), Scores = [0.9f, 0.5f, 0.7f, 0.7f, 0.1f, 0.7f] };

        var metrics = RecommendationEvaluator.Evaluate(KeyView(6, [row]), new RecommendationEvaluatorOptions
        {
            ScoreColumnName = "Scores", // takes precedence over the (empty) default TopItems column
            Cutoffs = [1],
        });

        Assert.Equal(1.0, metrics.Ndcg(1));
        Assert.Equal(1.0, metrics.Precision(1));
    }

    [Fact]
    public void Int64TopItemsAreAcceptedAndInvalidKeysAreMisses()
    {
        // Keys: 1 = item 0 (seen, removed), 0 (no item), 3 = item 2, 999 (out of range), 5 = item 4, -3 (invalid).
        // After removal: [none, 2, none, 4, ...] -> hits at ranks 2 and 4 of R = {2, 4}.
        var row = new Int64TopItemsRow { History = Keys(0), FoldOut = Keys(2, 4), TopItems = [1, 0, 3, 999, 5, -3] };
        var data = Ml.Data.LoadFromEnumerable([row], ItemKeyColumns<Int64TopItemsRow>(6, "History", "FoldOut"));

        var metrics = RecommendationEvaluator.Evaluate(data, "FoldOut", "History", "TopItems", null, [4]);

        Assert.Equal((Log2Discount(2) + Log2Discount(4)) / (Log2Discount(1) + Log2Discount(2)), metrics.Ndcg(4), Tolerance);
        Assert.Equal(1.0, metrics.Recall(4));
        Assert.Equal(0.5, metrics.Precision(4));
    }

    [Fact]
    public void ShortTopItemListsAreRejectedOnlyWhenMoreUnseenItemsExist()
    {
        var tooShort = new KeyRow { History = [], FoldOut = Keys(1), TopItems = Keys(0, 1, 2) };
        var error = Assert.Throws<ArgumentOutOfRangeException>(() =>
            RecommendationEvaluator.Evaluate(KeyView(12, [tooShort]), "FoldOut", "History", "TopItems", null, [5]));
        Assert.Contains("'TopItems'", error.Message);
        Assert.Contains("holds 3 items", error.Message);
        Assert.Contains("largest cutoff (5)", error.Message);

        // Four items, one seen: the three unseen ones are a complete ranking.
        var complete = new KeyRow { History = Keys(3), FoldOut = Keys(1), TopItems = Keys(0, 1, 2) };
        var metrics = RecommendationEvaluator.Evaluate(KeyView(4, [complete]), "FoldOut", "History", "TopItems", null, [5]);
        Assert.Equal(0.2, metrics.Precision(5), Tolerance);
    }

    [Fact]
    public void WrongColumnTypesNameTheColumnAndTheExpectedType()
    {
        var row = new WrongTypesRow { History = Keys(0), FoldOut = Keys(1), TopItems = [1f], Scores = [1.0] };
        var data = Ml.Data.LoadFromEnumerable([row], ItemKeyColumns<WrongTypesRow>(4, "History", "FoldOut"));

        var topItems = Assert.Throws<ArgumentOutOfRangeException>(() =>
            RecommendationEvaluator.Evaluate(data, "FoldOut", "History", "TopItems", null, [1]));
        Assert.Contains("'TopItems'", topItems.Message);
        Assert.Contains("Vector<Key<UInt32>>", topItems.Message);
        Assert.Contains("Vector<Single>", topItems.Message);

        var scores = Assert.Throws<ArgumentOutOfRangeException>(() =>
            RecommendationEvaluator.Evaluate(data, "FoldOut", "History", null, "Scores", [1]));
        Assert.Contains("'Scores'", scores.Message);
        Assert.Contains("Vector<Double>", scores.Message);

        var plainKeys = Ml.Data.LoadFromEnumerable([row], ItemKeyColumns<WrongTypesRow>(4, "History"));
        var foldOut = Assert.Throws<ArgumentOutOfRangeException>(() =>
            RecommendationEvaluator.Evaluate(plainKeys, "FoldOut", "History", null, "Scores", [1]));
        Assert.Contains("'FoldOut'", foldOut.Message);
        Assert.Contains("Key<UInt32>", foldOut.Message);

        var missing = Assert.Throws<ArgumentOutOfRangeException>(() =>
            RecommendationEvaluator.Evaluate(data, "FoldOut", "History", "Recommendations", null, [1]));
        Assert.Contains("'Recommendations'", missing.Message);
    }

    [Fact]
    public void UserIdsComeFromTheKeyValuesOfAKeyColumn()
    {
        var definition = ItemKeyColumns<KeyRow>(4, "History", "FoldOut", "TopItems");
        definition["UserId"].ColumnType = new KeyDataViewType(typeof(uint), 3);
        definition["UserId"].AddAnnotation("KeyValues", new VBuffer<uint>(3, [70u, 80u, 90u]),
            new VectorDataViewType(NumberDataViewType.UInt32, 3));
        // LoadFromEnumerable reads a scalar key field as 0-based (it stores value + 1): 2 is key 3, 0 is key 1.
        KeyRow[] rows =
        [
            new() { UserId = 2, FoldOut = Keys(1), TopItems = Keys(1) },
            new() { UserId = 0, FoldOut = Keys(2), TopItems = Keys(1) },
        ];

        var metrics = RecommendationEvaluator.Evaluate(Ml.Data.LoadFromEnumerable(rows, definition), new RecommendationEvaluatorOptions { Cutoffs = [1] });

        Assert.Equal([90L, 70L], metrics.PerUser["User"].Cast<long>());
        Assert.Equal(0.5, metrics.Ndcg(1));
    }

    [Fact]
    public void ScoreColumnTopItemColumnAndArraysAgreeWithANaiveReference()
    {
        const int itemCount = 30, userCount = 40;
        int[] cutoffs = [5, 20];
        var random = new Random(7);
        var rows = new List<KeyRow>();
        var foldIns = new int[userCount][];
        var foldOuts = new int[userCount][];
        var rankings = new int[userCount][];
        for (int u = 0; u < userCount; u++)
        {
            foldIns[u] = Enumerable.Range(0, random.Next(0, 16)).Select(_ => random.Next(itemCount)).ToArray();
            foldOuts[u] = Enumerable.Range(0, random.Next(0, 7)).Select(_ => random.Next(itemCount)).ToArray(); // may be empty, repeat, overlap the fold-in
            float[] scores = Enumerable.Range(0, itemCount).Select(_ => random.Next(10) / 10f).ToArray();
            var seen = foldIns[u].ToHashSet();
            rankings[u] = Enumerable.Range(0, itemCount).Where(i => !seen.Contains(i))
                .OrderByDescending(i => scores[i]).ThenBy(i => i).Take(cutoffs[^1]).ToArray();
            // The top-items list starts with a seen item (if any), which the evaluator must drop.
            int[] list = foldIns[u].Length > 0 ? [foldIns[u][0], .. rankings[u]] : rankings[u];
            rows.Add(new KeyRow { History = Keys(foldIns[u]), FoldOut = Keys(foldOuts[u]), TopItems = Keys(list), Scores = scores });
        }
        var topItems = new int[userCount * cutoffs[^1]];
        Array.Fill(topItems, -1);
        for (int u = 0; u < userCount; u++)
            rankings[u].CopyTo(topItems, u * cutoffs[^1]);

        var data = KeyView(itemCount, rows);
        // No user ids: users are reported by row index, as by the array path.
        var fromScores = RecommendationEvaluator.Evaluate(data, new RecommendationEvaluatorOptions { ScoreColumnName = "Scores", Cutoffs = cutoffs, UserIdColumnName = null });
        var fromTopItems = RecommendationEvaluator.Evaluate(data, new RecommendationEvaluatorOptions { Cutoffs = cutoffs, UserIdColumnName = null });
        var fromArrays = RecommendationEvaluator.Compute(topItems, cutoffs[^1], Sequences(itemCount, foldIns), Sequences(itemCount, foldOuts), cutoffs);

        // Naive reference, straight from the definitions.
        var expected = new Dictionary<string, List<double>>();
        int skipped = 0;
        for (int u = 0; u < userCount; u++)
        {
            var relevant = foldOuts[u].ToHashSet();
            if (relevant.Count == 0) { skipped++; continue; }
            foreach (int n in cutoffs)
            {
                int[] top = rankings[u].Take(n).ToArray();
                double dcg = Enumerable.Range(0, top.Length).Where(i => relevant.Contains(top[i])).Sum(i => Log2Discount(i + 1));
                double idcg = Enumerable.Range(1, Math.Min(relevant.Count, n)).Sum(Log2Discount);
                int hits = top.Count(relevant.Contains);
                Add($"NDCG@{n}", dcg / idcg);
                Add($"Recall@{n}", hits / (double)relevant.Count);
                Add($"Precision@{n}", hits / (double)n);
            }
        }
        void Add(string key, double value) => (expected.TryGetValue(key, out var list) ? list : expected[key] = []).Add(value);

        Assert.True(skipped > 0 && skipped < userCount);
        foreach (var metrics in new[] { fromScores, fromTopItems, fromArrays })
        {
            Assert.Equal(userCount - skipped, metrics.UserCount);
            Assert.Equal(skipped, metrics.SkippedUsers);
            Assert.Equal(expected.Keys.Order(), metrics.Means.Keys.Order());
            foreach (var (name, values) in expected)
            {
                Assert.Equal(values.Average(), metrics.Means[name], Tolerance);
                Assert.Equal(values, metrics.PerUser[name].Cast<double>(), (a, b) => Math.Abs(a - b) < Tolerance);
            }
            Assert.Equal(fromArrays.PerUser["User"].Cast<long>(), metrics.PerUser["User"].Cast<long>());
            Assert.Equal(fromArrays.PerUser["HistoryLength"].Cast<int>(), metrics.PerUser["HistoryLength"].Cast<int>());
            Assert.Equal(fromArrays.PerUser["FoldOutSize"].Cast<int>(), metrics.PerUser["FoldOutSize"].Cast<int>());
        }
    }
}
