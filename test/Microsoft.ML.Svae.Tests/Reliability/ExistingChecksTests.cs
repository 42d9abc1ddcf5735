using Microsoft.ML.Data;
using static Microsoft.ML.Svae.Tests.Protocol.ProtocolTestData;

namespace Microsoft.ML.Svae.Tests.Reliability;

/// <summary>
/// Rows of docs/RELIABILITY.md whose checks existed before the table but had no test asserting their message.
/// </summary>
public class ExistingChecksTests : IDisposable
{
    private readonly MLContext _ml = new(seed: 1);
    private readonly string _directory = Path.Combine(Path.GetTempPath(), $"svae-checks-{Guid.NewGuid():N}");

    public ExistingChecksTests() => Directory.CreateDirectory(_directory);

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private string Temp(string name, string content)
    {
        string path = Path.Combine(_directory, name);
        File.WriteAllText(path, content);
        return path;
    }

    // ------------------------------------------------------------------ files

    [Theory]
    [InlineData("NaN")]
    [InlineData("Infinity")]
    [InlineData("-Infinity")]
    [InlineData("1e39")] // beyond Single: would be +Infinity
    public void FileRatingsMustBeFiniteNumbers(string rating)
    {
        string path = Temp("u.data", $"1\t10\t4\t900000000\n2\t20\t{rating}\t900000001\n");
        var error = Assert.Throws<InteractionFormatException>(() => _ml.Recommendation().Data.LoadMovieLens100K(path));
        Assert.Equal(2, error.LineNumber);
        Assert.Contains($"field 3 (rating) must be a number, but it is '{rating}'", error.Message);

        // A huge but finite rating is a number like any other.
        var rows = Rows(_ml, _ml.Recommendation().Data.LoadMovieLens100K(Temp("huge.data", "2\t20\t1e30\t900000001\n")));
        Assert.Equal(1e30f, Assert.Single(rows).Rating);
    }

    [Fact]
    public void NetflixPathsWithoutRatingFilesAreNamed()
    {
        string nowhere = Path.Combine(_directory, "nowhere");
        var missing = Assert.Throws<DirectoryNotFoundException>(() => _ml.Recommendation().Data.LoadNetflixPrize(nowhere));
        Assert.Equal($"'{nowhere}' is neither a Netflix Prize rating file nor a directory.", missing.Message);

        string empty = Path.Combine(_directory, "empty");
        Directory.CreateDirectory(empty);
        Temp("empty/readme.txt", "not ratings");
        var none = Assert.Throws<FileNotFoundException>(() => _ml.Recommendation().Data.LoadNetflixPrize(empty));
        Assert.Equal($"The directory '{empty}' holds no Netflix Prize rating files (mv_*.txt or combined_data_*.txt).", none.Message);
    }

    [Fact]
    public void DelimitedReaderRejectsABadSeparatorAndARepeatedColumn()
    {
        string path = Temp("r.csv", "u,i,u\n1,2,3\n");
        var separator = Assert.Throws<ArgumentException>(() => _ml.Recommendation().Data.LoadDelimited(path, '\n', "u", "i"));
        Assert.StartsWith("The separator must not be a line end or a double quote (got U+000A).", separator.Message);
        var repeated = Assert.Throws<InvalidDataException>(() => _ml.Recommendation().Data.LoadDelimited(path, ',', "u", "i"));
        Assert.Equal($"{path}(1): the header names the user column 'u' more than once.", repeated.Message);
    }

    // ------------------------------------------------------------------ interaction views

    public sealed class DoubleIdRow
    {
        public double UserId { get; set; }

        public uint ItemId { get; set; }

        public float Rating { get; set; }

        public long Timestamp { get; set; }
    }

    [Theory]
    [InlineData(1.5, "1.5")]
    [InlineData(-1.0, "-1")]
    [InlineData(5e9, "5000000000")]
    public void FloatingPointIdsMustBeWholeUInt32Values(double id, string shown)
    {
        var view = _ml.Data.LoadFromEnumerable(new[] { 7.0, id }.Select((u, i) => new DoubleIdRow { UserId = u, ItemId = (uint)i, Rating = 5, Timestamp = i }));
        var error = Assert.Throws<InvalidDataException>(() => _ml.Recommendation().Data.PrepareSequences(view));
        Assert.Equal($"Row 1 (0-based) of the user id column 'UserId' has the value {shown}, which is not a valid id (an integer between 0 and 4294967295).", error.Message);
    }

    public sealed class KeyItemRow
    {
        public uint UserId { get; set; }

        public uint ItemId { get; set; }

        public float Rating { get; set; }

        public long Timestamp { get; set; }
    }

    [Fact]
    public void AMissingItemKeyInAnInteractionViewNamesTheRow()
    {
        // A class-based key column holds the key minus 1; uint.MaxValue is the missing key 0.
        var definition = SchemaDefinition.Create(typeof(KeyItemRow));
        definition[nameof(KeyItemRow.ItemId)].ColumnType = new KeyDataViewType(typeof(uint), 10);
        var rows = new[] { 2u, 3u, uint.MaxValue }.Select((k, i) => new KeyItemRow { UserId = 1, ItemId = k, Rating = 5, Timestamp = i });
        var view = _ml.Data.LoadFromEnumerable(rows, definition);
        var error = Assert.Throws<InvalidDataException>(() => _ml.Recommendation().Data.PrepareSequences(view));
        Assert.Equal("Row 2 (0-based) of the item id column 'ItemId' is a missing key (0); filter missing values first.", error.Message);
    }

    [Fact]
    public void NonFiniteRatingThresholdsAreRejected()
    {
        var view = Interactions(_ml, new (uint, uint, float, long)[] { (1, 1, 4, 0) });
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => _ml.Recommendation().Data.Binarize(view, float.NaN));
        Assert.Equal("threshold", error.ParamName);
        Assert.StartsWith("The rating threshold must be a finite number (got NaN).", error.Message);
    }

    public static TheoryData<string, Action<SequenceProtocolOptions>> BadProtocolOptions => new()
    {
        { nameof(SequenceProtocolOptions.RatingThreshold), o => o.RatingThreshold = float.PositiveInfinity },
        { nameof(SequenceProtocolOptions.TimestampColumnName), o => o.TimestampColumnName = "" },
        { nameof(SequenceProtocolOptions.MinItemsPerUser), o => o.MinItemsPerUser = 0 },
        { nameof(SequenceProtocolOptions.MaxHistoryLength), o => o.MaxHistoryLength = 1 },
        { nameof(SequenceProtocolOptions.ValidationUsers), o => o.ValidationUsers = -1 },
        { nameof(SequenceProtocolOptions.TestUsers), o => o.TestUsers = -1 },
        { nameof(SequenceProtocolOptions.ValidationFraction), o => o.ValidationFraction = 1 },
        { nameof(SequenceProtocolOptions.TestFraction), o => o.TestFraction = double.NaN },
        { nameof(SequenceProtocolOptions.FoldOutFraction), o => o.FoldOutFraction = 0 },
        { nameof(SequenceProtocolOptions.FoldSplit), o => o.FoldSplit = (FoldSplit)9 },
    };

    [Theory]
    [MemberData(nameof(BadProtocolOptions))]
    public void BadProtocolOptionsNameTheOption(string option, Action<SequenceProtocolOptions> spoil)
    {
        var options = new SequenceProtocolOptions();
        spoil(options);
        var view = Interactions(_ml, new (uint, uint, float, long)[] { (1, 1, 4, 0) });
        var error = Assert.ThrowsAny<ArgumentException>(() => _ml.Recommendation().Data.PrepareSequences(view, options));
        Assert.Equal(option, error.ParamName);
        Assert.StartsWith(option + " must ", error.Message);
        if (option == nameof(SequenceProtocolOptions.FoldSplit))
            Assert.StartsWith("FoldSplit must be Temporal or Random (got 9).", error.Message);
    }

    [Fact]
    public void StratifiedSampleRejectsAnAllocationExponentOutsideZeroToOne()
    {
        var view = Interactions(_ml, new (uint, uint, float, long)[] { (1, 1, 4, 0) });
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => _ml.Recommendation().Data.StratifiedUserSample(view, 1, allocationExponent: 1.5));
        Assert.StartsWith("allocationExponent must be in [0, 1] (got 1.5).", error.Message);
    }

    // ------------------------------------------------------------------ training

    [Fact]
    public void UserKeyedTrainingIgnoresRowsWithoutAUserKeyAndFailsWhenNoneHasOne()
    {
        var histories = new[] { new uint[] { 1, 2, 3 }, new uint[] { 2, 3, 4 }, new uint[] { 3, 4, 5 } };
        var none = UserSequenceTestData.Rows(_ml, 5, 3, new uint[] { 0, 0, 0 }, histories);
        var error = Assert.Throws<ArgumentException>(() => _ml.Recommendation().Trainers.Bpr(numberOfEpochs: 1).Fit(none));
        Assert.StartsWith("No training row has a user key in column 'UserId' (all 3 are the missing key 0): the model learns one vector per user.", error.Message);

        var messages = new System.Collections.Concurrent.ConcurrentQueue<string>();
        _ml.Log += (_, e) => messages.Enqueue(e.Message);
        var some = UserSequenceTestData.Rows(_ml, 5, 3, new uint[] { 1, 0, 3 }, histories);
        using var model = _ml.Recommendation().Trainers.Bpr(numberOfEpochs: 1).Fit(some);
        Assert.Contains(messages, m => m.Contains("1 of 3 training rows have the missing user key 0 in column 'UserId' and are ignored.", StringComparison.Ordinal));
    }

    // ------------------------------------------------------------------ scoring

    [Fact]
    public void ScoringHistoriesOfAnotherVocabularyNamesBothItemCounts()
    {
        var train = SequenceTestData.Histories(_ml, 5, new[] { new uint[] { 1, 2, 3 } });
        using var model = _ml.Recommendation().Trainers.Popularity(topK: 3).Fit(train);
        var other = SequenceTestData.Histories(_ml, 6, new[] { new uint[] { 1 } });
        var error = Assert.ThrowsAny<ArgumentException>(() => model.Transform(other));
        Assert.StartsWith("The history column 'History' has 6 item keys, but the model was trained on 5 items. " +
            "Map item ids with the same vocabulary (key type) as the training data, or pass the item ids themselves (Vector<UInt32>).", error.Message);
    }

    // ------------------------------------------------------------------ evaluation

    public sealed class MismatchedRow
    {
        public uint[] History { get; set; } = Array.Empty<uint>();

        public uint[] FoldOut { get; set; } = Array.Empty<uint>();

        public uint[] TopItems { get; set; } = Array.Empty<uint>();
    }

    private IDataView Scored(int historyKeys, int foldOutKeys)
    {
        var definition = SchemaDefinition.Create(typeof(MismatchedRow));
        definition[nameof(MismatchedRow.History)].ColumnType = new VectorDataViewType(new KeyDataViewType(typeof(uint), historyKeys));
        definition[nameof(MismatchedRow.FoldOut)].ColumnType = new VectorDataViewType(new KeyDataViewType(typeof(uint), foldOutKeys));
        definition[nameof(MismatchedRow.TopItems)].ColumnType = new VectorDataViewType(new KeyDataViewType(typeof(uint), foldOutKeys));
        return _ml.Data.LoadFromEnumerable(new[] { new MismatchedRow { History = new uint[] { 1 }, FoldOut = new uint[] { 2 }, TopItems = new uint[] { 2, 3 } } }, definition);
    }

    [Fact]
    public void EvaluatorRejectsMismatchedVocabulariesBadCutoffsBucketEdgesAndNoRankingColumn()
    {
        var evaluate = _ml.Recommendation();
        var mismatch = Assert.ThrowsAny<ArgumentException>(() => evaluate.Evaluate(Scored(5, 6), cutoffs: new[] { 2 }));
        Assert.StartsWith("The history column 'History' has 5 item keys but the fold-out column 'FoldOut' has 6; both must use the same item vocabulary.", mismatch.Message);

        var scored = Scored(6, 6);
        Assert.Equal(1, evaluate.Evaluate(scored, cutoffs: new[] { 2 }).Recall(2)); // the view itself is fine
        Assert.StartsWith("Cutoffs must be positive, but 0 was given.",
            Assert.ThrowsAny<ArgumentException>(() => evaluate.Evaluate(scored, cutoffs: new[] { 2, 0 })).Message);
        Assert.StartsWith("At least one cutoff is required (the paper uses 10 and 100).",
            Assert.ThrowsAny<ArgumentException>(() => evaluate.Evaluate(scored, cutoffs: Array.Empty<int>())).Message);
        Assert.StartsWith("History-length bucket edges must be strictly ascending, but 5 follows 10.",
            Assert.ThrowsAny<ArgumentException>(() => evaluate.Evaluate(scored, new RecommendationEvaluatorOptions { Cutoffs = new[] { 2 }, HistoryLengthBucketEdges = new[] { 0, 10, 5 } })).Message);
        Assert.StartsWith("Neither a score column nor a top-items column was given",
            Assert.ThrowsAny<ArgumentException>(() => evaluate.Evaluate(scored, new RecommendationEvaluatorOptions { Cutoffs = new[] { 2 }, TopItemsColumnName = null, ScoreColumnName = null })).Message);
    }

    // ------------------------------------------------------------------ saving

    [Fact]
    public void AFailedSaveLeavesThePreviousFileAndNoTemporaryFile()
    {
        string path = Temp("model.zip", "previous model");
        var error = Assert.Throws<IOException>(() => ModelFiles.WriteAtomically(path, stream =>
        {
            stream.Write(new byte[] { 1, 2, 3 });
            throw new IOException("No space left on device");
        }));
        Assert.Equal("No space left on device", error.Message);
        Assert.Equal("previous model", File.ReadAllText(path));
        Assert.Equal(new[] { path }, Directory.GetFiles(_directory));
    }
}
