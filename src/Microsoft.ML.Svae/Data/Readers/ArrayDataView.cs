using Microsoft.ML.Data;

namespace Microsoft.ML.Svae;

/// <summary>
/// One column of an <see cref="ArrayDataView"/>: a name, a type, optional annotations and a way to make a getter
/// that reads the cursor's current row from arrays held in memory.
/// </summary>
internal abstract class ArrayColumn
{
    protected ArrayColumn(string name, DataViewType type, DataViewSchema.Annotations? annotations)
    {
        Name = name;
        Type = type;
        Annotations = annotations;
    }

    public string Name { get; }

    public DataViewType Type { get; }

    public DataViewSchema.Annotations? Annotations { get; }

    /// <summary>A <c>ValueGetter&lt;T&gt;</c> reading row <see cref="ArrayDataView.Cursor.Row"/> of the cursor.</summary>
    public abstract Delegate CreateGetter(ArrayDataView.Cursor cursor);
}

/// <summary>A scalar column backed by an array (the first row-count entries are used; the array is not copied).</summary>
internal sealed class ScalarArrayColumn<T> : ArrayColumn
{
    public ScalarArrayColumn(string name, DataViewType type, T[] values, DataViewSchema.Annotations? annotations = null)
        : base(name, type, annotations)
    {
        if (type.RawType != typeof(T))
            throw new ArgumentException($"Column '{name}': type {type} does not hold {typeof(T).Name} values.");
        Values = values;
    }

    public T[] Values { get; }

    public override Delegate CreateGetter(ArrayDataView.Cursor cursor)
    {
        var values = Values;
        return (ValueGetter<T>)((ref T value) => value = values[cursor.Row]);
    }
}

/// <summary>
/// A variable-length vector column in CSR layout: row <c>r</c> is <c>Values[Offsets[r] .. Offsets[r + 1]]</c>.
/// </summary>
internal sealed class RaggedArrayColumn<T> : ArrayColumn
{
    public RaggedArrayColumn(string name, PrimitiveDataViewType itemType, int[] offsets, T[] values, DataViewSchema.Annotations? annotations = null)
        : base(name, new VectorDataViewType(itemType), annotations)
    {
        if (itemType.RawType != typeof(T))
            throw new ArgumentException($"Column '{name}': item type {itemType} does not hold {typeof(T).Name} values.");
        Offsets = offsets;
        Values = values;
    }

    public int[] Offsets { get; }

    public T[] Values { get; }

    public override Delegate CreateGetter(ArrayDataView.Cursor cursor)
    {
        var offsets = Offsets;
        var values = Values;
        return (ValueGetter<VBuffer<T>>)((ref VBuffer<T> dst) =>
        {
            int row = cursor.Row;
            int start = offsets[row];
            int length = offsets[row + 1] - start;
            var editor = VBufferEditor.Create(ref dst, length);
            values.AsSpan(start, length).CopyTo(editor.Values);
            dst = editor.Commit();
        });
    }
}

/// <summary>
/// A variable-length <c>Vector&lt;Key&lt;UInt32&gt;&gt;</c> column over 0-based item indices in CSR layout
/// (the layout of <see cref="UserSequences"/>): index <c>i</c> is exposed as key <c>i + 1</c>.
/// </summary>
internal sealed class ItemKeyVectorColumn : ArrayColumn
{
    public ItemKeyVectorColumn(string name, int itemCount, int[] offsets, int[] items, DataViewSchema.Annotations? annotations = null)
        : base(name, new VectorDataViewType(new KeyDataViewType(typeof(uint), itemCount)), annotations)
    {
        Offsets = offsets;
        Items = items;
    }

    public int[] Offsets { get; }

    public int[] Items { get; }

    public override Delegate CreateGetter(ArrayDataView.Cursor cursor)
    {
        var offsets = Offsets;
        var items = Items;
        return (ValueGetter<VBuffer<uint>>)((ref VBuffer<uint> dst) =>
        {
            int row = cursor.Row;
            int start = offsets[row];
            int length = offsets[row + 1] - start;
            var editor = VBufferEditor.Create(ref dst, length);
            var output = editor.Values;
            var input = items.AsSpan(start, length);
            for (int i = 0; i < input.Length; i++)
                output[i] = (uint)input[i] + 1;
            dst = editor.Commit();
        });
    }
}

/// <summary>
/// A small read-only <see cref="IDataView"/> over column arrays held in memory. Cursoring is sequential
/// (no shuffling); creating the view copies nothing. Used for the readers' interaction logs and the protocol output.
/// </summary>
internal sealed class ArrayDataView : IDataView
{
    private readonly ArrayColumn[] _columns;
    private readonly int _rowCount;

    public ArrayDataView(int rowCount, params ArrayColumn[] columns)
    {
        if (rowCount < 0)
            throw new ArgumentOutOfRangeException(nameof(rowCount));
        _rowCount = rowCount;
        _columns = columns;
        var builder = new DataViewSchema.Builder();
        foreach (var column in columns)
            builder.AddColumn(column.Name, column.Type, column.Annotations);
        Schema = builder.ToSchema();
    }

    public bool CanShuffle => false;

    public DataViewSchema Schema { get; }

    public int RowCount => _rowCount;

    public long? GetRowCount() => _rowCount;

    /// <summary>The column named <paramref name="name"/>, or null (for fast paths that read the arrays directly).</summary>
    public ArrayColumn? FindColumn(string name)
    {
        var column = Schema.GetColumnOrNull(name);
        return column is null ? null : _columns[column.Value.Index];
    }

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
        => new Cursor(this, columnsNeeded);

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null)
        => new[] { GetRowCursor(columnsNeeded, rand) };

    /// <summary>A sequential cursor over the rows.</summary>
    internal sealed class Cursor : DataViewRowCursor
    {
        private readonly ArrayDataView _parent;
        private readonly bool[] _active;
        private readonly Delegate?[] _getters;
        private long _position = -1;

        public Cursor(ArrayDataView parent, IEnumerable<DataViewSchema.Column> columnsNeeded)
        {
            _parent = parent;
            _active = new bool[parent._columns.Length];
            _getters = new Delegate?[parent._columns.Length];
            foreach (var column in columnsNeeded ?? Enumerable.Empty<DataViewSchema.Column>())
            {
                if (column.Index < 0 || column.Index >= _active.Length)
                    throw new ArgumentOutOfRangeException(nameof(columnsNeeded), $"Column '{column.Name}' is not part of this data view.");
                _active[column.Index] = true;
            }
        }

        public override DataViewSchema Schema => _parent.Schema;

        public override long Position => _position;

        public override long Batch => 0;

        /// <summary>The current row, checked to be valid.</summary>
        public int Row
        {
            get
            {
                if (_position < 0 || _position >= _parent._rowCount)
                    throw new InvalidOperationException("The cursor is not positioned on a row (call MoveNext first, and only while it returns true).");
                return (int)_position;
            }
        }

        public override bool IsColumnActive(DataViewSchema.Column column)
            => column.Index >= 0 && column.Index < _active.Length && _active[column.Index];

        public override bool MoveNext()
        {
            if (_position < _parent._rowCount)
                _position++;
            return _position < _parent._rowCount;
        }

        public override ValueGetter<DataViewRowId> GetIdGetter()
            => (ref DataViewRowId id) => id = new DataViewRowId((ulong)Row, 0);

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            if (!IsColumnActive(column))
                throw new InvalidOperationException($"Column '{column.Name}' was not requested when the cursor was created.");
            var getter = _getters[column.Index] ??= _parent._columns[column.Index].CreateGetter(this);
            if (getter is ValueGetter<TValue> typed)
                return typed;
            throw new InvalidOperationException(
                $"Invalid TValue '{typeof(TValue).Name}' for column '{column.Name}' of type {SchemaChecks.Describe(column.Type)}.");
        }
    }
}

/// <summary>
/// A view of <c>Source</c> that keeps only the rows whose position (in an unshuffled cursor) is marked in a mask.
/// The schema is the source's.
/// </summary>
internal sealed class RowMaskDataView : IDataView
{
    private readonly IDataView _source;
    private readonly bool[] _keep;
    private readonly long _keptCount;

    public RowMaskDataView(IDataView source, bool[] keep)
    {
        _source = source;
        _keep = keep;
        long kept = 0;
        foreach (bool k in keep)
            if (k) kept++;
        _keptCount = kept;
    }

    public bool CanShuffle => false;

    public DataViewSchema Schema => _source.Schema;

    public long? GetRowCount() => _keptCount;

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null)
        => new Cursor(this, _source.GetRowCursor(columnsNeeded));

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null)
        => new[] { GetRowCursor(columnsNeeded, rand) };

    private sealed class Cursor : DataViewRowCursor
    {
        private readonly RowMaskDataView _parent;
        private readonly DataViewRowCursor _input;
        private long _sourceRow = -1;
        private long _position = -1;

        public Cursor(RowMaskDataView parent, DataViewRowCursor input)
        {
            _parent = parent;
            _input = input;
        }

        public override DataViewSchema Schema => _input.Schema;

        public override long Position => _position;

        public override long Batch => 0;

        public override bool IsColumnActive(DataViewSchema.Column column) => _input.IsColumnActive(column);

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column) => _input.GetGetter<TValue>(column);

        public override ValueGetter<DataViewRowId> GetIdGetter() => _input.GetIdGetter();

        public override bool MoveNext()
        {
            while (_input.MoveNext())
            {
                _sourceRow++;
                if (_sourceRow >= _parent._keep.Length)
                    throw new InvalidOperationException("The source data view has more rows than when the sample was drawn.");
                if (_parent._keep[_sourceRow])
                {
                    _position++;
                    return true;
                }
            }
            return false;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
                _input.Dispose();
            base.Dispose(disposing);
        }
    }
}
