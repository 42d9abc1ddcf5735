using Microsoft.ML.Data;
using static Microsoft.ML.Svae.Tests.Protocol.ProtocolTestData;

namespace Microsoft.ML.Svae.Tests.Protocol;

public class SequenceProtocolTests
{
    private readonly MLContext _ml = new(seed: 1);
    private readonly SequenceDataCatalog _data;

    public SequenceProtocolTests() => _data = new SequenceDataCatalog(_ml);

    // ------------------------------------------------------------------ binarization

    [Fact]
    public void BinarizeKeepsRatingsStrictlyAboveTheThreshold()
    {
        var view = Interactions(_ml, new (uint, uint, float, long)[] { (1, 1, 1, 0), (1, 2, 3, 1), (1, 3, 3.5f, 2), (1, 4, 4, 3), (1, 5, 5, 4), (1, 6, -2, 5), (1, 7, 3.0000002f, 6), (1, 8, 1e30f, 7) });
        var kept = Rows(_ml, _data.Binarize(view));
        // Negative ratings are ordinary low ratings; a huge finite rating is a positive (no scale is assumed).
        Assert.Equal(new uint[] { 3, 4, 5, 7, 8 }, kept.Select(r => r.ItemId));
        Assert.Equal(new uint[] { 4, 5, 8 }, Rows(_ml, _data.Binarize(view, threshold: 3.5f)).Select(r => r.ItemId));
    }

    [Fact]
    public void BinarizeWorksOnDoubleAndIntegerRatingsAndKeepsOtherColumns()
    {
        var doubles = _ml.Data.LoadFromEnumerable(new[] { 2.0, 3.0, 3.5, 4.0 }.Select((r, i) => new DoubleRatingRow { UserId = 1, ItemId = (uint)i, Rating = r, Timestamp = i }));
        Assert.Equal(new uint[] { 2, 3 }, _ml.Data.CreateEnumerable<DoubleRatingRow>(_data.Binarize(doubles), false).Select(r => r.ItemId));

        var integers = _ml.Data.LoadFromEnumerable(new[] { 1, 3, 4, 5 }.Select((r, i) => new IntRatingRow { UserId = 1, ItemId = (uint)i, Rating = r, Timestamp = i }));
        var filtered = _data.Binarize(integers);
        Assert.Equal(integers.Schema.Select(c => c.Name), filtered.Schema.Where(c => !c.IsHidden).Select(c => c.Name));
        Assert.Equal(new[] { 4, 5 }, _ml.Data.CreateEnumerable<IntRatingRow>(filtered, false).Select(r => r.Rating));
    }

    [Fact]
    public void BinarizeRejectsMissingAndNonNumericRatingColumns()
    {
        var view = Interactions(_ml, new (uint, uint, float, long)[] { (1, 1, 4, 0) });
        var missing = Assert.ThrowsAny<ArgumentException>(() => _data.Binarize(view, 3, "Score"));
        Assert.Contains("rating column 'Score' was not found", missing.Message);
        Assert.Contains("'Rating'", missing.Message);

        var text = _ml.Data.LoadFromEnumerable(new[] { new TextRatingRow { UserId = 1, ItemId = 1, Rating = "4", Timestamp = 0 } });
        var wrongType = Assert.ThrowsAny<ArgumentException>(() => _data.Binarize(text));
        Assert.Contains("must be numeric", wrongType.Message);
        Assert.Contains("Text", wrongType.Message);
    }

    // ------------------------------------------------------------------ grouping, filter, ordering

    [Fact]
    public void MinItemsPerUserDropsShortUsersAndReportsThem()
    {
        var rows = new List<(uint, uint, float, long)>();
        for (uint u = 1; u <= 6; u++)
            for (uint i = 1; i <= 3 + u; i++) // user u has 3 + u events: users 1 (4 events) is below 5
                rows.Add((u, i, 5, i));
        var dataset = _data.PrepareSequences(Interactions(_ml, rows), new SequenceProtocolOptions { ValidationUsers = 0, TestUsers = 0 });
        Assert.Equal(5, dataset.TrainUserCount);
        Assert.DoesNotContain(1u, dataset.UserIds);
        Assert.Equal(1, dataset.Report.UsersDroppedByMinimum);
        Assert.Equal(4, dataset.Report.EventsDroppedByMinimum);
        Assert.Equal(6, dataset.Report.UsersRead);

        var stricter = _data.PrepareSequences(Interactions(_ml, rows), new SequenceProtocolOptions { MinItemsPerUser = 8, ValidationUsers = 0, TestUsers = 0 });
        Assert.Equal(new uint[] { 5, 6 }, stricter.UserIds);
    }

    [Fact]
    public void HistoriesAreSortedByTimeAndTiesKeepInputOrder()
    {
        // Items by input row: 11 @100, 12 @50, 13 @100, 14 @100, 15 @20, 16 @100
        var rows = new (uint, uint, float, long)[] { (1, 11, 5, 100), (1, 12, 5, 50), (1, 13, 5, 100), (1, 14, 5, 100), (1, 15, 5, 20), (1, 16, 5, 100) };
        var dataset = _data.PrepareSequences(Interactions(_ml, rows), new SequenceProtocolOptions { ValidationUsers = 0, TestUsers = 0 });
        var row = Assert.Single(SequenceRows(dataset.Train));
        Assert.Equal(new uint[] { 15, 12, 11, 13, 14, 16 }, row.History.Select(k => dataset.ItemIds[(int)k - 1]));
        Assert.Equal(new long[] { 20, 50, 100, 100, 100, 100 }, row.Times);
    }

    [Fact]
    public void MaxHistoryLengthKeepsTheMostRecentEvents()
    {
        var rows = Enumerable.Range(1, 10).Select(i => (1u, (uint)(100 + i), 5f, (long)(1000 - i))).ToList(); // later rows are older
        var dataset = _data.PrepareSequences(Interactions(_ml, rows), new SequenceProtocolOptions { MaxHistoryLength = 4, ValidationUsers = 0, TestUsers = 0 });
        var row = Assert.Single(SequenceRows(dataset.Train));
        Assert.Equal(new uint[] { 104, 103, 102, 101 }, row.History.Select(k => dataset.ItemIds[(int)k - 1]));
        Assert.Equal(6, dataset.Report.EventsTruncatedByMaxHistoryLength);
        Assert.Equal(4, dataset.ItemCount);
    }

    // ------------------------------------------------------------------ user split and folds

    [Fact]
    public void UserSplitIsDisjointSeededAndSizedByCountOrFraction()
    {
        var interactions = Synthetic(_ml);
        var options = new SequenceProtocolOptions { RatingThreshold = 3, ValidationUsers = 40, TestUsers = 50 };
        var a = _data.PrepareSequences(interactions, options);
        var b = _data.PrepareSequences(interactions, options);
        int users = a.Report.UsersRead - a.Report.UsersDroppedByMinimum;

        Assert.Equal(0, a.Report.HeldOutUsersDropped);
        Assert.Equal(40, a.ValidationUserCount);
        Assert.Equal(50, a.TestUserCount);
        Assert.Equal(users - 90, a.TrainUserCount);
        Assert.Equal(a.UserCount, a.UserIds.Distinct().Count());
        Assert.Equal(a.UserIds, b.UserIds);

        var train = SequenceRows(a.Train).Select(r => a.UserIds[(int)r.User - 1]).ToHashSet();
        var validation = SequenceRows(a.Validation).Select(r => a.UserIds[(int)r.User - 1]).ToHashSet();
        var test = SequenceRows(a.Test).Select(r => a.UserIds[(int)r.User - 1]).ToHashSet();
        Assert.Empty(train.Intersect(validation));
        Assert.Empty(train.Intersect(test));
        Assert.Empty(validation.Intersect(test));

        var otherSeed = _data.PrepareSequences(interactions, new SequenceProtocolOptions { RatingThreshold = 3, ValidationUsers = 40, TestUsers = 50, Seed = 5 });
        Assert.NotEqual(test, SequenceRows(otherSeed.Test).Select(r => otherSeed.UserIds[(int)r.User - 1]).ToHashSet());

        var byFraction = _data.PrepareSequences(interactions, new SequenceProtocolOptions { RatingThreshold = 3, ValidationFraction = 0.1, TestFraction = 0.25 });
        Assert.Equal(0, byFraction.Report.HeldOutUsersDropped);
        Assert.Equal((int)Math.Round(0.25 * users, MidpointRounding.AwayFromZero), byFraction.TestUserCount);
        Assert.Equal((int)Math.Round(0.1 * users, MidpointRounding.AwayFromZero), byFraction.ValidationUserCount);
    }

    [Fact]
    public void TemporalFoldInPrecedesFoldOutWithEightyTwentySizes()
    {
        var dataset = _data.PrepareSequences(Synthetic(_ml), new SequenceProtocolOptions { RatingThreshold = 3, ValidationUsers = 40, TestUsers = 40 });
        Assert.True(dataset.ValidationUserCount > 30 && dataset.TestUserCount > 30);
        foreach (var (foldIn, foldInTimes, foldOut, foldOutTimes) in new[]
                 {
                     (dataset.ValidationFoldIn, dataset.ValidationFoldInTimestamps, dataset.ValidationFoldOut, dataset.ValidationFoldOutTimestamps),
                     (dataset.TestFoldIn, dataset.TestFoldInTimestamps, dataset.TestFoldOut, dataset.TestFoldOutTimestamps),
                 })
        {
            for (int u = 0; u < foldIn.Count; u++)
            {
                int n = foldIn.Length(u) + foldOut.Length(u);
                Assert.Equal((int)Math.Floor(0.8 * n + 1e-9), foldIn.Length(u));
                long lastIn = foldInTimes.AsSpan(foldIn.Offsets[u], foldIn.Length(u)).ToArray().Max();
                long firstOut = foldOutTimes.AsSpan(foldOut.Offsets[u], foldOut.Length(u)).ToArray().Min();
                Assert.True(lastIn <= firstOut, $"user {u}: fold-in ends at {lastIn} after fold-out starts at {firstOut}");
            }
        }
    }

    [Fact]
    public void TemporalFoldOutIsTheLastEventsInInputOrderWithinASecond()
    {
        // Every event of every user in the same second: the fold split must follow the input order.
        var rows = new List<(uint, uint, float, long)>();
        for (uint u = 1; u <= 20; u++)
            for (uint i = 1; i <= 10; i++)
                rows.Add((u, (u + i) % 12 + 1, 5, 500));
        var dataset = _data.PrepareSequences(Interactions(_ml, rows), new SequenceProtocolOptions { ValidationUsers = 3, TestUsers = 3 });
        foreach (var row in SequenceRows(dataset.Test))
        {
            uint u = dataset.UserIds[(int)row.User - 1];
            var expected = Enumerable.Range(1, 10).Select(i => (u + (uint)i) % 12 + 1).ToArray();
            Assert.Equal(expected[..8], row.History.Select(k => dataset.ItemIds[(int)k - 1]));
            Assert.Equal(expected[8..], row.FoldOut.Select(k => dataset.ItemIds[(int)k - 1]));
        }
    }

    [Theory]
    [InlineData(2, 1)]
    [InlineData(5, 4)]
    [InlineData(7, 5)]
    [InlineData(10, 8)]
    [InlineData(12, 9)]
    [InlineData(15, 12)]
    public void FoldInSizeIsFloorOfEightyPercentKeepingBothPartsNonEmpty(int n, int foldIn)
        => Assert.Equal(foldIn, new SequenceProtocolOptions().FoldInCount(n));

    [Fact]
    public void RandomFoldSplitIsSeededKeepsTimeOrderAndDiffersFromTemporal()
    {
        var interactions = Synthetic(_ml);
        var temporal = _data.PrepareSequences(interactions, new SequenceProtocolOptions { RatingThreshold = 3, ValidationUsers = 40, TestUsers = 40 });
        var random = new SequenceProtocolOptions { RatingThreshold = 3, ValidationUsers = 40, TestUsers = 40, FoldSplit = FoldSplit.Random };
        var a = _data.PrepareSequences(interactions, random);
        var b = _data.PrepareSequences(interactions, random);

        Assert.Equal(a.TestFoldOut.Items, b.TestFoldOut.Items);
        Assert.Equal(a.TestFoldIn.Items, b.TestFoldIn.Items);
        Assert.Equal(temporal.UserIds, a.UserIds); // same users, only the folds differ
        Assert.NotEqual(temporal.TestFoldOut.Items, a.TestFoldOut.Items);
        for (int u = 0; u < a.TestFoldIn.Count; u++)
        {
            Assert.Equal(temporal.TestFoldIn.Length(u), a.TestFoldIn.Length(u));
            var all = temporal.TestFoldIn[u].ToArray().Concat(temporal.TestFoldOut[u].ToArray()).Order();
            Assert.Equal(all, a.TestFoldIn[u].ToArray().Concat(a.TestFoldOut[u].ToArray()).Order());
            var times = a.TestFoldInTimestamps.AsSpan(a.TestFoldIn.Offsets[u], a.TestFoldIn.Length(u)).ToArray();
            Assert.Equal(times.Order(), times);
        }
        var otherSeed = _data.PrepareSequences(interactions, new SequenceProtocolOptions { RatingThreshold = 3, ValidationUsers = 40, TestUsers = 40, FoldSplit = FoldSplit.Random, Seed = 3 });
        Assert.NotEqual(a.UserIds, otherSeed.UserIds);
    }

    [Fact]
    public void VocabularyComesFromTrainingUsersAndUnknownHeldOutItemsAreDroppedAndCounted()
    {
        // Everyone shares items 1..6; user u also has the private item 1000 + u as their 3rd event.
        var rows = new List<(uint, uint, float, long)>();
        for (uint u = 1; u <= 30; u++)
        {
            for (uint i = 1; i <= 6; i++)
                rows.Add((u, i, 5, i * 10));
            rows.Add((u, 1000 + u, 5, 25));
        }
        var dataset = _data.PrepareSequences(Interactions(_ml, rows), new SequenceProtocolOptions { ValidationUsers = 5, TestUsers = 5 });
        var trainUsers = dataset.UserIds.Take(dataset.TrainUserCount).ToHashSet();
        var expectedItems = Enumerable.Range(1, 6).Select(i => (uint)i).Concat(trainUsers.Select(u => 1000 + u)).Order().ToArray();
        Assert.Equal(expectedItems, dataset.ItemIds);
        Assert.Equal(10, dataset.Report.HeldOutEventsDroppedUnknownItems);
        Assert.Equal(0, dataset.Report.HeldOutUsersDropped);
        foreach (var row in SequenceRows(dataset.Validation).Concat(SequenceRows(dataset.Test)))
        {
            Assert.Equal(new uint[] { 1, 2, 3, 4 }, row.History.Select(k => dataset.ItemIds[(int)k - 1]));
            Assert.Equal(new uint[] { 5, 6 }, row.FoldOut.Select(k => dataset.ItemIds[(int)k - 1]));
        }
    }

    [Fact]
    public void HeldOutUsersLeftWithFewerThanTwoKnownEventsAreDroppedAndCounted()
    {
        var rows = new List<(uint, uint, float, long)>();
        for (uint u = 1; u <= 20; u++)
            for (uint i = 0; i < 5; i++)
                rows.Add((u, u <= 10 ? 1 + i : 1000 * u + i, 5, i)); // users 11..20 only have private items
        var dataset = _data.PrepareSequences(Interactions(_ml, rows), new SequenceProtocolOptions { ValidationUsers = 4, TestUsers = 4 });
        int privateHeldOut = dataset.Report.HeldOutUsersDropped;
        Assert.Equal(8, dataset.ValidationUserCount + dataset.TestUserCount + privateHeldOut);
        Assert.Equal(5L * privateHeldOut, dataset.Report.HeldOutEventsDroppedUnknownItems);
        Assert.Equal(dataset.ValidationUserCount + dataset.TestUserCount + dataset.TrainUserCount, dataset.UserCount);
        Assert.All(dataset.UserIds.Skip(dataset.TrainUserCount), u => Assert.True(u <= 10));
    }

    // ------------------------------------------------------------------ output contract

    [Fact]
    public void ViewsHaveTheDocumentedTypesAndMatchTheInternalSequences()
    {
        var dataset = _data.PrepareSequences(Synthetic(_ml), new SequenceProtocolOptions { RatingThreshold = 3, ValidationUsers = 30, TestUsers = 30 });
        var history = dataset.Validation.Schema[SequenceColumns.History];
        var vector = Assert.IsType<VectorDataViewType>(history.Type);
        Assert.Equal(0, vector.Size);
        Assert.Equal((ulong)dataset.ItemCount, Assert.IsType<KeyDataViewType>(vector.ItemType).Count);
        Assert.Equal(typeof(uint), vector.ItemType.RawType);
        VBuffer<uint> keyValues = default;
        history.Annotations.GetValue("KeyValues", ref keyValues);
        Assert.Equal(dataset.ItemIds, keyValues.DenseValues());
        Assert.Equal((ulong)dataset.UserCount, Assert.IsType<KeyDataViewType>(dataset.Test.Schema[SequenceColumns.UserId].Type).Count);
        Assert.Equal(NumberDataViewType.Int64, Assert.IsType<VectorDataViewType>(dataset.Train.Schema[SequenceColumns.HistoryTimestamps].Type).ItemType);
        Assert.Null(dataset.Train.Schema.GetColumnOrNull(SequenceColumns.FoldOut));

        AssertSame(dataset.ValidationFoldIn, UserSequences.Read(dataset.Validation, SequenceColumns.History, "history"));
        AssertSame(dataset.ValidationFoldOut, UserSequences.Read(dataset.Validation, SequenceColumns.FoldOut, "fold-out"));
        AssertSame(dataset.TestFoldIn, UserSequences.Read(dataset.Test, SequenceColumns.History, "history"));
        AssertSame(dataset.TestFoldOut, UserSequences.Read(dataset.Test, SequenceColumns.FoldOut, "fold-out"));
        AssertSame(dataset.TrainSequences, UserSequences.Read(dataset.Train, SequenceColumns.History, "history"));

        var validationUsers = SequenceRows(dataset.Validation).Select(r => (int)r.User - 1).ToArray();
        Assert.Equal(Enumerable.Range(dataset.ValidationUserOffset, dataset.ValidationUserCount), validationUsers);
    }

    private static void AssertSame(UserSequences expected, UserSequences actual)
    {
        Assert.Equal(expected.ItemCount, actual.ItemCount);
        Assert.Equal(expected.Offsets, actual.Offsets);
        Assert.Equal(expected.Items, actual.Items);
    }

    [Fact]
    public void TrainWithHeldOutFoldInAppendsTheFoldIns()
    {
        var dataset = _data.PrepareSequences(Synthetic(_ml), new SequenceProtocolOptions { RatingThreshold = 3, ValidationUsers = 30, TestUsers = 30 });
        var combined = SequenceRows(dataset.TrainWithHeldOutFoldIn());
        Assert.Equal(dataset.UserCount, combined.Count);
        Assert.Equal(Enumerable.Range(1, dataset.UserCount).Select(k => (uint)k), combined.Select(r => r.User));
        var expected = SequenceRows(dataset.Train).Concat(SequenceRows(dataset.Validation)).Concat(SequenceRows(dataset.Test)).ToList();
        for (int i = 0; i < combined.Count; i++)
        {
            Assert.Equal(expected[i].History, combined[i].History);
            Assert.Equal(expected[i].Times, combined[i].Times);
        }
        Assert.Equal(dataset.TrainWithHeldOutFoldInSequences.EventCount, combined.Sum(r => r.History.Length));
    }

    [Fact]
    public void ItemVocabularyTransformerMapsRawIdsToTheDatasetKeys()
    {
        var dataset = _data.PrepareSequences(Synthetic(_ml), new SequenceProtocolOptions { RatingThreshold = 3, ValidationUsers = 30, TestUsers = 30 });
        uint unknown = dataset.ItemIds.Max() + 1;
        var raw = new[] { dataset.ItemIds[0], dataset.ItemIds[^1], dataset.ItemIds[7], unknown };
        var input = Interactions(_ml, raw.Select(i => (1u, i, 5f, 0L)));
        var mapped = dataset.ItemVocabulary.Transform(input);
        var column = mapped.Schema[InteractionColumns.ItemId];
        Assert.Equal((ulong)dataset.ItemCount, Assert.IsType<KeyDataViewType>(column.Type).Count);
        var keys = mapped.GetColumn<uint>(column).ToArray();
        Assert.Equal(new uint[] { 1, (uint)dataset.ItemCount, 8, 0 }, keys);
    }

    [Fact]
    public void ReaderArraysAndLoadFromEnumerableGiveTheSameDataset()
    {
        var generated = Synthetic(_ml, users: 120, items: 80);
        var viaEnumerable = _ml.Data.LoadFromEnumerable(Rows(_ml, generated));
        var options = new SequenceProtocolOptions { RatingThreshold = 3, ValidationUsers = 10, TestUsers = 10, MaxHistoryLength = 30 };
        var a = _data.PrepareSequences(generated, options);
        var b = _data.PrepareSequences(viaEnumerable, options);
        Assert.Equal(a.UserIds, b.UserIds);
        Assert.Equal(a.ItemIds, b.ItemIds);
        AssertSame(a.TrainSequences, b.TrainSequences);
        AssertSame(a.TestFoldOut, b.TestFoldOut);
        Assert.Equal(a.TrainTimestamps, b.TrainTimestamps);
        Assert.Equal(a.Report.ToString(), b.Report.ToString());
    }

    [Fact]
    public void ReportAccountsForEveryEvent()
    {
        var dataset = _data.PrepareSequences(Synthetic(_ml), new SequenceProtocolOptions { RatingThreshold = 3, ValidationUsers = 30, TestUsers = 30, MaxHistoryLength = 50 });
        var r = dataset.Report;
        Assert.True(r.EventsAfterBinarization < r.EventsRead);
        Assert.Equal(r.EventsAfterBinarization,
            r.EventsKept + r.EventsDroppedByMinimum + r.EventsTruncatedByMaxHistoryLength + r.HeldOutEventsDroppedUnknownItems + r.HeldOutEventsDroppedWithUsers);
        Assert.True(r.EventsTruncatedByMaxHistoryLength > 0);
        Assert.Contains("held-out events on unknown items dropped", r.ToString());
    }

    [Fact]
    public void TextIdsMappedToKeysAndDateTimeTimestampsAreAccepted()
    {
        var start = new DateTime(2003, 5, 1, 12, 0, 0, DateTimeKind.Utc);
        var rows = new List<TextIdDateRow>();
        foreach (var (user, offset) in new[] { ("bob", 0), ("alice", 100) })
            for (int i = 0; i < 6; i++) // inserted newest first: the protocol must sort them
                rows.Add(new TextIdDateRow { UserId = user, ItemId = (uint)(10 + i), Timestamp = start.AddMinutes(offset + 5 - i) });
        var raw = _ml.Data.LoadFromEnumerable(rows);
        var keyed = _ml.Transforms.Conversion.MapValueToKey(InteractionColumns.UserId).Fit(raw).Transform(raw);
        var dataset = _data.PrepareSequences(keyed, new SequenceProtocolOptions { ValidationUsers = 0, TestUsers = 0, RatingThreshold = null });
        // The raw ids behind the keys (the KeyValues), not the keys (bob = 1, alice = 2), are the user ids.
        Assert.Equal(TextDataViewType.Instance, dataset.UserIdType);
        Assert.Equal(["alice", "bob"], dataset.GetUserIds<string>());
        var train = SequenceRows(dataset.Train);
        Assert.Equal(new uint[] { 15, 14, 13, 12, 11, 10 }, train[0].History.Select(k => dataset.ItemIds[(int)k - 1]));
        long startSeconds = new DateTimeOffset(start).ToUnixTimeSeconds();
        Assert.Equal(Enumerable.Range(0, 6).Select(i => startSeconds + 6000L + 60L * i), train[0].Times); // alice: 100 minutes later
    }

    // ------------------------------------------------------------------ errors

    [Fact]
    public void WrongColumnTypesRaiseClearErrors()
    {
        var boolUsers = _ml.Data.LoadFromEnumerable(new[] { new BoolUserRow { UserId = true, ItemId = 1u, Rating = 4f, Timestamp = 0L } });
        var e = Assert.ThrowsAny<ArgumentException>(() => _data.PrepareSequences(boolUsers));
        Assert.Contains("The user id column 'UserId' must hold ids: Text (e.g. product SKUs), Int64, UInt32", e.Message);
        Assert.Contains("but its type is Boolean", e.Message);

        var textTimes = _ml.Data.LoadFromEnumerable(new[] { new TextTimeRow { UserId = 1u, ItemId = 1u, Rating = 4f, Timestamp = "yesterday" } });
        e = Assert.ThrowsAny<ArgumentException>(() => _data.PrepareSequences(textTimes));
        Assert.Contains("timestamp column 'Timestamp'", e.Message);

        var noItems = _ml.Data.LoadFromEnumerable(new[] { new MovieColumnRow { UserId = 1u, Movie = 1u, Rating = 4f, Timestamp = 0L } });
        e = Assert.ThrowsAny<ArgumentException>(() => _data.PrepareSequences(noItems));
        Assert.Contains("item id column 'ItemId' was not found", e.Message);

        var negative = _ml.Data.LoadFromEnumerable(new[] { new IntUserRow { UserId = 1, ItemId = 1u, Rating = 4f, Timestamp = 0L }, new IntUserRow { UserId = -2, ItemId = 1u, Rating = 4f, Timestamp = 0L } });
        var bad = Assert.Throws<InvalidDataException>(() => _data.PrepareSequences(negative));
        Assert.Contains("Row 1 (0-based) of the user id column 'UserId' has the value -2", bad.Message);
    }

    [Fact]
    public void EmptyAndDegenerateInputsRaiseClearErrors()
    {
        var empty = Interactions(_ml, Array.Empty<(uint, uint, float, long)>());
        var e = Assert.Throws<ArgumentException>(() => _data.PrepareSequences(empty));
        Assert.Contains("empty (0 rows)", e.Message);

        var lowRatings = Interactions(_ml, Enumerable.Range(0, 10).Select(i => (1u, (uint)i, 3f, (long)i)));
        var none = Assert.Throws<InvalidOperationException>(() => _data.PrepareSequences(lowRatings, new SequenceProtocolOptions { RatingThreshold = 3 }));
        Assert.Contains("No interaction has a rating greater than 3", none.Message);

        var few = Interactions(_ml, Enumerable.Range(0, 4).Select(i => (1u, (uint)i, 5f, (long)i)));
        var shortUsers = Assert.Throws<InvalidOperationException>(() => _data.PrepareSequences(few));
        Assert.Contains("MinItemsPerUser = 5", shortUsers.Message);

        var small = Interactions(_ml, Enumerable.Range(0, 30).Select(i => ((uint)(i / 5), (uint)i, 5f, (long)i)));
        var tooMany = Assert.Throws<InvalidOperationException>(() => _data.PrepareSequences(small, new SequenceProtocolOptions { ValidationUsers = 3, TestUsers = 3 }));
        Assert.Contains("Cannot hold out 3 validation and 3 test users: only 6 users", tooMany.Message);

        var badOption = Assert.Throws<ArgumentOutOfRangeException>(() => _data.PrepareSequences(small, new SequenceProtocolOptions { FoldOutFraction = 1 }));
        Assert.Contains("FoldOutFraction must be strictly between 0 and 1", badOption.Message);
    }
}
