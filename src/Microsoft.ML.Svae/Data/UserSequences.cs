using Microsoft.ML.Data;

namespace Microsoft.ML.Svae;

/// <summary>
/// Users' item sequences packed into two arrays (CSR layout): user <c>u</c>'s items are
/// <c>Items[Offsets[u] .. Offsets[u + 1]]</c>, as 0-based item indices (item key − 1), in time order.
/// Every trainer, the evaluator and the protocol read histories through this one type.
/// </summary>
internal sealed class UserSequences
{
    public UserSequences(int itemCount, int[] offsets, int[] items)
    {
        if (offsets.Length == 0 || offsets[0] != 0 || offsets[^1] != items.Length)
            throw new ArgumentException("Offsets must start at 0 and end at the number of items.", nameof(offsets));
        ItemCount = itemCount;
        Offsets = offsets;
        Items = items;
    }

    /// <summary>N, the number of items in the vocabulary (keys 1..N).</summary>
    public int ItemCount { get; }

    /// <summary>Start of each user's run in <see cref="Items"/>; length <see cref="Count"/> + 1.</summary>
    public int[] Offsets { get; }

    /// <summary>All users' items, 0-based, concatenated.</summary>
    public int[] Items { get; }

    /// <summary>Number of users (rows).</summary>
    public int Count => Offsets.Length - 1;

    /// <summary>Total number of events.</summary>
    public int EventCount => Items.Length;

    /// <summary>User <paramref name="user"/>'s items, in time order.</summary>
    public ReadOnlySpan<int> this[int user] => Items.AsSpan(Offsets[user], Offsets[user + 1] - Offsets[user]);

    /// <summary>Length of user <paramref name="user"/>'s sequence.</summary>
    public int Length(int user) => Offsets[user + 1] - Offsets[user];

    /// <summary>
    /// Reads a <c>Vector&lt;Key&lt;UInt32&gt;&gt;</c> column. Missing keys (0) are dropped and counted
    /// in <paramref name="droppedMissingKeys"/>; the vocabulary size comes from the column's key type.
    /// </summary>
    public static UserSequences Read(IDataView data, string columnName, string role, out long droppedMissingKeys)
    {
        int itemCount = SchemaChecks.ItemKeyVectorColumn(data.Schema, columnName, role);
        var column = data.Schema[columnName];
        var offsets = new List<int> { 0 };
        var items = new List<int>();
        long dropped = 0;
        using (var cursor = data.GetRowCursor(new[] { column }))
        {
            var getter = cursor.GetGetter<VBuffer<uint>>(column);
            var buffer = default(VBuffer<uint>);
            while (cursor.MoveNext())
            {
                getter(ref buffer);
                if (!buffer.IsDense)
                    buffer = DenseCopy(buffer);
                foreach (uint key in buffer.GetValues())
                {
                    if (key == 0 || key > itemCount) { dropped++; continue; }
                    items.Add((int)key - 1);
                }
                offsets.Add(items.Count);
            }
        }
        droppedMissingKeys = dropped;
        return new UserSequences(itemCount, offsets.ToArray(), items.ToArray());
    }

    /// <inheritdoc cref="Read(IDataView, string, string, out long)"/>
    public static UserSequences Read(IDataView data, string columnName, string role) => Read(data, columnName, role, out _);

    /// <summary>
    /// Reads the training histories every trainer learns from: as <see cref="Read(IDataView, string, string, out long)"/>,
    /// and the keys it ignores (the missing key 0, or keys beyond the column's key count) are reported as a warning
    /// through <paramref name="env"/>'s log. Throws <see cref="ArgumentException"/> naming the column when no usable
    /// event is left.
    /// </summary>
    public static UserSequences ReadTrainingHistories(IHostEnvironment env, IDataView data, string columnName, string parameterName)
    {
        var sequences = Read(data, columnName, "history", out long dropped);
        if (dropped > 0)
        {
            using var ch = env.Start("Reading training histories");
            ch.Warning($"{dropped} of {dropped + sequences.EventCount} item keys in the training history column '{columnName}' are the missing key 0 " +
                $"or beyond the key count ({sequences.ItemCount}) and are ignored.");
        }
        if (sequences.EventCount == 0)
        {
            string why = dropped == 0
                ? $"({sequences.Count} rows)"
                : $"({sequences.Count} rows; all {dropped} item keys are the missing key 0 or beyond the key count {sequences.ItemCount})";
            throw new ArgumentException($"The training data has no events in column '{columnName}' {why}: nothing to learn from.", parameterName);
        }
        return sequences;
    }

    private static VBuffer<uint> DenseCopy(in VBuffer<uint> sparse)
    {
        var dense = new uint[sparse.Length];
        sparse.CopyTo(dense);
        return new VBuffer<uint>(dense.Length, dense);
    }

    /// <summary>A copy holding only the users in <paramref name="users"/>, in that order.</summary>
    public UserSequences Select(IReadOnlyList<int> users)
    {
        var offsets = new int[users.Count + 1];
        for (int i = 0; i < users.Count; i++)
            offsets[i + 1] = offsets[i] + Length(users[i]);
        var items = new int[offsets[^1]];
        for (int i = 0; i < users.Count; i++)
            this[users[i]].CopyTo(items.AsSpan(offsets[i]));
        return new UserSequences(ItemCount, offsets, items);
    }
}
