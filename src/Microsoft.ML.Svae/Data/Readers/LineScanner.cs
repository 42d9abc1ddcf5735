using System.Buffers.Text;
using System.Text;

namespace Microsoft.ML.Svae;

/// <summary>
/// Reads a file line by line as UTF-8 bytes without allocating per line. Handles <c>\n</c> and <c>\r\n</c> line
/// ends, a UTF-8 byte order mark and a missing final line end. Lines are counted from 1, blank ones included.
/// </summary>
internal sealed class LineScanner : IDisposable
{
    private readonly Stream _stream;
    private byte[] _buffer = new byte[1 << 16];
    private int _start;
    private int _end;
    private bool _endOfStream;

    public LineScanner(string path)
    {
        Path = path;
        _stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
    }

    public string Path { get; }

    /// <summary>The 1-based number of the line last returned.</summary>
    public long LineNumber { get; private set; }

    /// <summary>The next line without its line end; false at the end of the file.</summary>
    public bool TryReadLine(out ReadOnlySpan<byte> line)
    {
        int searchFrom = _start;
        while (true)
        {
            int newline = _buffer.AsSpan(searchFrom, _end - searchFrom).IndexOf((byte)'\n');
            if (newline >= 0)
            {
                int length = searchFrom - _start + newline;
                line = _buffer.AsSpan(_start, length);
                _start += length + 1;
                return Finish(ref line);
            }
            if (_endOfStream)
            {
                if (_start < _end)
                {
                    line = _buffer.AsSpan(_start, _end - _start);
                    _start = _end;
                    return Finish(ref line);
                }
                line = default;
                return false;
            }
            int scanned = _end - _start;
            Fill();
            searchFrom = _start + scanned;
        }
    }

    private bool Finish(ref ReadOnlySpan<byte> line)
    {
        LineNumber++;
        if (line.Length > 0 && line[^1] == (byte)'\r')
            line = line[..^1];
        if (LineNumber == 1 && line.StartsWith("\uFEFF"u8))
            line = line[3..];
        return true;
    }

    private void Fill()
    {
        int remaining = _end - _start;
        if (_start > 0)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, remaining);
            _start = 0;
            _end = remaining;
        }
        if (_end == _buffer.Length)
            Array.Resize(ref _buffer, checked(_buffer.Length * 2));
        int read = _stream.Read(_buffer, _end, _buffer.Length - _end);
        if (read == 0)
            _endOfStream = true;
        else
            _end += read;
    }

    /// <summary>An error for the line last returned.</summary>
    public InteractionFormatException Error(ReadOnlySpan<byte> line, string expected)
        => new(Path, LineNumber, Encoding.UTF8.GetString(line.Length > 400 ? line[..400] : line), expected);

    public void Dispose() => _stream.Dispose();
}

/// <summary>Strict parsing of the fields of a delimited line (ASCII/UTF-8 bytes).</summary>
internal static class FieldParser
{
    /// <summary>True if the line holds only spaces and tabs.</summary>
    public static bool IsBlank(ReadOnlySpan<byte> line) => line.Trim(" \t"u8).IsEmpty;

    /// <summary>
    /// Splits <paramref name="line"/> at <paramref name="separator"/> into <paramref name="fields"/> (start, length)
    /// and returns the number of fields, or <c>fields.Length + 1</c> if there are more fields than room.
    /// </summary>
    public static int Split(ReadOnlySpan<byte> line, ReadOnlySpan<byte> separator, Span<Range> fields)
    {
        int count = 0;
        int start = 0;
        while (true)
        {
            int at = line[start..].IndexOf(separator);
            int end = at < 0 ? line.Length : start + at;
            if (count == fields.Length)
                return fields.Length + 1;
            fields[count++] = new Range(start, end);
            if (at < 0)
                return count;
            start = end + separator.Length;
        }
    }

    /// <summary>Removes surrounding spaces (and tabs unless the separator is a tab) and one pair of surrounding double quotes.</summary>
    public static ReadOnlySpan<byte> Clean(ReadOnlySpan<byte> field, bool trimTabs)
    {
        field = trimTabs ? field.Trim(" \t"u8) : field.Trim((byte)' ');
        if (field.Length >= 2 && field[0] == (byte)'"' && field[^1] == (byte)'"')
            field = field[1..^1];
        return field;
    }

    /// <summary>A non-negative integer of at most 32 bits written with ASCII digits only.</summary>
    public static bool TryParseUInt32(ReadOnlySpan<byte> s, out uint value)
    {
        value = 0;
        if (s.IsEmpty || s.Length > 10)
            return false;
        ulong v = 0;
        foreach (byte b in s)
        {
            uint digit = (uint)(b - (byte)'0');
            if (digit > 9)
                return false;
            v = v * 10 + digit;
        }
        if (v > uint.MaxValue)
            return false;
        value = (uint)v;
        return true;
    }

    /// <summary>An optionally negative integer of at most 64 bits written with ASCII digits.</summary>
    public static bool TryParseInt64(ReadOnlySpan<byte> s, out long value)
        => Utf8Parser.TryParse(s, out value, out int consumed) && consumed == s.Length && s.Length > 0 && s[0] != (byte)'+';

    /// <summary>A finite floating-point number such as <c>4</c>, <c>3.5</c> or <c>4e0</c>.</summary>
    public static bool TryParseSingle(ReadOnlySpan<byte> s, out float value)
    {
        if (Utf8Parser.TryParse(s, out value, out int consumed) && consumed == s.Length && s.Length > 0 && float.IsFinite(value))
            return true;
        value = 0;
        return false;
    }

    /// <summary>A date <c>YYYY-MM-DD</c> as Unix seconds at 00:00 UTC.</summary>
    public static bool TryParseDate(ReadOnlySpan<byte> s, out long unixSeconds)
    {
        unixSeconds = 0;
        if (s.Length != 10 || s[4] != (byte)'-' || s[7] != (byte)'-')
            return false;
        if (!TryParseUInt32(s[..4], out uint year) || !TryParseUInt32(s.Slice(5, 2), out uint month) || !TryParseUInt32(s.Slice(8, 2), out uint day))
            return false;
        if (year < 1 || month < 1 || month > 12 || day < 1 || day > DateTime.DaysInMonth((int)year, (int)month))
            return false;
        unixSeconds = new DateTimeOffset((int)year, (int)month, (int)day, 0, 0, 0, TimeSpan.Zero).ToUnixTimeSeconds();
        return true;
    }

    /// <summary>
    /// A timestamp: an integer number of seconds since the Unix epoch, or an ISO 8601 date/time
    /// (e.g. <c>2005-09-06</c> or <c>2005-09-06T10:20:00Z</c>; without an offset it is taken as UTC).
    /// </summary>
    public static bool TryParseTimestamp(ReadOnlySpan<byte> s, out long unixSeconds)
    {
        if (TryParseInt64(s, out unixSeconds))
            return true;
        if (TryParseDate(s, out unixSeconds))
            return true;
        if (s.Length is > 0 and < 64 && (uint)(s[0] - (byte)'0') <= 9)
        {
            Span<char> chars = stackalloc char[s.Length];
            for (int i = 0; i < s.Length; i++)
                chars[i] = (char)s[i];
            if (DateTimeOffset.TryParse(chars, System.Globalization.CultureInfo.InvariantCulture,
                    System.Globalization.DateTimeStyles.AssumeUniversal, out var time))
            {
                unixSeconds = time.ToUnixTimeSeconds();
                return true;
            }
        }
        unixSeconds = 0;
        return false;
    }
}
