using System.Globalization;
using System.Text;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Svae;

namespace Svae.Cli;

/// <summary>
/// Writes a prepared split as plain CSV files in the data set's own user and item ids, so that another
/// implementation (for example the authors' Python code) can be run on exactly the same users, fold-ins
/// and fold-outs.
/// </summary>
internal static class SplitExport
{
    /// <summary>The files written, in order: the training histories, then fold-in and fold-out of each held-out set.</summary>
    public static readonly string[] FileNames =
        ["train.csv", "validation_foldin.csv", "validation_foldout.csv", "test_foldin.csv", "test_foldout.csv"];

    /// <summary>
    /// Writes the five files of <paramref name="dataset"/> into <paramref name="directory"/>. Every file has the
    /// header <c>user_id,item_id,position,timestamp</c>: raw ids, the 0-based time order of the event within that
    /// file's part of the user's history, and the event's timestamp (empty in fold-out files, which carry the order only).
    /// </summary>
    public static void Write(SequenceDataset dataset, string directory)
    {
        Directory.CreateDirectory(directory);
        WriteHistories(dataset, dataset.Train, Path.Combine(directory, FileNames[0]), SequenceColumns.History);
        WriteHistories(dataset, dataset.Validation, Path.Combine(directory, FileNames[1]), SequenceColumns.History);
        WriteHistories(dataset, dataset.Validation, Path.Combine(directory, FileNames[2]), SequenceColumns.FoldOut);
        WriteHistories(dataset, dataset.Test, Path.Combine(directory, FileNames[3]), SequenceColumns.History);
        WriteHistories(dataset, dataset.Test, Path.Combine(directory, FileNames[4]), SequenceColumns.FoldOut);
    }

    private static void WriteHistories(SequenceDataset dataset, IDataView view, string path, string itemColumn)
    {
        bool withTimes = itemColumn == SequenceColumns.History;
        var columns = new List<DataViewSchema.Column> { view.Schema[SequenceColumns.UserId], view.Schema[itemColumn] };
        if (withTimes)
            columns.Add(view.Schema[SequenceColumns.HistoryTimestamps]);
        using var cursor = view.GetRowCursor(columns);
        var userGetter = cursor.GetGetter<uint>(view.Schema[SequenceColumns.UserId]);
        var itemGetter = cursor.GetGetter<VBuffer<uint>>(view.Schema[itemColumn]);
        var timeGetter = withTimes ? cursor.GetGetter<VBuffer<long>>(view.Schema[SequenceColumns.HistoryTimestamps]) : null;
        uint userKey = 0;
        VBuffer<uint> items = default;
        VBuffer<long> times = default;

        var text = new StringBuilder("user_id,item_id,position,timestamp\n");
        while (cursor.MoveNext())
        {
            userGetter(ref userKey);
            itemGetter(ref items);
            timeGetter?.Invoke(ref times);
            uint userId = dataset.UserIds[(int)userKey - 1];
            var keys = items.DenseValues().ToArray();
            var stamps = withTimes ? times.DenseValues().ToArray() : null;
            for (int i = 0; i < keys.Length; i++)
            {
                text.Append(userId.ToString(CultureInfo.InvariantCulture)).Append(',')
                    .Append(dataset.ItemIds[(int)keys[i] - 1].ToString(CultureInfo.InvariantCulture)).Append(',')
                    .Append(i.ToString(CultureInfo.InvariantCulture)).Append(',');
                if (stamps is not null)
                    text.Append(stamps[i].ToString(CultureInfo.InvariantCulture));
                text.Append('\n');
            }
        }
        AtomicFile.WriteAllText(path, text.ToString());
    }
}
