using Microsoft.ML.Data;
using Microsoft.ML.Svae.Protocol;

namespace Microsoft.ML.Svae;

/// <summary>
/// The raw ids behind the keys 1..N of a key column, in key order: the column's <c>KeyValues</c> annotation
/// (as written by <c>MapValueToKey</c> and by the data protocol), or the keys themselves (UInt32) when the column
/// has none. A fitted model keeps one for its items (and one for its users where it reads a user column), so that
/// it can read and write the user's own ids.
/// </summary>
internal abstract class IdVocabulary
{
    /// <summary>The column name of the single-column views this class builds.</summary>
    public const string ValueColumn = "Value";

    /// <summary>The key column name of <see cref="IndexLookup"/>.</summary>
    public const string IndexColumn = "Index";

    /// <summary>The number of ids (keys 1..Count).</summary>
    public abstract int Count { get; }

    /// <summary>The type of one id: UInt32, Int32, Int64, UInt64, Single, Double or Text.</summary>
    public abstract PrimitiveDataViewType ItemType { get; }

    /// <summary>Whether the ids are the keys 1..Count themselves (the key column had no usable <c>KeyValues</c>).</summary>
    public bool IsKeys { get; private protected init; }

    /// <summary>The key type of the ids: <c>Key&lt;UInt32&gt;</c> with <see cref="Count"/> keys.</summary>
    public KeyDataViewType KeyType => new(typeof(uint), Count);

    /// <summary>The keys 1..<paramref name="count"/> as their own UInt32 ids.</summary>
    public static IdVocabulary Keys(int count)
    {
        var values = new uint[count];
        for (int i = 0; i < count; i++)
            values[i] = (uint)(i + 1);
        return new IdVocabulary<uint>(NumberDataViewType.UInt32, values) { IsKeys = true };
    }

    /// <summary>
    /// The raw ids of a key column with <paramref name="count"/> keys: its <c>KeyValues</c> annotation when it
    /// has one of that size, of a supported type and without duplicates; otherwise the keys themselves.
    /// </summary>
    public static IdVocabulary FromKeyColumn(DataViewSchema.Column column, int count)
    {
        var annotation = column.Annotations.Schema.GetColumnOrNull("KeyValues");
        if (annotation is null || annotation.Value.Type is not VectorDataViewType vector || vector.Size != count)
            return Keys(count);
        IdVocabulary? vocabulary = vector.ItemType switch
        {
            TextDataViewType => Read<ReadOnlyMemory<char>, string>(column, TextDataViewType.Instance, v => v.ToString()),
            NumberDataViewType n when n.RawType == typeof(uint) => Read<uint, uint>(column, n, v => v),
            NumberDataViewType n when n.RawType == typeof(int) => Read<int, int>(column, n, v => v),
            NumberDataViewType n when n.RawType == typeof(long) => Read<long, long>(column, n, v => v),
            NumberDataViewType n when n.RawType == typeof(ulong) => Read<ulong, ulong>(column, n, v => v),
            NumberDataViewType n when n.RawType == typeof(float) => Read<float, float>(column, n, v => v),
            NumberDataViewType n when n.RawType == typeof(double) => Read<double, double>(column, n, v => v),
            _ => null,
        };
        return vocabulary ?? Keys(count);
    }

    private static IdVocabulary? Read<TRaw, T>(DataViewSchema.Column column, PrimitiveDataViewType type, Func<TRaw, T> convert)
        where T : notnull
    {
        var buffer = default(VBuffer<TRaw>);
        column.GetKeyValues(ref buffer);
        var values = buffer.DenseValues().Select(convert).ToArray();
        // Ids must be distinct (and not missing values) to stand for keys; otherwise the keys are the ids.
        if (values.Distinct().Count() != values.Length || values.Any(IdVocabulary<T>.IsMissing))
            return null;
        return new IdVocabulary<T>(type, values);
    }

    /// <summary>A one-column view (<see cref="ValueColumn"/>) of the ids in key order: the key data of <c>MapValueToKey</c>.</summary>
    public abstract IDataView KeyData();

    /// <summary>
    /// A two-column view: <see cref="IndexColumn"/> (Int64 keys 1..Count) and <see cref="ValueColumn"/> (their ids),
    /// the lookup map of <c>MapValue</c>. With <paramref name="missingId"/>, the key 0 also maps to an id that is
    /// not in the vocabulary (so that a later <c>MapValueToKey</c> turns it into the missing key 0).
    /// </summary>
    public abstract IDataView IndexLookup(bool missingId);

    /// <summary>The id of key <paramref name="key"/> (1-based), as an object (a string for text ids).</summary>
    public abstract object IdOf(int key);

    /// <summary>An empty variable-length vector column of ids, for the empty views the model's chains are fitted on.</summary>
    internal abstract ArrayColumn EmptyVectorColumn(string name);

    /// <summary>An empty scalar column of ids.</summary>
    internal abstract ArrayColumn EmptyScalarColumn(string name);
}

/// <summary>An <see cref="IdVocabulary"/> of ids of type <typeparamref name="T"/> (<see cref="string"/> for text).</summary>
internal sealed class IdVocabulary<T> : IdVocabulary
    where T : notnull
{
    private readonly T[] _values;
    private readonly PrimitiveDataViewType _type;

    public IdVocabulary(PrimitiveDataViewType type, T[] values)
    {
        _type = type;
        _values = values;
    }

    public override int Count => _values.Length;

    public override PrimitiveDataViewType ItemType => _type;

    public IReadOnlyList<T> Values => _values;

    public override object IdOf(int key) => _values[key - 1];

    /// <summary>NaN ids are missing values to ML.NET's key mapping and cannot stand for an item.</summary>
    public static bool IsMissing(T value) => value switch
    {
        float f => float.IsNaN(f),
        double d => double.IsNaN(d),
        _ => false,
    };

    public override IDataView KeyData() => new ArrayDataView(Count, Column(ValueColumn, _values));

    public override IDataView IndexLookup(bool missingId)
    {
        int rows = Count + (missingId ? 1 : 0);
        var index = new long[rows];
        var values = new T[rows];
        for (int i = 0; i < Count; i++)
        {
            index[i] = i + 1;
            values[i] = _values[i];
        }
        if (missingId)
        {
            index[Count] = 0;
            values[Count] = NotAnId();
        }
        return new ArrayDataView(rows,
            new ScalarArrayColumn<long>(IndexColumn, NumberDataViewType.Int64, index),
            Column(ValueColumn, values));
    }

    /// <summary>A value that is no id of the vocabulary.</summary>
    private T NotAnId()
    {
        var set = new HashSet<T>(_values);
        object candidate = _values switch
        {
            string[] => FirstUnused(set, i => (T)(object)(i == 0 ? "" : "\u0000" + i)),
            float[] => float.NaN,
            double[] => double.NaN,
            uint[] => FirstUnused(set, i => (T)(object)(uint)i),
            int[] => FirstUnused(set, i => (T)(object)(int)-i),
            long[] => FirstUnused(set, i => (T)(object)(long)-i),
            ulong[] => FirstUnused(set, i => (T)(object)(ulong)i),
            _ => throw new InvalidOperationException($"Unsupported id type {typeof(T).Name}."),
        };
        return (T)candidate;
    }

    private static T FirstUnused(HashSet<T> used, Func<int, T> candidate)
    {
        // At most Count + 1 candidates are needed: at least one is unused.
        for (int i = 0; ; i++)
        {
            var value = candidate(i);
            if (!used.Contains(value))
                return value;
        }
    }

    private ArrayColumn Column(string name, T[] values)
        => typeof(T) == typeof(string)
            ? new ScalarArrayColumn<ReadOnlyMemory<char>>(name, _type, values.Select(v => ((string)(object)v).AsMemory()).ToArray())
            : new ScalarArrayColumn<T>(name, _type, values);

    internal override ArrayColumn EmptyVectorColumn(string name)
        => typeof(T) == typeof(string)
            ? new RaggedArrayColumn<ReadOnlyMemory<char>>(name, _type, new int[1], Array.Empty<ReadOnlyMemory<char>>())
            : new RaggedArrayColumn<T>(name, _type, new int[1], Array.Empty<T>());

    internal override ArrayColumn EmptyScalarColumn(string name) => Column(name, Array.Empty<T>());
}
