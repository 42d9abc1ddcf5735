using Microsoft.ML.Data;
using static Microsoft.ML.Svae.Tests.Protocol.ProtocolTestData;

namespace Microsoft.ML.Svae.Tests.Protocol;

public class ProtocolReaderTests : IDisposable
{
    private readonly MLContext _ml = new(seed: 1);
    private readonly SequenceDataCatalog _data;
    private readonly string _tempDirectory = Path.Combine(Path.GetTempPath(), "svae-protocol-tests-" + Guid.NewGuid().ToString("N"));

    public ProtocolReaderTests()
    {
        _data = new SequenceDataCatalog(_ml);
        Directory.CreateDirectory(_tempDirectory);
    }

    public void Dispose() => Directory.Delete(_tempDirectory, recursive: true);

    private string Temp(string name, string content)
    {
        string path = Path.Combine(_tempDirectory, name);
        File.WriteAllText(path, content);
        return path;
    }

    private static void AssertRows(List<InteractionRow> rows, params (uint User, uint Item, float Rating, long Time)[] expected)
    {
        Assert.Equal(expected.Length, rows.Count);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.Equal(expected[i].User, rows[i].UserId);
            Assert.Equal(expected[i].Item, rows[i].ItemId);
            Assert.Equal(expected[i].Rating, rows[i].Rating);
            Assert.Equal(expected[i].Time, rows[i].Timestamp);
        }
    }

    [Fact]
    public void MovieLens1MReaderReadsEveryLineSkippingBlanksWithTheInteractionSchema()
    {
        var view = _data.LoadMovieLens1M(Fixture("ml1m_ratings.dat"));

        Assert.Equal(NumberDataViewType.UInt32, view.Schema[InteractionColumns.UserId].Type);
        Assert.Equal(NumberDataViewType.UInt32, view.Schema[InteractionColumns.ItemId].Type);
        Assert.Equal(NumberDataViewType.Single, view.Schema[InteractionColumns.Rating].Type);
        Assert.Equal(NumberDataViewType.Int64, view.Schema[InteractionColumns.Timestamp].Type);
        Assert.Equal(5, view.GetRowCount());
        // Blank line 3 skipped, CRLF on line 5, no line end after the last line.
        AssertRows(Rows(_ml, view),
            (1, 10, 5, 1000000000), (1, 20, 3, 1000000100), (2, 10, 4, 1000000050), (2, 30, 1, 1000000020), (3, 40, 2, 1000000900));
    }

    [Fact]
    public void MovieLens1MMalformedLineNamesFileLineAndExpectation()
    {
        string path = Fixture("ml1m_malformed.dat");
        var e = Assert.Throws<InteractionFormatException>(() => _data.LoadMovieLens1M(path));
        Assert.Equal(3, e.LineNumber);
        Assert.Equal(path, e.FilePath);
        Assert.Contains(path, e.Message);
        Assert.Contains("(3)", e.Message);
        Assert.Contains("4 '::'-separated fields 'UserID::MovieID::Rating::Timestamp' but found 3", e.Message);
        Assert.Contains("\"2::10::4\"", e.Message);
        Assert.IsAssignableFrom<FormatException>(e);
    }

    [Fact]
    public void MovieLens1MRejectsExtraFieldsInsteadOfShiftingColumns()
    {
        string path = Temp("extra.dat", "1::10::5::1000000000\n1::20::3::1000000100::7\n");
        var e = Assert.Throws<InteractionFormatException>(() => _data.LoadMovieLens1M(path));
        Assert.Equal(2, e.LineNumber);
        Assert.Contains("but found more than 4", e.Message);
    }

    [Fact]
    public void MovieLens1MRejectsANegativeOrNonIntegerId()
    {
        var e = Assert.Throws<InteractionFormatException>(() => _data.LoadMovieLens1M(Temp("neg.dat", "-1::10::5::1000000000\n")));
        Assert.Contains("field 1 (UserID) must be an unsigned 32-bit integer id, but it is '-1'", e.Message);
        e = Assert.Throws<InteractionFormatException>(() => _data.LoadMovieLens1M(Temp("big.dat", "1::10::5::1000000000\n\n1::4294967296::5::1000000000\n")));
        Assert.Equal(3, e.LineNumber);
        Assert.Contains("MovieID", e.Message);
    }

    [Fact]
    public void MovieLens100KReaderReadsTabSeparatedLines()
    {
        var rows = Rows(_ml, _data.LoadMovieLens100K(Fixture("ml100k_u.data")));
        AssertRows(rows, (7, 70, 3, 900000000), (8, 80, 5, 900000500), (9, 90, 1, 900000200));
    }

    [Fact]
    public void MovieLens100KBadRatingNamesTheFieldAndLine()
    {
        var e = Assert.Throws<InteractionFormatException>(() => _data.LoadMovieLens100K(Fixture("ml100k_malformed.data")));
        Assert.Equal(2, e.LineNumber);
        Assert.Contains("ml100k_malformed.data(2)", e.Message);
        Assert.Contains("field 3 (rating) must be a number, but it is 'x'", e.Message);
    }

    [Fact]
    public void MovieLens100KRejectsTheMovieLens1MLayout()
    {
        var e = Assert.Throws<InteractionFormatException>(() => _data.LoadMovieLens100K(Fixture("ml1m_ratings.dat")));
        Assert.Equal(1, e.LineNumber);
        Assert.Contains("4 tab-separated fields", e.Message);
    }

    [Fact]
    public void MovieLensCsvReaderKeepsHalfStarRatings()
    {
        var rows = Rows(_ml, _data.LoadMovieLensCsv(Fixture("ml_ratings.csv")));
        AssertRows(rows, (1, 101, 5f, 1200000000), (1, 102, 3.5f, 1200000300), (2, 103, 3f, 1200000200));
    }

    [Fact]
    public void MovieLensCsvReaderChecksTheHeader()
    {
        var e = Assert.Throws<InteractionFormatException>(() => _data.LoadMovieLensCsv(Temp("noheader.csv", "1,101,5.0,1200000000\n")));
        Assert.Equal(1, e.LineNumber);
        Assert.Contains("the header line 'userId,movieId,rating,timestamp'", e.Message);
    }

    /// <summary>
    /// A made-up Netflix Prize folder with two per-movie files, written at run time (the files carry the
    /// real naming, mv_NNNNNNN.txt, which the repository keeps clear of so that no data set is mistaken
    /// for a tracked one).
    /// </summary>
    private string NetflixFolder()
    {
        string folder = Path.Combine(_tempDirectory, "netflix");
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "mv_0000001.txt"), "1:\n1001,3,2004-01-02\n1002,5,2004-03-04\n\n1003,4,2004-05-06\n");
        File.WriteAllText(Path.Combine(folder, "mv_0000002.txt"), "2:\n1004,4,2004-07-08\n1001,2,2004-01-02\n");
        return folder;
    }

    [Fact]
    public void NetflixReaderReadsADirectoryOfMovieFilesInNameOrder()
    {
        var rows = Rows(_ml, _data.LoadNetflixPrize(NetflixFolder()));
        long Day(int y, int m, int d) => new DateTimeOffset(y, m, d, 0, 0, 0, TimeSpan.Zero).ToUnixTimeSeconds();
        AssertRows(rows,
            (1001, 1, 3, Day(2004, 1, 2)), (1002, 1, 5, Day(2004, 3, 4)), (1003, 1, 4, Day(2004, 5, 6)),
            (1004, 2, 4, Day(2004, 7, 8)), (1001, 2, 2, Day(2004, 1, 2)));
        Assert.Equal(1073001600, Day(2004, 1, 2)); // 2004-01-02T00:00:00Z
    }

    [Fact]
    public void NetflixReaderTakesAListOfFilesAndCombinedFiles()
    {
        string folder = NetflixFolder();
        var reversed = Rows(_ml, _data.LoadNetflixPrize(new[] { Path.Combine(folder, "mv_0000002.txt"), Path.Combine(folder, "mv_0000001.txt") }));
        Assert.Equal(new uint[] { 2, 2, 1, 1, 1 }, reversed.Select(r => r.ItemId));

        string combined = Temp("combined_data_1.txt", "5:\n11,1,2005-12-31\n6:\n12,5,2005-01-01\n11,4,2005-01-02\n");
        var rows = Rows(_ml, _data.LoadNetflixPrize(combined));
        Assert.Equal(new uint[] { 5, 6, 6 }, rows.Select(r => r.ItemId));
        Assert.Equal(new uint[] { 11, 12, 11 }, rows.Select(r => r.UserId));
    }

    [Fact]
    public void NetflixReaderReportsMissingHeaderAndBadDates()
    {
        var e = Assert.Throws<InteractionFormatException>(() => _data.LoadNetflixPrize(Temp("mv_1.txt", "11,1,2005-12-31\n")));
        Assert.Equal(1, e.LineNumber);
        Assert.Contains("movie header line 'MovieID:'", e.Message);

        e = Assert.Throws<InteractionFormatException>(() => _data.LoadNetflixPrize(Temp("mv_2.txt", "5:\n11,1,2005-12-31\n12,3,2005-13-01\n")));
        Assert.Equal(3, e.LineNumber);
        Assert.Contains("field 3 (Date) must be a date YYYY-MM-DD, but it is '2005-13-01'", e.Message);
        Assert.Contains("mv_2.txt", e.Message);
    }

    [Fact]
    public void DelimitedReaderFindsNamedColumnsInAnyOrder()
    {
        var rows = Rows(_ml, _data.LoadDelimited(Fixture("delimited.csv"), ';', "user", "item", "rating", "when"));
        AssertRows(rows, (5, 17, 4.5f, 1000000000), (5, 18, 2, 1000000100), (6, 17, 5, 1000000200));
    }

    [Fact]
    public void DelimitedReaderDefaultsRatingToOneAndTimeToRowOrder()
    {
        var rows = Rows(_ml, _data.LoadDelimited(Fixture("delimited.csv"), ';', "user", "item"));
        AssertRows(rows, (5, 17, 1, 0), (5, 18, 1, 1), (6, 17, 1, 2));
    }

    [Fact]
    public void DelimitedReaderErrors()
    {
        var missing = Assert.Throws<InvalidDataException>(() => _data.LoadDelimited(Fixture("delimited.csv"), ';', "userId", "item"));
        Assert.Contains("the user column 'userId' is not in the header", missing.Message);
        Assert.Contains("'rating', 'when', 'item', 'user', 'comment'", missing.Message);

        string textIds = Temp("text.tsv", "u\ti\nalice\t1\n");
        var text = Assert.Throws<InteractionFormatException>(() => _data.LoadDelimited(textIds, '\t', "u", "i"));
        Assert.Equal(2, text.LineNumber);
        Assert.Contains("field 1 (u) must be an unsigned 32-bit integer id", text.Message);
        Assert.Contains("'alice'", text.Message);

        string shortLine = Temp("short.csv", "u,i,r\n1,2,3\n\n1,2\n");
        var fields = Assert.Throws<InteractionFormatException>(() => _data.LoadDelimited(shortLine, ',', "u", "i", "r"));
        Assert.Equal(4, fields.LineNumber);
        Assert.Contains("3 ','-separated fields as in the header 'u,i,r' but found 2", fields.Message);
    }

    [Fact]
    public void EmptyFilesAndMissingFilesRaiseClearErrors()
    {
        var empty = Assert.Throws<InvalidDataException>(() => _data.LoadMovieLens1M(Temp("empty.dat", "\n\n")));
        Assert.Contains("contains no interactions", empty.Message);
        var headerOnly = Assert.Throws<InvalidDataException>(() => _data.LoadDelimited(Temp("h.csv", "u,i\n"), ',', "u", "i"));
        Assert.Contains("contains no interactions", headerOnly.Message);
        var notFound = Assert.Throws<FileNotFoundException>(() => _data.LoadMovieLens100K(Path.Combine(_tempDirectory, "nope.data")));
        Assert.Contains("nope.data", notFound.Message);
    }

    [Fact]
    public void LongLinesAcrossBufferBoundariesAreReadWhole()
    {
        // Many rows so that lines straddle the reader's 64 KiB buffer.
        var text = new System.Text.StringBuilder();
        for (int i = 0; i < 20000; i++)
            text.Append(i % 97 + 1).Append("::").Append(i).Append("::").Append(i % 5 + 1).Append("::").Append(1_000_000_000L + i).Append('\n');
        var rows = Rows(_ml, _data.LoadMovieLens1M(Temp("many.dat", text.ToString())));
        Assert.Equal(20000, rows.Count);
        for (int i = 0; i < rows.Count; i += 997)
        {
            Assert.Equal((uint)(i % 97 + 1), rows[i].UserId);
            Assert.Equal((uint)i, rows[i].ItemId);
            Assert.Equal(1_000_000_000L + i, rows[i].Timestamp);
        }
    }
}
