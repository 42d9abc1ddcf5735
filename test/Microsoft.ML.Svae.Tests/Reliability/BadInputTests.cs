using System.Collections.Concurrent;
using Microsoft.ML.Data;
using Microsoft.ML.Svae.Protocol;
using static Microsoft.ML.Svae.Tests.Protocol.ProtocolTestData;

namespace Microsoft.ML.Svae.Tests.Reliability;

/// <summary>The rows of docs/RELIABILITY.md added with issue 12: bad inputs that used to pass silently or with a poor message.</summary>
public class BadInputTests
{
    private readonly MLContext _ml = new(seed: 1);

    public sealed class DoubleRating
    {
        public uint UserId { get; set; }

        public uint ItemId { get; set; }

        public double Rating { get; set; }

        public long Timestamp { get; set; }
    }

    public sealed class UInt64Time
    {
        public uint UserId { get; set; }

        public uint ItemId { get; set; }

        public float Rating { get; set; }

        public ulong Timestamp { get; set; }
    }

    public sealed class DoubleTime
    {
        public uint UserId { get; set; }

        public uint ItemId { get; set; }

        public float Rating { get; set; }

        public double Timestamp { get; set; }
    }

    private static IEnumerable<(uint, uint, float, long)> FiveItemsEach(int users, float rating = 5)
    {
        for (uint u = 1; u <= users; u++)
            for (uint i = 1; i <= 5; i++)
                yield return (u, i, rating, i);
    }

    // ------------------------------------------------------------------ ratings

    [Theory]
    [InlineData(float.PositiveInfinity, "+Infinity", "an infinite rating is most likely a bug upstream")]
    [InlineData(float.NegativeInfinity, "-Infinity", "an infinite rating is most likely a bug upstream")]
    [InlineData(float.NaN, "NaN", "NaN is a missing rating: remove such rows first (e.g. mlContext.Data.FilterRowsByMissingValues) or give them a rating")]
    public void NonFiniteRatingsAreAnErrorNamingTheRow(float bad, string shown, string hint)
    {
        var rows = FiveItemsEach(2).ToList();
        rows[6] = (2, 2, bad, 2);
        var view = Interactions(_ml, rows);
        string expected = $"Row 6 (0-based) of the rating column 'Rating' has the value {shown}, which is not a finite number; ratings must be finite ({hint}).";

        Assert.Equal(expected, Assert.Throws<InvalidDataException>(() => _ml.Recommendation().Data.Binarize(view)).Message);
        Assert.Equal(expected, Assert.Throws<InvalidDataException>(() => _ml.Recommendation().Data.PrepareSequences(view,
            new SequenceProtocolOptions { ValidationUsers = 0, TestUsers = 0 })).Message);

        // The readers' own array view (checked without a cursor) gives the same error.
        var table = new InteractionTable(rows.Count, rows.Select(r => r.Item1).ToArray(), rows.Select(r => r.Item2).ToArray(),
            rows.Select(r => r.Item3).ToArray(), rows.Select(r => r.Item4).ToArray());
        Assert.Equal(expected, Assert.Throws<InvalidDataException>(() => _ml.Recommendation().Data.Binarize(table.ToDataView())).Message);
    }

    [Fact]
    public void NonFiniteDoubleRatingsAreAnErrorAndHugeFiniteOnesArePositives()
    {
        var ratings = new[] { 4.0, 1e300, -1e300, 2.0, double.PositiveInfinity };
        var view = _ml.Data.LoadFromEnumerable(ratings.Select((r, i) => new DoubleRating { UserId = 1, ItemId = (uint)i + 1, Rating = r, Timestamp = i }));
        var error = Assert.Throws<InvalidDataException>(() => _ml.Recommendation().Data.Binarize(view));
        Assert.StartsWith("Row 4 (0-based) of the rating column 'Rating' has the value +Infinity", error.Message);

        var finite = _ml.Data.TakeRows(view, 4);
        var kept = _ml.Data.CreateEnumerable<DoubleRating>(_ml.Recommendation().Data.Binarize(finite), false).Select(r => r.ItemId);
        Assert.Equal(new uint[] { 1, 2 }, kept);
    }

    [Fact]
    public void RatingsAreNotReadWithoutARatingThreshold()
    {
        // Implicit data: RatingThreshold = null ignores the rating column, whatever it holds.
        var rows = FiveItemsEach(2).Select((r, i) => i == 3 ? (r.Item1, r.Item2, float.PositiveInfinity, r.Item4) : r);
        var dataset = _ml.Recommendation().Data.PrepareSequences(Interactions(_ml, rows),
            new SequenceProtocolOptions { RatingThreshold = null, ValidationUsers = 0, TestUsers = 0 });
        Assert.Equal(10, dataset.TrainSequences.EventCount);
    }

    [Fact]
    public void RowNumbersCountTheInputRowsEvenWhenBinarizationDropsSome()
    {
        var rows = Enumerable.Range(0, 4).Select(i => new Protocol.IntUserRow { UserId = 1, ItemId = (uint)i, Rating = 1, Timestamp = i }).ToList();
        rows.Add(new Protocol.IntUserRow { UserId = -2, ItemId = 9, Rating = 5, Timestamp = 9 });
        var error = Assert.Throws<InvalidDataException>(() => _ml.Recommendation().Data.PrepareSequences(_ml.Data.LoadFromEnumerable(rows)));
        Assert.Equal("Row 4 (0-based) of the user id column 'UserId' has the value -2, which is not a valid id (an integer between 0 and 4294967295).", error.Message);

        // Without a timestamp column the time is the input row index, dropped rows included.
        var ratings = new float[] { 5, 1, 5, 5, 5, 5 };
        var view = Interactions(_ml, ratings.Select((r, i) => (1u, (uint)i + 1, r, 0L)));
        var dataset = _ml.Recommendation().Data.PrepareSequences(view, new SequenceProtocolOptions { TimestampColumnName = null, ValidationUsers = 0, TestUsers = 0 });
        var row = Assert.Single(SequenceRows(dataset.Train));
        Assert.Equal(new long[] { 0, 2, 3, 4, 5 }, row.Times);
        Assert.Equal(6, dataset.Report.EventsRead);
        Assert.Equal(5, dataset.Report.EventsAfterBinarization);
    }

    // ------------------------------------------------------------------ timestamps

    [Fact]
    public void Int64MinValueTimestampIsAValidTimeThatSortsFirst()
    {
        var rows = FiveItemsEach(1).ToList();
        rows[2] = (1, 3, 5, long.MinValue);
        rows[4] = (1, 5, 5, long.MaxValue);
        var dataset = _ml.Recommendation().Data.PrepareSequences(Interactions(_ml, rows), new SequenceProtocolOptions { ValidationUsers = 0, TestUsers = 0 });
        var row = Assert.Single(SequenceRows(dataset.Train));
        Assert.Equal(new uint[] { 3, 1, 2, 4, 5 }, row.History.Select(k => dataset.ItemIds[(int)k - 1]));
        Assert.Equal(new[] { long.MinValue, 1, 2, 4, long.MaxValue }, row.Times);
    }

    [Fact]
    public void TimestampsOutsideInt64NameTheRowAndTheSignedValue()
    {
        var unsigned = _ml.Data.LoadFromEnumerable(new[] { 5UL, 1UL << 63 }.Select((t, i) => new UInt64Time { UserId = 1, ItemId = (uint)i + 1, Rating = 5, Timestamp = t }));
        var error = Assert.Throws<InvalidDataException>(() => _ml.Recommendation().Data.PrepareSequences(unsigned));
        Assert.Equal("Row 1 (0-based) of the timestamp column 'Timestamp' has the value 9223372036854775808, which is not a number of seconds between Int64.MinValue and Int64.MaxValue.", error.Message);

        var doubles = _ml.Data.LoadFromEnumerable(new[] { 5.0, -1e19, double.NaN }.Select((t, i) => new DoubleTime { UserId = 1, ItemId = (uint)i + 1, Rating = 5, Timestamp = t }));
        error = Assert.Throws<InvalidDataException>(() => _ml.Recommendation().Data.PrepareSequences(doubles));
        Assert.Equal($"Row 1 (0-based) of the timestamp column 'Timestamp' has the value {-1e19}, which is not a finite number of seconds between Int64.MinValue and Int64.MaxValue.", error.Message);
        Assert.Contains("-1", error.Message);
        var nan = _ml.Data.SkipRows(doubles, 2);
        error = Assert.Throws<InvalidDataException>(() => _ml.Recommendation().Data.PrepareSequences(nan));
        Assert.StartsWith($"Row 0 (0-based) of the timestamp column 'Timestamp' has the value {double.NaN}, which is not a finite number", error.Message);
    }

    // ------------------------------------------------------------------ training histories

    [Fact]
    public void TrainingHistoryKeysOutsideTheVocabularyAreIgnoredWithAWarning()
    {
        var messages = new ConcurrentQueue<string>();
        _ml.Log += (_, e) => messages.Enqueue(e.Message);
        var train = SequenceTestData.Histories(_ml, 5, new[] { new uint[] { 1, 0, 2 }, new uint[] { 9, 2, 3, 0 } });
        using var model = _ml.Recommendation().Trainers.Popularity(topK: 3).Fit(train);

        Assert.Contains(messages, m => m.Contains(
            "3 of 7 item keys in the training history column 'History' are the missing key 0 or beyond the key count (5) and are ignored.", StringComparison.Ordinal));
        // Only the valid keys were counted: item 2 twice, items 1 and 3 once.
        var top = SequenceTestData.KeyColumn(model.Transform(SequenceTestData.Histories(_ml, 5, new[] { Array.Empty<uint>() })), SequenceColumns.TopItems);
        Assert.Equal(new uint[] { 2, 1, 3 }, top[0]);
    }

    [Fact]
    public void TrainingHistoriesWithNoUsableKeyAreAnErrorNamingTheColumn()
    {
        var train = SequenceTestData.Histories(_ml, 5, new[] { new uint[] { 0, 6 }, new uint[] { 9 } });
        var error = Assert.Throws<ArgumentException>(() => _ml.Recommendation().Trainers.Popularity().Fit(train));
        Assert.Equal("The training data has no events in column 'History' (2 rows; all 3 item keys are the missing key 0 or beyond the key count 5): nothing to learn from. (Parameter 'trainData')", error.Message);
    }

    // ------------------------------------------------------------------ evaluation

    [Fact]
    public void EvaluatingAnEmptyTestSetIsAnError()
    {
        var train = SequenceTestData.Histories(_ml, 5, new[] { new uint[] { 1, 2, 3 } });
        using var model = _ml.Recommendation().Trainers.Popularity(topK: 3).Fit(train);

        var empty = model.Transform(SequenceTestData.Histories(_ml, 5, Array.Empty<uint[]>()));
        var error = Assert.Throws<ArgumentException>(() => _ml.Recommendation().Evaluate(empty, cutoffs: new[] { 1, 3 }));
        Assert.StartsWith("The data to evaluate is empty (0 rows): there is no user to evaluate, and every metric would be NaN.", error.Message);

        var noFoldOuts = model.Transform(SequenceTestData.Histories(_ml, 5, new[] { new uint[] { 1 }, new uint[] { 2 } }, new[] { Array.Empty<uint>(), new uint[] { 0 } }));
        error = Assert.Throws<ArgumentException>(() => _ml.Recommendation().Evaluate(noFoldOuts, cutoffs: new[] { 1, 3 }));
        Assert.StartsWith("None of the 2 rows has an item in the fold-out column 'FoldOut': users with an empty fold-out are skipped, so there is no user to evaluate and every metric would be NaN.", error.Message);
    }
}
