using Microsoft.ML.Data;

namespace Microsoft.ML.Svae.Tests.Protocol;

/// <summary>An interaction row for <c>LoadFromEnumerable</c> / <c>CreateEnumerable</c>.</summary>
public sealed class InteractionRow
{
    public uint UserId { get; set; }

    public uint ItemId { get; set; }

    public float Rating { get; set; }

    public long Timestamp { get; set; }
}

public sealed class DoubleRatingRow
{
    public uint UserId { get; set; }

    public uint ItemId { get; set; }

    public double Rating { get; set; }

    public long Timestamp { get; set; }
}

public sealed class IntRatingRow
{
    public uint UserId { get; set; }

    public uint ItemId { get; set; }

    public int Rating { get; set; }

    public long Timestamp { get; set; }
}

public sealed class TextRatingRow
{
    public uint UserId { get; set; }

    public uint ItemId { get; set; }

    public string Rating { get; set; } = "";

    public long Timestamp { get; set; }
}

public sealed class BoolUserRow
{
    public bool UserId { get; set; }

    public uint ItemId { get; set; }

    public float Rating { get; set; }

    public long Timestamp { get; set; }
}

public sealed class TextUserRow
{
    public string UserId { get; set; } = "";

    public uint ItemId { get; set; }

    public float Rating { get; set; }

    public long Timestamp { get; set; }
}

public sealed class TextTimeRow
{
    public uint UserId { get; set; }

    public uint ItemId { get; set; }

    public float Rating { get; set; }

    public string Timestamp { get; set; } = "";
}

public sealed class MovieColumnRow
{
    public uint UserId { get; set; }

    public uint Movie { get; set; }

    public float Rating { get; set; }

    public long Timestamp { get; set; }
}

public sealed class IntUserRow
{
    public int UserId { get; set; }

    public uint ItemId { get; set; }

    public float Rating { get; set; }

    public long Timestamp { get; set; }
}

public sealed class TextIdDateRow
{
    public string UserId { get; set; } = "";

    public uint ItemId { get; set; }

    public DateTime Timestamp { get; set; }
}

internal static class ProtocolTestData
{
    public static string Fixture(params string[] parts)
        => Path.Combine(new[] { AppContext.BaseDirectory, "Fixtures" }.Concat(parts).ToArray());

    /// <summary>Interactions through ML.NET's LoadFromEnumerable (the generic cursor path, not the readers' arrays).</summary>
    public static IDataView Interactions(MLContext ml, IEnumerable<(uint User, uint Item, float Rating, long Time)> rows)
        => ml.Data.LoadFromEnumerable(rows.Select(r => new InteractionRow { UserId = r.User, ItemId = r.Item, Rating = r.Rating, Timestamp = r.Time }).ToList());

    public static List<InteractionRow> Rows(MLContext ml, IDataView view)
        => ml.Data.CreateEnumerable<InteractionRow>(view, reuseRowObject: false).ToList();

    /// <summary>Rows of a sequence view: user key, history keys, timestamps, fold-out keys (empty if no such column).</summary>
    public static List<(uint User, uint[] History, long[] Times, uint[] FoldOut)> SequenceRows(IDataView view)
    {
        var result = new List<(uint, uint[], long[], uint[])>();
        var schema = view.Schema;
        var foldOutColumn = schema.GetColumnOrNull(SequenceColumns.FoldOut);
        var columns = new List<DataViewSchema.Column> { schema[SequenceColumns.UserId], schema[SequenceColumns.History], schema[SequenceColumns.HistoryTimestamps] };
        if (foldOutColumn is { } f) columns.Add(f);
        using var cursor = view.GetRowCursor(columns);
        var user = cursor.GetGetter<uint>(schema[SequenceColumns.UserId]);
        var history = cursor.GetGetter<VBuffer<uint>>(schema[SequenceColumns.History]);
        var times = cursor.GetGetter<VBuffer<long>>(schema[SequenceColumns.HistoryTimestamps]);
        var foldOut = foldOutColumn is { } fo ? cursor.GetGetter<VBuffer<uint>>(fo) : null;
        uint u = 0;
        VBuffer<uint> h = default, o = default;
        VBuffer<long> t = default;
        while (cursor.MoveNext())
        {
            user(ref u);
            history(ref h);
            times(ref t);
            foldOut?.Invoke(ref o);
            result.Add((u, h.DenseValues().ToArray(), t.DenseValues().ToArray(), foldOut is null ? Array.Empty<uint>() : o.DenseValues().ToArray()));
        }
        return result;
    }

    /// <summary>A small synthetic log for protocol tests.</summary>
    public static IDataView Synthetic(MLContext ml, int users = 300, int items = 150, int seed = 7)
        => new SequenceDataCatalog(ml).GenerateSyntheticInteractions(new SyntheticInteractionOptions
        {
            Users = users,
            Items = items,
            MeanHistoryLength = 40,
            MinHistoryLength = 10,
            MaxHistoryLength = 120,
            Seed = seed,
        });
}
