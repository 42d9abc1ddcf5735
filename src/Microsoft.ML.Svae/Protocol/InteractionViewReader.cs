using Microsoft.ML.Data;

namespace Microsoft.ML.Svae.Protocol;

/// <summary>
/// Reads the id, rating and time columns of an interaction <see cref="IDataView"/> into arrays, converting
/// the supported column types and naming the column, row and value of anything that cannot be converted.
/// </summary>
internal static class InteractionViewReader
{
    /// <summary>
    /// Reads the columns. Ids: Text (any non-empty string, e.g. a product SKU) and Int64 (any value) keep their type:
    /// the table holds UInt32 stand-ins (the id's rank among the column's ids) and <see cref="IdNames"/> to get the
    /// ids back. Key&lt;UInt32&gt; columns with a <c>KeyValues</c> annotation of Text, Int64 or UInt32 ids (as written
    /// by <c>MapValueToKey</c>) are read as those ids; missing keys are an error. UInt32, any other integer type or
    /// integral Single/Double (0 ≤ id ≤ 4294967295), and other Key&lt;UInt32&gt; columns (the key value is used as
    /// the id) are read as UInt32 ids. Ratings: any numeric type.
    /// Times: Int64 and other integer types or Single/Double (Unix seconds, truncated toward negative infinity),
    /// DateTime (taken as UTC) or DateTimeOffset. A null rating column gives ratings of 1; a null time column
    /// gives the 0-based row index. With <paramref name="keepRatingsAbove"/>, only rows whose rating is greater are
    /// kept (as <see cref="SequenceDataCatalog.Binarize"/> compares), and a NaN or infinite rating is an error;
    /// row numbers in errors and row-index times count the rows of <paramref name="data"/>, dropped ones included.
    /// </summary>
    public static InteractionTable Read(IDataView data, string userColumn, string itemColumn, string? ratingColumn, string? timestampColumn,
        float? keepRatingsAbove = null)
    {
        ArgumentNullException.ThrowIfNull(data);
        var schema = data.Schema;
        var user = SchemaChecks.Column(schema, userColumn, "user id");
        var item = SchemaChecks.Column(schema, itemColumn, "item id");
        DataViewSchema.Column? rating = ratingColumn is null ? null : SchemaChecks.Column(schema, ratingColumn, "rating");
        DataViewSchema.Column? time = timestampColumn is null ? null : SchemaChecks.Column(schema, timestampColumn, "timestamp");
        CheckIdType(user, "user id");
        CheckIdType(item, "item id");
        if (rating is { } r && !IsNumeric(r.Type))
            throw new ArgumentOutOfRangeException(r.Name, $"The rating column '{r.Name}' must be numeric (Single, Double or an integer type), but its type is {SchemaChecks.Describe(r.Type)}.");
        if (time is { } t && !IsTime(t.Type))
            throw new ArgumentOutOfRangeException(t.Name, $"The timestamp column '{t.Name}' must hold Unix seconds (Int64 or another numeric type) or DateTime/DateTimeOffset values, but its type is {SchemaChecks.Describe(t.Type)}.");

        if (keepRatingsAbove is not null && rating is null)
            throw new ArgumentNullException(nameof(ratingColumn), "A rating column is needed to keep ratings above a threshold.");
        if (keepRatingsAbove is null && TryReadArrays(data, user, item, rating, time, out var direct))
            return direct;

        var userIds = PrepareIds(data, user, "user id");
        var itemIds = PrepareIds(data, item, "item id");

        long? knownRows = data.GetRowCount();
        var builder = new InteractionTableBuilder(knownRows is long k ? (int)Math.Min(k, Array.MaxLength) : 1024);
        var columns = new List<DataViewSchema.Column> { user, item };
        if (rating is { } rc) columns.Add(rc);
        if (time is { } tc) columns.Add(tc);
        using var cursor = data.GetRowCursor(columns.Distinct());
        long row = -1;
        var userGetter = IdGetter(cursor, user, "user id", () => row, userIds);
        var itemGetter = IdGetter(cursor, item, "item id", () => row, itemIds);
        var ratingGetter = rating is { } rg ? RatingGetter(cursor, rg) : null;
        var timeGetter = time is { } tg ? TimeGetter(cursor, tg, () => row) : null;
        while (cursor.MoveNext())
        {
            row++;
            double value = ratingGetter is null ? 1 : ratingGetter();
            if (keepRatingsAbove is float threshold)
            {
                if (!double.IsFinite(value))
                    throw NonFiniteRating(rating!.Value, row, value);
                if (!(value > threshold))
                    continue;
            }
            uint u = userGetter();
            uint i = itemGetter();
            long seconds = timeGetter is null ? row : timeGetter();
            builder.Add(u, i, (float)value, seconds);
        }
        var table = builder.Build();
        table.UserNames = userIds.Names;
        table.ItemNames = itemIds.Names;
        return table;
    }

    /// <summary>Counts the rows (uses the row count the view knows, else cursors through it).</summary>
    public static long CountRows(IDataView data)
    {
        if (data.GetRowCount() is long known)
            return known;
        long count = 0;
        using var cursor = data.GetRowCursor(Array.Empty<DataViewSchema.Column>());
        while (cursor.MoveNext())
            count++;
        return count;
    }

    /// <summary>Reads the user column only (same conversions as <see cref="Read"/>; Text and Int64 ids as their stand-ins).</summary>
    public static uint[] ReadIds(IDataView data, string column, string role)
    {
        var col = SchemaChecks.Column(data.Schema, column, role);
        CheckIdType(col, role);
        var ids = PrepareIds(data, col, role);
        var result = new List<uint>(data.GetRowCount() is long k ? (int)Math.Min(k, Array.MaxLength) : 1024);
        using var cursor = data.GetRowCursor(new[] { col });
        long row = -1;
        var getter = IdGetter(cursor, col, role, () => row, ids);
        while (cursor.MoveNext())
        {
            row++;
            result.Add(getter());
        }
        return result.ToArray();
    }

    /// <summary>
    /// Throws <see cref="InvalidDataException"/> naming the first row of a Single or Double rating column whose value is
    /// NaN or infinite (integer columns are always finite and are not read).
    /// </summary>
    public static void CheckFiniteRatings(IDataView data, DataViewSchema.Column rating)
    {
        if (rating.Type.RawType != typeof(float) && rating.Type.RawType != typeof(double))
            return;
        if (data is ArrayDataView view && view.FindColumn(rating.Name) is ScalarArrayColumn<float> array)
        {
            for (int r = 0; r < view.RowCount; r++)
                if (!float.IsFinite(array.Values[r]))
                    throw NonFiniteRating(rating, r, array.Values[r]);
            return;
        }
        using var cursor = data.GetRowCursor(new[] { rating });
        var getter = DoubleGetter(cursor, rating);
        long row = -1;
        while (cursor.MoveNext())
        {
            row++;
            double value = getter();
            if (!double.IsFinite(value))
                throw NonFiniteRating(rating, row, value);
        }
    }

    private static InvalidDataException NonFiniteRating(DataViewSchema.Column column, long row, double value)
    {
        string shown = double.IsNaN(value) ? "NaN" : value > 0 ? "+Infinity" : "-Infinity";
        string hint = double.IsNaN(value)
            ? "NaN is a missing rating: remove such rows first (e.g. mlContext.Data.FilterRowsByMissingValues) or give them a rating"
            : "an infinite rating is most likely a bug upstream";
        return new InvalidDataException(
            $"Row {row} (0-based) of the rating column '{column.Name}' has the value {shown}, which is not a finite number; ratings must be finite ({hint}).");
    }

    // Fast path: the readers' own array view, read without cursoring.
    private static bool TryReadArrays(IDataView data, DataViewSchema.Column user, DataViewSchema.Column item,
        DataViewSchema.Column? rating, DataViewSchema.Column? time, out InteractionTable table)
    {
        table = null!;
        if (data is not ArrayDataView view)
            return false;
        if (view.FindColumn(user.Name) is not ScalarArrayColumn<uint> { Type: NumberDataViewType } users ||
            view.FindColumn(item.Name) is not ScalarArrayColumn<uint> { Type: NumberDataViewType } items)
            return false;
        float[] ratings;
        if (rating is { } r)
        {
            if (view.FindColumn(r.Name) is not ScalarArrayColumn<float> ratingColumn)
                return false;
            ratings = ratingColumn.Values;
        }
        else
        {
            ratings = new float[view.RowCount];
            Array.Fill(ratings, 1f);
        }
        long[] times;
        if (time is { } t)
        {
            if (view.FindColumn(t.Name) is not ScalarArrayColumn<long> timeColumn)
                return false;
            times = timeColumn.Values;
        }
        else
        {
            times = new long[view.RowCount];
            for (int i = 0; i < times.Length; i++)
                times[i] = i;
        }
        table = new InteractionTable(view.RowCount, users.Values, items.Values, ratings, times);
        return true;
    }

    private static void CheckIdType(DataViewSchema.Column column, string role)
    {
        var type = column.Type;
        if (type is KeyDataViewType key && key.RawType == typeof(uint))
            return;
        if (type is NumberDataViewType || type is TextDataViewType)
            return;
        throw new ArgumentOutOfRangeException(column.Name,
            $"The {role} column '{column.Name}' must hold ids: Text (e.g. product SKUs), Int64, UInt32 or another integer type, or Key<UInt32>; " +
            $"but its type is {SchemaChecks.Describe(type)}.");
    }

    /// <summary>
    /// How the ids of a column are read. <see cref="Names"/>: the ids of a Text or Int64 column (read as stand-ins).
    /// <see cref="KeyIds"/>: for a key column with <c>KeyValues</c>, the id (or stand-in) of key k at k − 1.
    /// </summary>
    private readonly record struct IdColumn(IdNames? Names, uint[]? KeyIds);

    /// <summary>
    /// Prepares the reading of an id column. Text and Int64 columns: their distinct ids (a first pass over the
    /// column; an empty text id is an error naming the row). Key columns with a <c>KeyValues</c> annotation of
    /// Text, Int64 or UInt32 ids (as <c>MapValueToKey</c> writes): those ids, so that the protocol and the models
    /// trained on it see the raw ids, not the keys. Other columns are read as UInt32 ids (a key's value is its id).
    /// </summary>
    private static IdColumn PrepareIds(IDataView data, DataViewSchema.Column column, string role)
    {
        if (column.Type is KeyDataViewType key)
            return KeyValueIds(column, key);
        return new IdColumn(ReadNames(data, column, role), null);
    }

    private static IdColumn KeyValueIds(DataViewSchema.Column column, KeyDataViewType key)
    {
        var annotation = column.Annotations.Schema.GetColumnOrNull("KeyValues");
        if (annotation is null || annotation.Value.Type is not VectorDataViewType vector || (ulong)vector.Size != key.Count)
            return default;
        if (vector.ItemType is TextDataViewType)
        {
            var ids = KeyValues<ReadOnlyMemory<char>>(column).Select(v => v.ToString()).ToArray();
            if (ids.Any(id => id.Length == 0) || ids.Distinct(StringComparer.Ordinal).Count() != ids.Length)
                return default;
            var names = new IdNames<string>(TextDataViewType.Instance, ids, StringComparer.Ordinal);
            return new IdColumn(names, ids.Select(names.StandIn).ToArray());
        }
        if (vector.ItemType == NumberDataViewType.Int64)
        {
            var ids = KeyValues<long>(column);
            if (ids.Distinct().Count() != ids.Length)
                return default;
            var names = new IdNames<long>(NumberDataViewType.Int64, ids, Comparer<long>.Default);
            return new IdColumn(names, ids.Select(names.StandIn).ToArray());
        }
        if (vector.ItemType == NumberDataViewType.UInt32)
        {
            var ids = KeyValues<uint>(column);
            return ids.Distinct().Count() == ids.Length ? new IdColumn(null, ids) : default;
        }
        return default;
    }

    private static T[] KeyValues<T>(DataViewSchema.Column column)
    {
        var buffer = default(VBuffer<T>);
        column.GetKeyValues(ref buffer);
        return buffer.DenseValues().ToArray();
    }

    private static IdNames? ReadNames(IDataView data, DataViewSchema.Column column, string role)
    {
        if (column.Type is TextDataViewType)
        {
            var ids = new HashSet<string>(StringComparer.Ordinal);
            var lookup = ids.GetAlternateLookup<ReadOnlySpan<char>>();
            using var cursor = data.GetRowCursor(new[] { column });
            var getter = cursor.GetGetter<ReadOnlyMemory<char>>(column);
            ReadOnlyMemory<char> value = default;
            long row = -1;
            while (cursor.MoveNext())
            {
                row++;
                getter(ref value);
                if (value.IsEmpty)
                    throw new InvalidDataException($"Row {row} (0-based) of the {role} column '{column.Name}' is empty, which is not an id.");
                lookup.Add(value.Span);
            }
            return new IdNames<string>(TextDataViewType.Instance, ids, StringComparer.Ordinal);
        }
        if (column.Type == NumberDataViewType.Int64)
        {
            var ids = new HashSet<long>();
            using var cursor = data.GetRowCursor(new[] { column });
            var getter = cursor.GetGetter<long>(column);
            long value = 0;
            while (cursor.MoveNext())
            {
                getter(ref value);
                ids.Add(value);
            }
            return new IdNames<long>(NumberDataViewType.Int64, ids, Comparer<long>.Default);
        }
        return null;
    }

    private static bool IsNumeric(DataViewType type) => type is NumberDataViewType;

    private static bool IsTime(DataViewType type) => type is NumberDataViewType || type is DateTimeDataViewType || type is DateTimeOffsetDataViewType;

    private static Exception BadValue(string role, DataViewSchema.Column column, long row, object value, string expected)
        => new InvalidDataException($"Row {row} (0-based) of the {role} column '{column.Name}' has the value {value}, which is not {expected}.");

    private static Func<uint> IdGetter(DataViewRowCursor cursor, DataViewSchema.Column column, string role, Func<long> row, IdColumn ids)
    {
        const string expected = "a valid id (an integer between 0 and 4294967295)";
        var type = column.Type;
        var names = ids.Names;
        if (ids.KeyIds is uint[] keyIds)
        {
            var g = cursor.GetGetter<uint>(column);
            uint v = 0;
            return () =>
            {
                g(ref v);
                if (v == 0)
                    throw new InvalidDataException($"Row {row()} (0-based) of the {role} column '{column.Name}' is a missing key (0); filter missing values first.");
                if (v > keyIds.Length)
                    throw BadValue(role, column, row(), v, $"a key of its key type (1 to {keyIds.Length})");
                return keyIds[v - 1];
            };
        }
        if (names is IdNames<string> text)
        {
            var g = cursor.GetGetter<ReadOnlyMemory<char>>(column);
            ReadOnlyMemory<char> v = default;
            return () => { g(ref v); return text.StandIn(v.Span); };
        }
        if (names is IdNames<long> int64)
        {
            var g = cursor.GetGetter<long>(column);
            long v = 0;
            return () => { g(ref v); return int64.StandIn(v); };
        }
        if (type is KeyDataViewType)
        {
            var g = cursor.GetGetter<uint>(column);
            uint v = 0;
            return () =>
            {
                g(ref v);
                if (v == 0)
                    throw new InvalidDataException($"Row {row()} (0-based) of the {role} column '{column.Name}' is a missing key (0); filter missing values first.");
                return v;
            };
        }
        if (type.RawType == typeof(uint))
        {
            var g = cursor.GetGetter<uint>(column);
            uint v = 0;
            return () => { g(ref v); return v; };
        }
        if (type.RawType == typeof(double) || type.RawType == typeof(float))
        {
            var g = DoubleGetter(cursor, column);
            return () =>
            {
                double d = g();
                if (!(d >= 0 && d <= uint.MaxValue && Math.Floor(d) == d))
                    throw BadValue(role, column, row(), d, expected);
                return (uint)d;
            };
        }
        var integer = IntegerGetter(cursor, column);
        return () =>
        {
            var (isNegative, magnitude) = integer();
            if (isNegative || magnitude > uint.MaxValue)
                throw BadValue(role, column, row(), isNegative ? "-" + magnitude : magnitude, expected);
            return (uint)magnitude;
        };
    }

    private static Func<long> TimeGetter(DataViewRowCursor cursor, DataViewSchema.Column column, Func<long> row)
    {
        var type = column.Type;
        if (type is DateTimeDataViewType)
        {
            var g = cursor.GetGetter<DateTime>(column);
            DateTime v = default;
            return () =>
            {
                g(ref v);
                return new DateTimeOffset(DateTime.SpecifyKind(v, DateTimeKind.Utc)).ToUnixTimeSeconds();
            };
        }
        if (type is DateTimeOffsetDataViewType)
        {
            var g = cursor.GetGetter<DateTimeOffset>(column);
            DateTimeOffset v = default;
            return () => { g(ref v); return v.ToUnixTimeSeconds(); };
        }
        if (type.RawType == typeof(double) || type.RawType == typeof(float))
        {
            var g = DoubleGetter(cursor, column);
            return () =>
            {
                double value = g();
                double d = Math.Floor(value);
                if (!(d >= long.MinValue && d < long.MaxValue))
                    throw BadValue("timestamp", column, row(), value, "a finite number of seconds between Int64.MinValue and Int64.MaxValue");
                return (long)d;
            };
        }
        var integer = IntegerGetter(cursor, column);
        return () =>
        {
            // Every Int64 is a valid time (only the order matters), Int64.MinValue included: its magnitude 2^63
            // is one more than Int64.MaxValue. Only an unsigned value above Int64.MaxValue does not fit.
            var (isNegative, magnitude) = integer();
            if (isNegative)
                return magnitude == 1UL << 63 ? long.MinValue : -(long)magnitude;
            if (magnitude > long.MaxValue)
                throw BadValue("timestamp", column, row(), magnitude, "a number of seconds between Int64.MinValue and Int64.MaxValue");
            return (long)magnitude;
        };
    }

    /// <summary>A Single or Double column as Double.</summary>
    private static Func<double> DoubleGetter(DataViewRowCursor cursor, DataViewSchema.Column column)
    {
        if (column.Type.RawType == typeof(double)) { var g = cursor.GetGetter<double>(column); double v = 0; return () => { g(ref v); return v; }; }
        var f = cursor.GetGetter<float>(column);
        float x = 0;
        return () => { f(ref x); return x; };
    }

    /// <summary>
    /// A numeric rating column: Double values as they are, Single and integer values as Single (the precision at
    /// which <see cref="SequenceDataCatalog.Binarize"/> compares them with the threshold).
    /// </summary>
    private static Func<double> RatingGetter(DataViewRowCursor cursor, DataViewSchema.Column column)
    {
        var raw = column.Type.RawType;
        if (raw == typeof(float)) { var g = cursor.GetGetter<float>(column); float v = 0; return () => { g(ref v); return v; }; }
        if (raw == typeof(double)) { var g = cursor.GetGetter<double>(column); double v = 0; return () => { g(ref v); return v; }; }
        var integer = IntegerGetter(cursor, column);
        return () => { var (neg, mag) = integer(); return neg ? -(float)mag : (float)mag; };
    }

    /// <summary>An integer column as (sign, magnitude).</summary>
    private static Func<(bool Negative, ulong Magnitude)> IntegerGetter(DataViewRowCursor cursor, DataViewSchema.Column column)
    {
        var raw = column.Type.RawType;
        if (raw == typeof(sbyte)) { var g = cursor.GetGetter<sbyte>(column); sbyte v = 0; return () => { g(ref v); return Signed(v); }; }
        if (raw == typeof(short)) { var g = cursor.GetGetter<short>(column); short v = 0; return () => { g(ref v); return Signed(v); }; }
        if (raw == typeof(int)) { var g = cursor.GetGetter<int>(column); int v = 0; return () => { g(ref v); return Signed(v); }; }
        if (raw == typeof(long)) { var g = cursor.GetGetter<long>(column); long v = 0; return () => { g(ref v); return Signed(v); }; }
        if (raw == typeof(byte)) { var g = cursor.GetGetter<byte>(column); byte v = 0; return () => { g(ref v); return (false, v); }; }
        if (raw == typeof(ushort)) { var g = cursor.GetGetter<ushort>(column); ushort v = 0; return () => { g(ref v); return (false, v); }; }
        if (raw == typeof(uint)) { var g = cursor.GetGetter<uint>(column); uint v = 0; return () => { g(ref v); return (false, v); }; }
        if (raw == typeof(ulong)) { var g = cursor.GetGetter<ulong>(column); ulong v = 0; return () => { g(ref v); return (false, v); }; }
        throw new ArgumentOutOfRangeException(column.Name, $"Column '{column.Name}' has the unsupported type {SchemaChecks.Describe(column.Type)}.");
    }

    private static (bool, ulong) Signed(long v) => v < 0 ? (true, (ulong)(-(v + 1)) + 1) : (false, (ulong)v);
}
