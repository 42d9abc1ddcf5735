namespace Microsoft.ML.Svae;

/// <summary>
/// A line of an interaction file that does not have the expected format. The message names the file, the
/// 1-based line number, what was expected and the offending line (truncated to 200 characters).
/// </summary>
public sealed class InteractionFormatException : FormatException
{
    /// <summary>Creates the exception; the message is built from the arguments.</summary>
    /// <param name="filePath">The file that was read.</param>
    /// <param name="lineNumber">The 1-based line number of the offending line.</param>
    /// <param name="line">The offending line (it is truncated in the message).</param>
    /// <param name="expected">What was expected, e.g. "4 fields 'UserID::MovieID::Rating::Timestamp'".</param>
    public InteractionFormatException(string filePath, long lineNumber, string line, string expected)
        : base($"{filePath}({lineNumber}): malformed line: {expected}. Line {lineNumber}: \"{Truncate(line)}\"")
    {
        FilePath = filePath;
        LineNumber = lineNumber;
        Line = line;
        Expected = expected;
    }

    /// <summary>The file that was read.</summary>
    public string FilePath { get; }

    /// <summary>The 1-based line number of the offending line.</summary>
    public long LineNumber { get; }

    /// <summary>The offending line (as read, possibly long).</summary>
    public string Line { get; }

    /// <summary>What was expected at that line.</summary>
    public string Expected { get; }

    private static string Truncate(string line) => line.Length <= 200 ? line : line[..200] + "…";
}
