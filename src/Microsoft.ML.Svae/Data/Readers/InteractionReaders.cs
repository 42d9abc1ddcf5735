using System.Text;

namespace Microsoft.ML.Svae;

/// <summary>
/// Fast, strict line parsers for the rating files of section 5.1. Every data line must have exactly the
/// expected fields; a malformed line raises <see cref="InteractionFormatException"/> (file, line number, line,
/// expectation). Blank lines are skipped.
/// </summary>
internal static class InteractionReaders
{
    private const string MovieLens1MLayout = "UserID::MovieID::Rating::Timestamp";
    private const string MovieLens100KLayout = "user<TAB>item<TAB>rating<TAB>timestamp";
    private const string MovieLensCsvHeader = "userId,movieId,rating,timestamp";

    /// <summary>MovieLens-1M <c>ratings.dat</c>: <c>UserID::MovieID::Rating::Timestamp</c>.</summary>
    public static InteractionTable ReadMovieLens1M(string path)
        => ReadFourFields(path, "::"u8, MovieLens1MLayout, header: null);

    /// <summary>MovieLens-100K <c>u.data</c>: <c>user\titem\trating\ttimestamp</c>.</summary>
    public static InteractionTable ReadMovieLens100K(string path)
        => ReadFourFields(path, "\t"u8, MovieLens100KLayout, header: null);

    /// <summary>MovieLens 20M/25M/latest <c>ratings.csv</c> with header <c>userId,movieId,rating,timestamp</c>.</summary>
    public static InteractionTable ReadMovieLensCsv(string path)
        => ReadFourFields(path, ","u8, MovieLensCsvHeader, header: MovieLensCsvHeader);

    private static InteractionTable ReadFourFields(string path, ReadOnlySpan<byte> separator, string layout, string? header)
    {
        var builder = new InteractionTableBuilder(EstimateRows(path, 24));
        string[] names = layout.Split(separator.SequenceEqual("\t"u8) ? "<TAB>" : Encoding.UTF8.GetString(separator));
        string separatorName = separator.SequenceEqual("\t"u8) ? "tab" : $"'{Encoding.UTF8.GetString(separator)}'";
        bool trimTabs = !separator.SequenceEqual("\t"u8);
        Span<Range> fields = stackalloc Range[4];
        bool headerSeen = header is null;
        using var scanner = new LineScanner(path);
        while (scanner.TryReadLine(out var line))
        {
            if (FieldParser.IsBlank(line))
                continue;
            if (!headerSeen)
            {
                if (Encoding.UTF8.GetString(line).Trim() != header)
                    throw scanner.Error(line, $"the header line '{header}'");
                headerSeen = true;
                continue;
            }
            int count = FieldParser.Split(line, separator, fields);
            if (count != 4)
                throw scanner.Error(line, $"4 {separatorName}-separated fields '{layout}' but found {(count > 4 ? "more than 4" : count.ToString())}");
            var userField = FieldParser.Clean(line[fields[0]], trimTabs);
            var itemField = FieldParser.Clean(line[fields[1]], trimTabs);
            var ratingField = FieldParser.Clean(line[fields[2]], trimTabs);
            var timeField = FieldParser.Clean(line[fields[3]], trimTabs);
            if (!FieldParser.TryParseUInt32(userField, out uint user))
                throw scanner.Error(line, FieldError(names[0], 1, userField, "an unsigned 32-bit integer id"));
            if (!FieldParser.TryParseUInt32(itemField, out uint item))
                throw scanner.Error(line, FieldError(names[1], 2, itemField, "an unsigned 32-bit integer id"));
            if (!FieldParser.TryParseSingle(ratingField, out float rating))
                throw scanner.Error(line, FieldError(names[2], 3, ratingField, "a number"));
            if (!FieldParser.TryParseInt64(timeField, out long time))
                throw scanner.Error(line, FieldError(names[3], 4, timeField, "an integer number of seconds since the Unix epoch"));
            builder.Add(user, item, rating, time);
        }
        if (!headerSeen)
            throw new InvalidDataException($"'{path}' is empty: expected the header line '{header}' followed by ratings.");
        return NotEmpty(builder.Build(), path);
    }

    /// <summary>
    /// Netflix Prize rating files. Each movie block starts with a line <c>MovieID:</c> followed by lines
    /// <c>CustomerID,Rating,YYYY-MM-DD</c>; the per-movie files <c>mv_0000001.txt</c> hold one block, the Kaggle
    /// <c>combined_data_*.txt</c> files several. The date becomes Unix seconds at 00:00 UTC.
    /// </summary>
    public static InteractionTable ReadNetflix(IReadOnlyList<string> files)
    {
        if (files.Count == 0)
            throw new ArgumentException("No Netflix Prize rating files were given.", nameof(files));
        long bytes = 0;
        foreach (var file in files)
            bytes += new FileInfo(file).Exists ? new FileInfo(file).Length : 0;
        var builder = new InteractionTableBuilder((int)Math.Min(Array.MaxLength, bytes / 18 + 16));
        Span<Range> fields = stackalloc Range[3];
        foreach (var path in files)
        {
            using var scanner = new LineScanner(path);
            bool haveMovie = false;
            uint movie = 0;
            while (scanner.TryReadLine(out var line))
            {
                if (FieldParser.IsBlank(line))
                    continue;
                var trimmed = line.Trim(" \t"u8);
                if (trimmed[^1] == (byte)':')
                {
                    if (!FieldParser.TryParseUInt32(trimmed[..^1].Trim((byte)' '), out movie))
                        throw scanner.Error(line, "a movie header 'MovieID:' with an unsigned integer MovieID");
                    haveMovie = true;
                    continue;
                }
                if (!haveMovie)
                    throw scanner.Error(line, "the movie header line 'MovieID:' before the first rating");
                int count = FieldParser.Split(line, ","u8, fields);
                if (count != 3)
                    throw scanner.Error(line, $"3 comma-separated fields 'CustomerID,Rating,YYYY-MM-DD' but found {(count > 3 ? "more than 3" : count.ToString())}");
                var userField = FieldParser.Clean(line[fields[0]], true);
                var ratingField = FieldParser.Clean(line[fields[1]], true);
                var dateField = FieldParser.Clean(line[fields[2]], true);
                if (!FieldParser.TryParseUInt32(userField, out uint user))
                    throw scanner.Error(line, FieldError("CustomerID", 1, userField, "an unsigned 32-bit integer id"));
                if (!FieldParser.TryParseSingle(ratingField, out float rating))
                    throw scanner.Error(line, FieldError("Rating", 2, ratingField, "a number"));
                if (!FieldParser.TryParseDate(dateField, out long time))
                    throw scanner.Error(line, FieldError("Date", 3, dateField, "a date YYYY-MM-DD"));
                builder.Add(user, movie, rating, time);
            }
        }
        return NotEmpty(builder.Build(), files.Count == 1 ? files[0] : $"{files.Count} Netflix Prize files");
    }

    /// <summary>
    /// A delimited file whose first non-blank line is a header naming the columns. The user and item columns
    /// must hold unsigned 32-bit integer ids; the rating column (optional, default 1) a number; the timestamp
    /// column (optional, default the 0-based data row index) integer Unix seconds or an ISO 8601 date/time.
    /// </summary>
    public static InteractionTable ReadDelimited(string path, char separator, string userColumn, string itemColumn, string? ratingColumn, string? timestampColumn)
    {
        if (separator is '\r' or '\n' or '"')
            throw new ArgumentException($"The separator must not be a line end or a double quote (got U+{(int)separator:X4}).", nameof(separator));
        ArgumentException.ThrowIfNullOrEmpty(userColumn);
        ArgumentException.ThrowIfNullOrEmpty(itemColumn);
        byte[] separatorBytes = Encoding.UTF8.GetBytes(separator.ToString());
        bool trimTabs = separator != '\t';
        string separatorName = separator == '\t' ? "tab" : $"'{separator}'";
        var builder = new InteractionTableBuilder(EstimateRows(path, 24));
        using var scanner = new LineScanner(path);
        string[]? header = null;
        int userIndex = -1, itemIndex = -1, ratingIndex = -1, timeIndex = -1;
        Range[] fields = Array.Empty<Range>();
        long row = 0;
        while (scanner.TryReadLine(out var line))
        {
            if (FieldParser.IsBlank(line))
                continue;
            if (header is null)
            {
                header = Encoding.UTF8.GetString(line).Split(separator)
                    .Select(name => name.Trim().Trim('"')).ToArray();
                userIndex = HeaderIndex(header, userColumn, "user", path, separatorName);
                itemIndex = HeaderIndex(header, itemColumn, "item", path, separatorName);
                ratingIndex = ratingColumn is null ? -1 : HeaderIndex(header, ratingColumn, "rating", path, separatorName);
                timeIndex = timestampColumn is null ? -1 : HeaderIndex(header, timestampColumn, "timestamp", path, separatorName);
                fields = new Range[header.Length];
                continue;
            }
            int count = FieldParser.Split(line, separatorBytes, fields);
            if (count != header.Length)
                throw scanner.Error(line, $"{header.Length} {separatorName}-separated fields as in the header '{string.Join(separator, header)}' but found {(count > header.Length ? $"more than {header.Length}" : count.ToString())} (quoted fields containing the separator are not supported)");
            var userField = FieldParser.Clean(line[fields[userIndex]], trimTabs);
            var itemField = FieldParser.Clean(line[fields[itemIndex]], trimTabs);
            if (!FieldParser.TryParseUInt32(userField, out uint user))
                throw scanner.Error(line, FieldError(userColumn, userIndex + 1, userField, IdExpectation));
            if (!FieldParser.TryParseUInt32(itemField, out uint item))
                throw scanner.Error(line, FieldError(itemColumn, itemIndex + 1, itemField, IdExpectation));
            float rating = 1f;
            if (ratingIndex >= 0)
            {
                var ratingField = FieldParser.Clean(line[fields[ratingIndex]], trimTabs);
                if (!FieldParser.TryParseSingle(ratingField, out rating))
                    throw scanner.Error(line, FieldError(ratingColumn!, ratingIndex + 1, ratingField, "a number"));
            }
            long time = row;
            if (timeIndex >= 0)
            {
                var timeField = FieldParser.Clean(line[fields[timeIndex]], trimTabs);
                if (!FieldParser.TryParseTimestamp(timeField, out time))
                    throw scanner.Error(line, FieldError(timestampColumn!, timeIndex + 1, timeField, "integer seconds since the Unix epoch or an ISO 8601 date/time"));
            }
            builder.Add(user, item, rating, time);
            row++;
        }
        if (header is null)
            throw new InvalidDataException($"'{path}' is empty: expected a header line naming the columns, followed by interactions.");
        return NotEmpty(builder.Build(), path);
    }

    private const string IdExpectation =
        "an unsigned 32-bit integer id (text ids are not supported by this reader: map them to integers first, " +
        "or load the file with mlContext.Data.LoadFromTextFile and map the ids with MapValueToKey)";

    private static int HeaderIndex(string[] header, string name, string role, string path, string separatorName)
    {
        int index = Array.IndexOf(header, name);
        if (index < 0)
            throw new InvalidDataException(
                $"{path}(1): the {role} column '{name}' is not in the header; the header has the {separatorName}-separated columns " +
                string.Join(", ", header.Select(h => $"'{h}'")) + ".");
        if (Array.IndexOf(header, name, index + 1) >= 0)
            throw new InvalidDataException($"{path}(1): the header names the {role} column '{name}' more than once.");
        return index;
    }

    private static string FieldError(string name, int position, ReadOnlySpan<byte> value, string expected)
        => $"field {position} ({name}) must be {expected}, but it is '{Encoding.UTF8.GetString(value.Length > 60 ? value[..60] : value)}'";

    private static InteractionTable NotEmpty(InteractionTable table, string source)
    {
        if (table.Count == 0)
            throw new InvalidDataException($"{source} contains no interactions (only blank lines or headers).");
        return table;
    }

    private static int EstimateRows(string path, int bytesPerRow)
    {
        var info = new FileInfo(path);
        if (!info.Exists)
            throw new FileNotFoundException($"The interaction file '{path}' does not exist.", path);
        return (int)Math.Min(Array.MaxLength, info.Length / bytesPerRow + 16);
    }
}
