using System.Globalization;
using System.Text;
using Microsoft.Data.Analysis;

namespace Microsoft.ML.Svae;

/// <summary>
/// Readable text for the <see cref="DataFrame"/>s this library returns (<see cref="RecommendationMetrics.PerUser"/>,
/// <see cref="RecommendationMetrics.ByHistoryLength"/>, <see cref="SequenceDataCatalog.ComputeStatistics(SequenceDataset, string)"/>):
/// aligned columns under a header, unlike <c>DataFrame.ToString()</c>, which runs wide columns together.
/// </summary>
public static class DataFrameText
{
    /// <summary>The default number of rows <see cref="ToText(DataFrame, int)"/> prints.</summary>
    public const int DefaultMaxRows = 50;

    /// <summary>
    /// Formats <paramref name="frame"/> as a text table: a header of column names, a rule of dashes, then one line
    /// per row. Columns are separated by two spaces and as wide as their widest cell; text columns are
    /// left-aligned, numeric columns right-aligned. <see cref="double"/> and <see cref="float"/> values are written
    /// with four decimals, other values with the invariant culture, missing values as <c>-</c>. Lines end with
    /// <see cref="Environment.NewLine"/> (none after the last) and carry no trailing spaces. When the frame has more
    /// than <paramref name="maxRows"/> rows, the first <paramref name="maxRows"/> are printed and a last line says
    /// how many were left out.
    /// </summary>
    /// <param name="frame">The data frame.</param>
    /// <param name="maxRows">The most rows to print (at least 0).</param>
    public static string ToText(this DataFrame frame, int maxRows = DefaultMaxRows)
    {
        ArgumentNullException.ThrowIfNull(frame);
        if (maxRows < 0)
            throw new ArgumentOutOfRangeException(nameof(maxRows), $"maxRows must be at least 0 (got {maxRows}).");
        long rowCount = frame.Rows.Count;
        int shown = (int)Math.Min(rowCount, maxRows);
        var columns = frame.Columns;
        var headers = columns.Select(c => c.Name).ToArray();
        var rightAligned = columns.Select(c => c is not StringDataFrameColumn && c.DataType != typeof(string) && c.DataType != typeof(bool) && c.DataType != typeof(char)).ToArray();
        var cells = new string[shown][];
        for (int row = 0; row < shown; row++)
        {
            cells[row] = new string[columns.Count];
            for (int c = 0; c < columns.Count; c++)
                cells[row][c] = FormatCell(columns[c][row]);
        }
        string text = Format(headers, rightAligned, cells);
        if (rowCount > shown)
            text += Environment.NewLine + string.Create(CultureInfo.InvariantCulture, $"... {rowCount - shown} more {(rowCount - shown == 1 ? "row" : "rows")} ({rowCount} in all)");
        return text;
    }

    /// <summary>A cell as <see cref="ToText(DataFrame, int)"/> writes it.</summary>
    internal static string FormatCell(object? value) => value switch
    {
        null => "-",
        double d => d.ToString("F4", CultureInfo.InvariantCulture),
        float f => f.ToString("F4", CultureInfo.InvariantCulture),
        _ => Convert.ToString(value, CultureInfo.InvariantCulture) ?? "-",
    };

    /// <summary>Lays out a header and rows of cells in aligned columns (the layout of <see cref="ToText(DataFrame, int)"/>).</summary>
    internal static string Format(IReadOnlyList<string> headers, IReadOnlyList<bool> rightAligned, IReadOnlyList<IReadOnlyList<string>> rows)
    {
        var widths = new int[headers.Count];
        for (int c = 0; c < headers.Count; c++)
        {
            widths[c] = headers[c].Length;
            foreach (var row in rows)
                widths[c] = Math.Max(widths[c], row[c].Length);
        }
        var text = new StringBuilder();
        AppendLine(text, headers, widths, rightAligned);
        AppendLine(text, widths.Select(w => new string('-', w)).ToArray(), widths, rightAligned);
        foreach (var row in rows)
            AppendLine(text, row, widths, rightAligned);
        text.Length -= Environment.NewLine.Length;
        return text.ToString();
    }

    private static void AppendLine(StringBuilder text, IReadOnlyList<string> cells, int[] widths, IReadOnlyList<bool> rightAligned)
    {
        var line = new StringBuilder();
        for (int c = 0; c < cells.Count; c++)
        {
            if (c > 0)
                line.Append("  ");
            line.Append(rightAligned[c] ? cells[c].PadLeft(widths[c]) : cells[c].PadRight(widths[c]));
        }
        text.Append(line.ToString().TrimEnd()).Append(Environment.NewLine);
    }
}
