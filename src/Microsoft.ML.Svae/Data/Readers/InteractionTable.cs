using Microsoft.ML.Data;
using Microsoft.ML.Svae.Protocol;

namespace Microsoft.ML.Svae;

/// <summary>
/// An interaction log as column arrays (the first <see cref="Count"/> entries of each are used):
/// raw user id, raw item id, rating, time in Unix seconds. Row order is the order of the source.
/// </summary>
internal sealed class InteractionTable
{
    public InteractionTable(int count, uint[] userIds, uint[] itemIds, float[] ratings, long[] timestamps)
    {
        if (userIds.Length < count || itemIds.Length < count || ratings.Length < count || timestamps.Length < count)
            throw new ArgumentException("Every column array must hold at least Count values.");
        Count = count;
        UserIds = userIds;
        ItemIds = itemIds;
        Ratings = ratings;
        Timestamps = timestamps;
    }

    public int Count { get; }

    public uint[] UserIds { get; }

    public uint[] ItemIds { get; }

    public float[] Ratings { get; }

    public long[] Timestamps { get; }

    /// <summary>The user ids when they are Text or Int64 (then <see cref="UserIds"/> holds their stand-ins); otherwise <see langword="null"/>.</summary>
    public IdNames? UserNames { get; set; }

    /// <summary>The item ids when they are Text or Int64 (then <see cref="ItemIds"/> holds their stand-ins); otherwise <see langword="null"/>.</summary>
    public IdNames? ItemNames { get; set; }

    /// <summary>The table as an <see cref="IDataView"/> with the <see cref="InteractionColumns"/> columns (no copy).</summary>
    public IDataView ToDataView() => new ArrayDataView(Count,
        new ScalarArrayColumn<uint>(InteractionColumns.UserId, NumberDataViewType.UInt32, UserIds),
        new ScalarArrayColumn<uint>(InteractionColumns.ItemId, NumberDataViewType.UInt32, ItemIds),
        new ScalarArrayColumn<float>(InteractionColumns.Rating, NumberDataViewType.Single, Ratings),
        new ScalarArrayColumn<long>(InteractionColumns.Timestamp, NumberDataViewType.Int64, Timestamps));
}

/// <summary>Appends interactions to growable column arrays.</summary>
internal sealed class InteractionTableBuilder
{
    private uint[] _users;
    private uint[] _items;
    private float[] _ratings;
    private long[] _timestamps;
    private int _count;

    public InteractionTableBuilder(int capacity = 1024)
    {
        capacity = Math.Max(16, capacity);
        _users = new uint[capacity];
        _items = new uint[capacity];
        _ratings = new float[capacity];
        _timestamps = new long[capacity];
    }

    public int Count => _count;

    public void Add(uint user, uint item, float rating, long timestamp)
    {
        if (_count == _users.Length)
            Grow();
        _users[_count] = user;
        _items[_count] = item;
        _ratings[_count] = rating;
        _timestamps[_count] = timestamp;
        _count++;
    }

    private void Grow()
    {
        if (_count >= Array.MaxLength)
            throw new InvalidOperationException($"More than {Array.MaxLength} interactions cannot be held in memory.");
        int capacity = (int)Math.Min(Array.MaxLength, 2L * _users.Length);
        Array.Resize(ref _users, capacity);
        Array.Resize(ref _items, capacity);
        Array.Resize(ref _ratings, capacity);
        Array.Resize(ref _timestamps, capacity);
    }

    /// <summary>The table; the builder must not be used afterwards.</summary>
    public InteractionTable Build() => new(_count, _users, _items, _ratings, _timestamps);
}
