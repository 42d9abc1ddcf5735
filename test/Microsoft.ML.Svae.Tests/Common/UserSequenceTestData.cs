using Microsoft.ML.Data;
using static TorchSharp.torch;

namespace Microsoft.ML.Svae.Tests.Common;

/// <summary>
/// In-memory sequence data with a user key column, for the models with per-user parameters (BPR, FPMC, Caser),
/// and the checks those models share.
/// </summary>
internal static class UserSequenceTestData
{
    /// <remarks>
    /// ML.NET's class-based data views hold a scalar key as its 0-based index (the key value minus 1; any
    /// value at or above the key count is the missing key 0), while key vectors hold the key values themselves.
    /// </remarks>
    public sealed class Row
    {
        public uint UserId { get; set; }
        public uint[] History { get; set; } = Array.Empty<uint>();
        public uint[] FoldOut { get; set; } = Array.Empty<uint>();
    }

    /// <summary>
    /// One row per (user key, history) with a <c>Key&lt;UInt32&gt;</c> user column of <paramref name="userCount"/> keys;
    /// user keys are 1-based, 0 is the missing key.
    /// </summary>
    public static IDataView Rows(MLContext mlContext, int itemCount, int userCount, IEnumerable<uint> users, IEnumerable<uint[]> histories,
        IEnumerable<uint[]>? foldOuts = null)
    {
        var definition = SchemaDefinition.Create(typeof(Row));
        var keyVector = new VectorDataViewType(new KeyDataViewType(typeof(uint), itemCount));
        definition[nameof(Row.History)].ColumnType = keyVector;
        definition[nameof(Row.FoldOut)].ColumnType = keyVector;
        definition[nameof(Row.UserId)].ColumnType = new KeyDataViewType(typeof(uint), userCount);
        var u = users.ToList();
        var h = histories.ToList();
        var f = foldOuts?.ToList() ?? h.Select(_ => Array.Empty<uint>()).ToList();
        var rows = Enumerable.Range(0, h.Count).Select(i => new Row { UserId = ClassKey(u[i]), History = h[i], FoldOut = f[i] }).ToList();
        return mlContext.Data.LoadFromEnumerable(rows, definition);
    }

    /// <summary>The class-based representation of a scalar key value (see <see cref="Row"/>).</summary>
    public static uint ClassKey(uint key) => key == 0 ? uint.MaxValue : key - 1;

    /// <summary>
    /// The protocol of section 5.3 on small data: training users get keys 1..T, held-out users T+1..T+H; the
    /// training view holds the training histories and the held-out fold-ins, the validation view the held-out
    /// users' fold-in and fold-out.
    /// </summary>
    public static (IDataView Train, IDataView Validation) Protocol(MLContext mlContext, int itemCount, List<uint[]> train,
        List<uint[]> heldOutFoldIn, List<uint[]> heldOutFoldOut)
    {
        int users = train.Count + heldOutFoldIn.Count;
        var trainKeys = Enumerable.Range(1, users).Select(k => (uint)k);
        var heldOutKeys = Enumerable.Range(train.Count + 1, heldOutFoldIn.Count).Select(k => (uint)k);
        return (Rows(mlContext, itemCount, users, trainKeys, train.Concat(heldOutFoldIn)),
                Rows(mlContext, itemCount, users, heldOutKeys, heldOutFoldIn, heldOutFoldOut));
    }

    /// <summary>Cyclic walks (<see cref="CycleData"/>) under the protocol: 120 training users and 40 held-out users with 2 fold-out items.</summary>
    public static (IDataView Train, IDataView Validation) CycleProtocol(MLContext mlContext, int itemCount, int seed = 1)
    {
        var train = CycleData.Walks(120, itemCount, 6, 14, seed);
        var (foldIn, foldOut) = CycleData.Split(CycleData.Walks(40, itemCount, 6, 14, seed + 1), 2);
        return Protocol(mlContext, itemCount, train, foldIn, foldOut);
    }

    /// <summary>
    /// Users in <paramref name="groups"/> groups, each liking a disjoint block of items (user u in group u mod G),
    /// with histories of random items of their block in random order: popularity is flat, only the user matters.
    /// </summary>
    public static (IDataView Train, IDataView Validation) GroupProtocol(MLContext mlContext, int itemCount, int groups, int seed = 1)
    {
        var random = new Random(seed);
        int block = itemCount / groups;
        uint[] Draw(int user, int count) => Enumerable.Range(0, block).OrderBy(_ => random.Next()).Take(count)
            .Select(i => (uint)((user % groups) * block + i + 1)).ToArray();
        var train = Enumerable.Range(0, 90).Select(u => Draw(u, 6)).ToList();
        var heldOut = Enumerable.Range(90, 30).Select(u => Draw(u, 8)).ToList();
        return Protocol(mlContext, itemCount, train, heldOut.Select(h => h[..5]).ToList(), heldOut.Select(h => h[5..]).ToList());
    }

    /// <summary>
    /// The ONNX graph of <paramref name="model"/> against the TorchSharp forward pass of <paramref name="network"/>:
    /// logits within 1e-4 on unseen items, seen items at −∞, identical top-K — for known users, a history with
    /// unknown item keys, an empty history, the missing user key 0 and a key above the training user count.
    /// </summary>
    public static void AssertOnnxMatchesNetwork(MLContext mlContext, RecommendationTransformer model, IUserScoringNetwork network,
        int itemCount, int userCount)
    {
        var cases = new List<(uint User, uint[] History)>
        {
            (1, new uint[] { 5 }),
            (2, new uint[] { 3, 4, 5, 6, 9 }),
            (3, Enumerable.Range(0, 300).Select(i => (uint)(i % itemCount + 1)).ToArray()),
            (4, new uint[] { 0, 7, 0, 8 }),          // unknown item keys (0) are dropped inside the graph
            (5, Array.Empty<uint>()),                // empty history
            ((uint)userCount, new uint[] { 2, 3 }),  // the last known user
            (0, new uint[] { 3, 4 }),                // the missing user key
            ((uint)userCount + 3, new uint[] { 3, 4 }), // a key above the training user count
            (0, new uint[] { 0 }),                   // unknown user, no known item
        };
        // The scoring data's user key type is wider than the training data's, so it can hold unknown keys.
        var view = Rows(mlContext, itemCount, userCount + 5, cases.Select(c => c.User), cases.Select(c => c.History));
        var output = model.Transform(view);
        var scores = SequenceTestData.FloatColumn(output, SequenceColumns.Scores);
        var top = SequenceTestData.KeyColumn(output, SequenceColumns.TopItems);
        int topK = model.TopK;

        for (int c = 0; c < cases.Count; c++)
        {
            var (userKey, history) = cases[c];
            var items = history.Where(k => k > 0 && k <= itemCount).Select(k => (long)k - 1).ToArray();
            long user = userKey == 0 || userKey > userCount ? -1 : userKey - 1;
            float[] logits;
            using (var scope = NewDisposeScope())
            using (var noGrad = no_grad())
            {
                var itemTensor = items.Length == 0 ? zeros(1, 1, ScalarType.Int64) : tensor(items).unsqueeze(0);
                logits = network.Score(tensor(new[] { user }), itemTensor, tensor(new long[] { items.Length })).squeeze(0).data<float>().ToArray();
            }
            for (int i = 0; i < itemCount; i++)
            {
                if (items.Contains(i))
                    Assert.Equal(float.NegativeInfinity, scores[c][i]);
                else
                    Assert.True(Math.Abs(logits[i] - scores[c][i]) < 1e-4, $"case {c}, item {i}: torch {logits[i]} vs onnx {scores[c][i]}");
            }
            var expectedTop = Enumerable.Range(0, itemCount).Where(i => !items.Contains(i))
                .OrderByDescending(i => logits[i]).ThenBy(i => i).Take(topK).Select(i => (uint)(i + 1)).ToList();
            while (expectedTop.Count < topK) expectedTop.Add(0);
            Assert.Equal(expectedTop, top[c]);
        }
    }

    /// <summary>
    /// Saves <paramref name="model"/>, scores (user, history) pairs with it in a separate process that has neither
    /// this library nor TorchSharp, and checks the recommendations are those of the in-process model.
    /// </summary>
    public static void AssertServedIdentically(MLContext mlContext, RecommendationTransformer model, DataViewSchema trainSchema,
        int itemCount, int userCount, IReadOnlyList<(uint User, uint[] History)> cases)
        => ServingApp.AssertServedIdentically(mlContext, model, trainSchema,
            Rows(mlContext, itemCount, userCount, cases.Select(c => c.User), cases.Select(c => c.History)),
            cases.Select(c => c.History), cases.Select(c => c.User));

    /// <summary>A view with the history but no user column, and one whose user column is not a key.</summary>
    public static (IDataView Missing, IDataView WrongType) BadUserColumns(MLContext mlContext, int itemCount)
    {
        var missing = SequenceTestData.Histories(mlContext, itemCount, new[] { new uint[] { 1, 2, 3 } });
        var definition = SchemaDefinition.Create(typeof(FloatUserRow));
        definition[nameof(FloatUserRow.History)].ColumnType = new VectorDataViewType(new KeyDataViewType(typeof(uint), itemCount));
        var wrong = mlContext.Data.LoadFromEnumerable(new[] { new FloatUserRow { UserId = 1, History = new uint[] { 1, 2, 3 } } }, definition);
        return (missing, wrong);
    }

    /// <summary>The schema shape of a schema (ML.NET keeps <c>SchemaShape.Create</c> internal; tests reach it by reflection).</summary>
    public static SchemaShape ShapeOf(DataViewSchema schema)
        => (SchemaShape)typeof(SchemaShape).GetMethod("Create", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!
            .Invoke(null, new object[] { schema })!;

    public sealed class FloatUserRow
    {
        public float UserId { get; set; }
        public uint[] History { get; set; } = Array.Empty<uint>();
    }
}
