using Microsoft.ML.Data;

namespace Microsoft.ML.Svae.Tests.Common;

/// <summary>Small in-memory sequence data sets for tests.</summary>
internal static class SequenceTestData
{
    public sealed class Row
    {
        public uint[] History { get; set; } = Array.Empty<uint>();
        public uint[] FoldOut { get; set; } = Array.Empty<uint>();
    }

    /// <summary>One row per history (item keys 1..itemCount, 0 = unknown), with optional fold-outs.</summary>
    public static IDataView Histories(MLContext mlContext, int itemCount, IEnumerable<uint[]> histories, IEnumerable<uint[]>? foldOuts = null)
    {
        var definition = SchemaDefinition.Create(typeof(Row));
        var keyVector = new VectorDataViewType(new KeyDataViewType(typeof(uint), itemCount));
        definition[nameof(Row.History)].ColumnType = keyVector;
        definition[nameof(Row.FoldOut)].ColumnType = keyVector;
        var h = histories.ToList();
        var f = foldOuts?.ToList() ?? h.Select(_ => Array.Empty<uint>()).ToList();
        return mlContext.Data.LoadFromEnumerable(h.Zip(f, (a, b) => new Row { History = a, FoldOut = b }).ToList(), definition);
    }

    /// <summary>Reads a vector column of every row as key values (uint).</summary>
    public static List<uint[]> KeyColumn(IDataView data, string column)
    {
        var result = new List<uint[]>();
        var col = data.Schema[column];
        using var cursor = data.GetRowCursor(new[] { col });
        var getter = cursor.GetGetter<VBuffer<uint>>(col);
        var buffer = default(VBuffer<uint>);
        while (cursor.MoveNext())
        {
            getter(ref buffer);
            result.Add(buffer.DenseValues().ToArray());
        }
        return result;
    }

    /// <summary>Reads a float vector column of every row.</summary>
    public static List<float[]> FloatColumn(IDataView data, string column)
    {
        var result = new List<float[]>();
        var col = data.Schema[column];
        using var cursor = data.GetRowCursor(new[] { col });
        var getter = cursor.GetGetter<VBuffer<float>>(col);
        var buffer = default(VBuffer<float>);
        while (cursor.MoveNext())
        {
            getter(ref buffer);
            result.Add(buffer.DenseValues().ToArray());
        }
        return result;
    }
}
