using Microsoft.ML.Data;

namespace Microsoft.ML.Svae.Tests.Serving;

/// <summary>
/// Raw ids in, raw ids out: the protocol keeps the ids' type (String, Int64, UInt32), a fitted model reads and writes
/// them, and its saved zip does so with plain POCOs (no SchemaDefinition) in a PredictionEngine.
/// </summary>
public class RawIdTests : IDisposable
{
    private readonly MLContext _ml = new(seed: 1);
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "svae-rawid-tests-" + Guid.NewGuid().ToString("N"));

    public RawIdTests() => Directory.CreateDirectory(_directory);

    public void Dispose()
    {
        Directory.Delete(_directory, recursive: true);
        GC.SuppressFinalize(this);
    }

    // Six users; item i of the list is in the histories of the first 6 - i users, so popularity is
    // C (6), A (5), E (4), B (3), D (2), F (1). The histories are in this order in time.
    private static readonly string[] Popularity = ["C", "A", "E", "B", "D", "F"];

    private static IEnumerable<(int User, int Item, long Time)> Events()
    {
        long time = 0;
        for (int u = 0; u < 6; u++)
            for (int i = 0; i < 6 - u; i++)
                yield return (u, i, time++);
    }

    private static readonly SequenceProtocolOptions AllUsersTrain = new()
    {
        RatingThreshold = null,
        MinItemsPerUser = 1,
        ValidationUsers = 0,
        TestUsers = 0,
    };

    private SequenceDataset Prepare<TUser, TItem>(Func<int, TUser> user, Func<string, TItem> item)
    {
        var rows = Events().Select(e => new EventRow<TUser, TItem> { UserId = user(e.User), ItemId = item(Popularity[e.Item]), Timestamp = e.Time });
        return _ml.Recommendation().Data.PrepareSequences(_ml.Data.LoadFromEnumerable(rows.ToList()), AllUsersTrain);
    }

    private string Save(ITransformer model, DataViewSchema schema)
    {
        string path = Path.Combine(_directory, Guid.NewGuid().ToString("N") + ".zip");
        _ml.Model.Save(model, schema, path);
        return path;
    }

    /// <summary>Loads a zip in a fresh context (as an app would) and scores histories through a PredictionEngine over plain POCOs.</summary>
    private static List<(T[] Items, float[] Scores)> ServeZip<T>(string path, params T[][] histories)
    {
        var ml = new MLContext();
        var model = ml.Model.Load(path, out _);
        try
        {
            using var engine = ml.Model.CreatePredictionEngine<HistoryInput<T>, Recommendation<T>>(model);
            return histories.Select(h => engine.Predict(new HistoryInput<T> { History = h })).Select(r => (r.TopItems, r.TopScores)).ToList();
        }
        finally
        {
            (model as IDisposable)?.Dispose();
        }
    }

    [Fact]
    public void SkuStringIdsRoundTripFromAnyDataViewThroughAPopZip()
    {
        var data = Prepare(u => $"user-{u}", sku => $"SKU-{sku}");
        Assert.Equal(TextDataViewType.Instance, data.ItemIdType);
        Assert.Equal(TextDataViewType.Instance, data.UserIdType);
        Assert.Equal(["SKU-A", "SKU-B", "SKU-C", "SKU-D", "SKU-E", "SKU-F"], data.GetItemIds<string>()); // keys in ordinal order
        Assert.Equal(Enumerable.Range(0, 6).Select(u => $"user-{u}"), data.GetUserIds<string>());
        var itemIdsError = Assert.Throws<InvalidOperationException>(() => data.ItemIds);
        Assert.Contains("GetItemIds<string>()", itemIdsError.Message);
        var vocabulary = data.ItemVocabulary.Transform(_ml.Data.LoadFromEnumerable(new[] { new ItemRow { ItemId = "SKU-C" }, new ItemRow { ItemId = "SKU-Z" } }));
        Assert.Equal([3u, 0u], vocabulary.GetColumn<uint>(InteractionColumns.ItemId));

        using var model = _ml.Recommendation().Trainers.Popularity(topK: 3).Fit(data.Train);
        Assert.Equal(TextDataViewType.Instance, model.ItemIdType);
        var served = ServeZip(Save(model, data.Train.Schema),
            ["SKU-C"],
            ["SKU-A", "NOT-A-SKU"],                               // unknown ids are ignored
            [],
            ["SKU-A", "SKU-B", "SKU-C", "SKU-D", "SKU-E"],        // one unseen item: the other places are empty
            ["NOT-A-SKU"]);
        Assert.Equal(["SKU-A", "SKU-E", "SKU-B"], served[0].Items);
        Assert.Equal([5f, 4f, 3f], served[0].Scores);
        Assert.Equal(["SKU-C", "SKU-E", "SKU-B"], served[1].Items);
        Assert.Equal(["SKU-C", "SKU-A", "SKU-E"], served[2].Items);
        Assert.Equal(["SKU-F", "", ""], served[3].Items);
        Assert.Equal([1f, float.NegativeInfinity, float.NegativeInfinity], served[3].Scores);
        Assert.Equal(served[2].Items, served[4].Items);
        Assert.Equal(served[2].Scores, served[4].Scores);
    }

    [Fact]
    public void SkuZipsServeInAProcessWithoutThisLibrary()
    {
        var data = Prepare(u => $"user-{u}", sku => $"SKU-{sku}");
        using var pop = _ml.Recommendation().Trainers.Popularity(topK: 3).Fit(data.Train);
        var served = ServingApp.Score(Save(pop, data.Train.Schema), [["SKU-C"], ["SKU-A", "NOT-A-SKU"]]);
        Assert.Equal(["SKU-A", "SKU-E", "SKU-B"], served[0].Items);
        Assert.Equal([5f, 4f, 3f], served[0].Scores);
        Assert.Equal(["SKU-C", "SKU-E", "SKU-B"], served[1].Items);

        // With a user column: the user's id prefixes the line.
        using var bpr = _ml.Recommendation().Trainers.Bpr(numberOfEpochs: 1).Fit(data.Train);
        var input = _ml.Data.LoadFromEnumerable(new[] { new UserHistoryInput { UserId = "user-2", History = ["SKU-C", "SKU-A"] } });
        var expected = _ml.Data.CreateEnumerable<Recommendation<string>>(bpr.Transform(input), reuseRowObject: false).Single();
        var servedBpr = ServingApp.Score(Save(bpr, data.Train.Schema), [["SKU-C", "SKU-A"]], ["user-2"]).Single();
        Assert.Equal(expected.TopItems, servedBpr.Items);
        Assert.Equal(expected.TopScores, servedBpr.Scores);
    }

    [Fact]
    public void SkusAlreadyMappedToKeysAreReadAsTheSkusBehindTheKeys()
    {
        var rows = Events().Select(e => new EventRow<uint, string> { UserId = (uint)e.User, ItemId = $"SKU-{Popularity[e.Item]}", Timestamp = e.Time }).ToList();
        var raw = _ml.Data.LoadFromEnumerable(rows);
        var keyed = _ml.Transforms.Conversion.MapValueToKey(InteractionColumns.ItemId).Fit(raw).Transform(raw); // keys in order of occurrence: C = 1
        var data = _ml.Recommendation().Data.PrepareSequences(keyed, AllUsersTrain);
        Assert.Equal(TextDataViewType.Instance, data.ItemIdType);
        Assert.Equal(["SKU-A", "SKU-B", "SKU-C", "SKU-D", "SKU-E", "SKU-F"], data.GetItemIds<string>());
        using var model = _ml.Recommendation().Trainers.Popularity(topK: 1).Fit(data.Train);
        Assert.Equal(["SKU-C"], ServeZip(Save(model, data.Train.Schema), ["SKU-F"])[0].Items);
    }

    [Fact]
    public void KeyOutputCarriesTheSkusAsKeyValuesSoMapKeyToValueWorks()
    {
        var data = Prepare(u => (uint)(100 + u), sku => $"SKU-{sku}");
        using var model = _ml.Recommendation().Trainers.Popularity(topK: 3).Fit(data.Train);
        var scored = model.Transform(data.Train);
        var topItems = scored.Schema[SequenceColumns.TopItems];
        Assert.Equal(new VectorDataViewType(new KeyDataViewType(typeof(uint), 6)), topItems.Type);
        var raw = _ml.Transforms.Conversion.MapKeyToValue("TopIds", SequenceColumns.TopItems).Fit(scored).Transform(scored);
        var lists = raw.GetColumn<VBuffer<ReadOnlyMemory<char>>>("TopIds").Select(v => v.DenseValues().Select(s => s.ToString()).ToArray()).ToList();
        // Training rows in raw user id order: user 100 saw every item (nothing left), user 105 saw C only.
        Assert.Equal(["", "", ""], lists[0]);
        Assert.Equal(["SKU-A", "SKU-E", "SKU-B"], lists[5]);
        // The input History keeps its type and annotation.
        Assert.Equal(data.Train.Schema[SequenceColumns.History].Type, scored.Schema[SequenceColumns.History].Type);
    }

    [Fact]
    public void Int64AndUInt32IdsRoundTripThroughAZipInTheirOwnType()
    {
        // Int64 ids beyond the UInt32 range, and negative ones.
        long Int64Id(string sku) => (sku[0] - 'A') % 2 == 0 ? 5_000_000_000L + sku[0] : -sku[0];
        var int64 = Prepare(u => (uint)u, Int64Id);
        Assert.Equal(NumberDataViewType.Int64, int64.ItemIdType);
        Assert.Equal(Popularity.Select(Int64Id).Order(), int64.GetItemIds<long>());
        using (var model = _ml.Recommendation().Trainers.Popularity(topK: 2).Fit(int64.Train))
        {
            var served = ServeZip(Save(model, int64.Train.Schema), [Int64Id("C"), 42L]);
            Assert.Equal([Int64Id("A"), Int64Id("E")], served[0].Items);
            Assert.Equal([5f, 4f], served[0].Scores);
        }

        uint UInt32Id(string sku) => (uint)(10 * sku[0]);
        var uint32 = Prepare(u => (uint)u, UInt32Id);
        Assert.Equal(NumberDataViewType.UInt32, uint32.ItemIdType);
        using (var model = _ml.Recommendation().Trainers.Popularity(topK: 2).Fit(uint32.Train))
        {
            var served = ServeZip(Save(model, uint32.Train.Schema), [UInt32Id("A"), 7u]);
            Assert.Equal([UInt32Id("C"), UInt32Id("E")], served[0].Items);
            // In process with keys, TopItems' key values have the type of the history's (once Int64 against UInt32).
            var scored = model.Transform(uint32.Train);
            Assert.Equal(new VectorDataViewType(NumberDataViewType.UInt32, 6), scored.Schema[SequenceColumns.TopItems].Annotations.Schema["KeyValues"].Type);
            Assert.Equal(uint32.Train.Schema[SequenceColumns.History].Annotations.Schema["KeyValues"].Type,
                scored.Schema[SequenceColumns.TopItems].Annotations.Schema["KeyValues"].Type);
        }
    }

    [Fact]
    public void TinySvaeServesSkusFromItsZipAsItDoesInProcess()
    {
        var data = Prepare(u => $"user-{u}", sku => $"SKU-{sku}");
        using var model = _ml.Recommendation().Trainers.Svae(numberOfEpochs: 2).Fit(data.Train);
        string[][] histories = [["SKU-C", "SKU-A"], ["SKU-F"], ["SKU-B", "unknown", "SKU-D", "SKU-E"]];

        // In process, item ids in: item ids out.
        var input = _ml.Data.LoadFromEnumerable(histories.Select(h => new HistoryInput<string> { History = h }).ToList());
        var inProcess = _ml.Data.CreateEnumerable<Recommendation<string>>(model.Transform(input), reuseRowObject: false).ToList();
        var served = ServeZip(Save(model, data.Train.Schema), histories);
        Assert.Equal(inProcess.Select(r => r.TopItems), served.Select(s => s.Items));
        Assert.Equal(inProcess.Select(r => r.TopScores), served.Select(s => s.Scores));
        for (int i = 0; i < histories.Length; i++)
        {
            var known = histories[i].Where(id => id.StartsWith("SKU-", StringComparison.Ordinal)).ToArray();
            Assert.Equal(6 - known.Length, served[i].Items.Count(id => id.Length > 0));
            Assert.Empty(served[i].Items.Intersect(known));
        }
    }

    [Fact]
    public void AKeyZipRejectsKeysOfAnotherVocabularyAndAnIdZipRejectsIdsOfAnotherType()
    {
        var data = Prepare(u => $"user-{u}", sku => $"SKU-{sku}");
        using var model = _ml.Recommendation().Trainers.Popularity(topK: 2).Fit(data.Train);

        // The key form, saved and loaded, takes keys of the training key type and rejects another key count.
        string keyZip = Save(model.AsKeyInputModel(), data.Train.Schema);
        var loaded = _ml.Model.Load(keyZip, out _);
        try
        {
            var same = loaded.Transform(data.Train);
            Assert.Equal(SequenceTestData.KeyColumn(model.Transform(data.Train), SequenceColumns.TopItems), SequenceTestData.KeyColumn(same, SequenceColumns.TopItems));
            var otherVocabulary = SequenceTestData.Histories(_ml, 9, [[1u, 2u]]);
            var error = Assert.Throws<InvalidOperationException>(() => loaded.Transform(otherVocabulary).Preview(1));
            Assert.Contains("column 'History'", error.Message);
            Assert.Contains("Key<UInt32, 0-5>", error.Message);
            Assert.Contains("Key<UInt32, 0-8>", error.Message);
        }
        finally
        {
            (loaded as IDisposable)?.Dispose();
        }

        // In process, the same mismatch names the counts.
        var inProcess = Assert.Throws<ArgumentOutOfRangeException>(() => model.Transform(SequenceTestData.Histories(_ml, 9, [[1u]])));
        Assert.Contains("has 9 item keys, but the model was trained on 6 items", inProcess.Message);

        // The id zip given Int64 ids when it knows String ids.
        var idModel = _ml.Model.Load(Save(model, data.Train.Schema), out _);
        try
        {
            var longs = _ml.Data.LoadFromEnumerable(new[] { new HistoryInput<long> { History = [1L] } });
            var error = Assert.Throws<InvalidOperationException>(() => idModel.Transform(longs).Preview(1));
            Assert.Contains("column 'History'", error.Message);
            Assert.Contains("'String'", error.Message);
        }
        finally
        {
            (idModel as IDisposable)?.Dispose();
        }

        // In process: a clear message with both accepted forms.
        var wrongType = Assert.Throws<ArgumentOutOfRangeException>(() => model.Transform(_ml.Data.LoadFromEnumerable(new[] { new HistoryInput<long> { History = [1L] } })));
        Assert.Contains("must be a vector of the model's item ids (Vector<Text>) or of its item keys (Vector<Key<UInt32>> with 6 keys), but its type is Vector<Int64>", wrongType.Message);
    }

    [Fact]
    public void ModelsWithUsersReadRawUserIdsWithRawItemIds()
    {
        var data = Prepare(u => $"user-{u}", sku => $"SKU-{sku}");
        using var model = _ml.Recommendation().Trainers.Bpr(numberOfEpochs: 1).Fit(data.Train);
        Assert.Equal(TextDataViewType.Instance, model.UserIdType);
        var input = _ml.Data.LoadFromEnumerable(new[]
        {
            new UserHistoryInput { UserId = "user-5", History = ["SKU-C"] },
            new UserHistoryInput { UserId = "nobody", History = ["SKU-C"] },
        });
        var inProcess = _ml.Data.CreateEnumerable<Recommendation<string>>(model.Transform(input), reuseRowObject: false).ToList();
        Assert.All(inProcess, r => Assert.DoesNotContain("SKU-C", r.TopItems));

        var ml = new MLContext();
        var loaded = ml.Model.Load(Save(model, data.Train.Schema), out _);
        try
        {
            using var engine = ml.Model.CreatePredictionEngine<UserHistoryInput, Recommendation<string>>(loaded);
            Assert.Equal(inProcess[0].TopItems, engine.Predict(new UserHistoryInput { UserId = "user-5", History = ["SKU-C"] }).TopItems);
            Assert.Equal(inProcess[1].TopScores, engine.Predict(new UserHistoryInput { UserId = "nobody", History = ["SKU-C"] }).TopScores);
        }
        finally
        {
            (loaded as IDisposable)?.Dispose();
        }
    }

    public sealed class EventRow<TUser, TItem>
    {
        public TUser UserId { get; set; } = default!;

        public TItem ItemId { get; set; } = default!;

        public long Timestamp { get; set; }
    }

    public sealed class ItemRow
    {
        public string ItemId { get; set; } = "";
    }

    public sealed class HistoryInput<T>
    {
        public T[] History { get; set; } = [];
    }

    public sealed class UserHistoryInput
    {
        public string UserId { get; set; } = "";

        public string[] History { get; set; } = [];
    }

    public sealed class Recommendation<T>
    {
        public T[] TopItems { get; set; } = [];

        public float[] TopScores { get; set; } = [];
    }
}
