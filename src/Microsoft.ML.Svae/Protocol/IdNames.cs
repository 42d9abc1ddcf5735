using Microsoft.ML.Data;

namespace Microsoft.ML.Svae.Protocol;

/// <summary>
/// The ids of a Text or Int64 id column, which the protocol keeps in their own type: inside, the protocol works on
/// UInt32 stand-ins, each id's rank among the column's distinct ids in ascending (ordinal for text) order, so that
/// sorting the stand-ins sorts the ids; this class turns stand-ins back into ids.
/// </summary>
internal abstract class IdNames
{
    /// <summary>The type of the ids (Text or Int64).</summary>
    public abstract PrimitiveDataViewType Type { get; }

    /// <summary>The number of distinct ids (stand-ins 0..Count − 1).</summary>
    public abstract int Count { get; }

    /// <summary>The ids of <paramref name="standIns"/>, in that order, as a <c>KeyValues</c> annotation.</summary>
    public abstract DataViewSchema.Annotations KeyValues(uint[] standIns);

    /// <summary>A one-column view of the ids of <paramref name="standIns"/>, in that order.</summary>
    public abstract IDataView View(string column, uint[] standIns);

    /// <summary>The ids of <paramref name="standIns"/> as <typeparamref name="T"/> (string for text).</summary>
    public abstract IReadOnlyList<T> Values<T>(uint[] standIns);
}

/// <summary>The <see cref="IdNames"/> of ids of type <typeparamref name="T"/> (<see cref="string"/> or <see cref="long"/>).</summary>
internal sealed class IdNames<T> : IdNames
    where T : notnull
{
    private readonly T[] _sorted;
    private readonly Dictionary<T, uint> _standIn;
    private readonly PrimitiveDataViewType _type;

    /// <summary>Names for the distinct ids <paramref name="ids"/> (any order; sorted here).</summary>
    public IdNames(PrimitiveDataViewType type, IEnumerable<T> ids, IComparer<T> comparer)
    {
        _type = type;
        _sorted = ids.Distinct().ToArray();
        Array.Sort(_sorted, comparer);
        _standIn = new Dictionary<T, uint>(_sorted.Length, typeof(T) == typeof(string) ? (IEqualityComparer<T>)StringComparer.Ordinal : null);
        for (int i = 0; i < _sorted.Length; i++)
            _standIn.Add(_sorted[i], (uint)i);
    }

    public override PrimitiveDataViewType Type => _type;

    public override int Count => _sorted.Length;

    /// <summary>The stand-in of an id of the column.</summary>
    public uint StandIn(T id) => _standIn[id];

    /// <summary>The stand-in of a text id of the column (no string is allocated).</summary>
    public uint StandIn(ReadOnlySpan<char> id) => ((Dictionary<string, uint>)(object)_standIn).GetAlternateLookup<ReadOnlySpan<char>>()[id];

    public override IReadOnlyList<TValue> Values<TValue>(uint[] standIns)
    {
        if (typeof(TValue) != typeof(T))
            throw new InvalidOperationException($"The ids are {SchemaChecks.Describe(_type)}, not {typeof(TValue).Name}.");
        return Array.AsReadOnly(standIns.Select(s => (TValue)(object)_sorted[s]).ToArray());
    }

    public override DataViewSchema.Annotations KeyValues(uint[] standIns)
    {
        var builder = new DataViewSchema.Annotations.Builder();
        var type = new VectorDataViewType(_type, Math.Max(1, standIns.Length));
        if (typeof(T) == typeof(string))
        {
            var values = standIns.Select(s => ((string)(object)_sorted[s]).AsMemory()).ToArray();
            builder.Add("KeyValues", type, (ValueGetter<VBuffer<ReadOnlyMemory<char>>>)((ref VBuffer<ReadOnlyMemory<char>> dst) => Fill(values, ref dst)));
        }
        else
        {
            var values = standIns.Select(s => _sorted[s]).ToArray();
            builder.Add("KeyValues", type, (ValueGetter<VBuffer<T>>)((ref VBuffer<T> dst) => Fill(values, ref dst)));
        }
        return builder.ToAnnotations();
    }

    public override IDataView View(string column, uint[] standIns)
        => typeof(T) == typeof(string)
            ? new ArrayDataView(standIns.Length, new ScalarArrayColumn<ReadOnlyMemory<char>>(column, _type,
                standIns.Select(s => ((string)(object)_sorted[s]).AsMemory()).ToArray()))
            : new ArrayDataView(standIns.Length, new ScalarArrayColumn<T>(column, _type, standIns.Select(s => _sorted[s]).ToArray()));

    private static void Fill<TValue>(TValue[] values, ref VBuffer<TValue> dst)
    {
        var editor = VBufferEditor.Create(ref dst, values.Length);
        values.AsSpan().CopyTo(editor.Values);
        dst = editor.Commit();
    }
}
