using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Svae;

/// <summary>
/// The one place where user sequences become padded tensors: truncation to the most recent events, length
/// bucketing to limit padding, a budget on positions per batch, per-epoch shuffling, and packing into
/// right-padded <c>[B, T]</c> int64 tensors.
/// </summary>
/// <remarks>
/// Planning a shuffled epoch: the users are shuffled, cut into pools of <see cref="PoolBatches"/> batches
/// (<see cref="BatchOrder.Pooled"/>) or kept as one pool (<see cref="BatchOrder.LengthBuckets"/>), each pool is
/// sorted by length (ties keep the shuffled order) and cut greedily into batches of at most
/// <see cref="MaxUsersPerBatch"/> users and at most <see cref="MaxPositionsPerBatch"/> padded positions (users × the
/// longest length); the batches are then shuffled. A history longer than the budget alone forms a batch of one.
/// Without a random source (scoring), all users are sorted by length and cut the same way, in order.
/// </remarks>
internal sealed class SequenceBatcher
{
    /// <summary>Batches per length-sorting pool: large enough to limit padding, small enough to keep batches varied.</summary>
    public const int PoolBatches = 50;

    private readonly UserSequences _sequences;
    private readonly int[] _starts;
    private readonly int[] _lengths;
    private readonly int[] _users;

    /// <summary>Plans batches over <paramref name="sequences"/>.</summary>
    /// <param name="sequences">The users' histories.</param>
    /// <param name="maxUsersPerBatch">B, the most users in a batch.</param>
    /// <param name="maxPositionsPerBatch">The most padded positions (B × T) in a batch.</param>
    /// <param name="maxHistoryLength">Keep only each user's most recent events (<see langword="null"/>: all).</param>
    /// <param name="include">Which users (by their truncated length) take part; <see langword="null"/>: all.</param>
    /// <param name="order">How a shuffled epoch groups users (see <see cref="Plan"/>).</param>
    public SequenceBatcher(UserSequences sequences, int maxUsersPerBatch, long maxPositionsPerBatch, int? maxHistoryLength = null, Func<int, bool>? include = null,
        BatchOrder order = BatchOrder.Pooled)
    {
        ArgumentNullException.ThrowIfNull(sequences);
        if (maxUsersPerBatch < 1)
            throw new ArgumentOutOfRangeException(nameof(maxUsersPerBatch), maxUsersPerBatch, "At least one user per batch is required.");
        if (maxPositionsPerBatch < 1)
            throw new ArgumentOutOfRangeException(nameof(maxPositionsPerBatch), maxPositionsPerBatch, "At least one position per batch is required.");
        _sequences = sequences;
        MaxUsersPerBatch = maxUsersPerBatch;
        MaxPositionsPerBatch = maxPositionsPerBatch;
        Order = order;

        int count = sequences.Count;
        _starts = new int[count];
        _lengths = new int[count];
        var users = new List<int>(count);
        long positions = 0;
        for (int u = 0; u < count; u++)
        {
            int length = sequences.Length(u);
            int kept = maxHistoryLength is int max ? Math.Min(length, max) : length;
            _starts[u] = sequences.Offsets[u] + (length - kept);
            _lengths[u] = kept;
            if (include is null || include(kept))
            {
                users.Add(u);
                positions += kept;
            }
        }
        _users = users.ToArray();
        PositionCount = positions;
    }

    /// <summary>The most users in a batch.</summary>
    public int MaxUsersPerBatch { get; }

    /// <summary>The most padded positions (users × padded length) in a batch, unless one history alone exceeds it.</summary>
    public long MaxPositionsPerBatch { get; }

    /// <summary>How a shuffled epoch groups users.</summary>
    public BatchOrder Order { get; }

    /// <summary>The users taking part, in input order.</summary>
    public IReadOnlyList<int> Users => _users;

    /// <summary>The total number of (truncated) events of the users taking part.</summary>
    public long PositionCount { get; }

    /// <summary>User <paramref name="user"/>'s length after truncation.</summary>
    public int Length(int user) => _lengths[user];

    /// <summary>User <paramref name="user"/>'s kept (most recent) events.</summary>
    public ReadOnlySpan<int> Sequence(int user) => _sequences.Items.AsSpan(_starts[user], _lengths[user]);

    /// <summary>
    /// The batches of one pass, each an array of user indices sorted by ascending length: shuffled when
    /// <paramref name="random"/> is given, else in ascending length order.
    /// </summary>
    public List<int[]> Plan(Random? random)
    {
        var order = (int[])_users.Clone();
        var batches = new List<int[]>();
        if (random is null)
        {
            SortByLength(order);
            Cut(order, batches);
            return batches;
        }

        random.Shuffle(order);
        // Length buckets: one pool of all users, so batches hold users of the most similar lengths.
        int poolSize = Order == BatchOrder.LengthBuckets ? Math.Max(1, order.Length)
            : (int)Math.Min(int.MaxValue, (long)MaxUsersPerBatch * PoolBatches);
        for (int start = 0; start < order.Length; start += poolSize)
        {
            var pool = order.AsSpan(start, Math.Min(poolSize, order.Length - start));
            SortByLength(pool);
            Cut(pool, batches);
        }
        var shuffled = batches.ToArray();
        random.Shuffle(shuffled);
        return [.. shuffled];
    }

    /// <summary>
    /// Packs <paramref name="users"/> into a <see cref="SequenceBatch"/> on <paramref name="device"/>; the tensors
    /// join the current dispose scope. Padding is 0 after each user's last event.
    /// </summary>
    public SequenceBatch Pack(int[] users, Device device)
    {
        int count = users.Length;
        var lengths = new int[count];
        int maxLength = 1;
        for (int b = 0; b < count; b++)
        {
            lengths[b] = _lengths[users[b]];
            maxLength = Math.Max(maxLength, lengths[b]);
        }

        var items = new long[(long)count * maxLength];
        var lengths64 = new long[count];
        for (int b = 0; b < count; b++)
        {
            var sequence = Sequence(users[b]);
            var row = items.AsSpan(b * maxLength, sequence.Length);
            for (int t = 0; t < sequence.Length; t++)
                row[t] = sequence[t];
            lengths64[b] = lengths[b];
        }

        var itemTensor = tensor(items, new long[] { count, maxLength }, ScalarType.Int64);
        var lengthTensor = tensor(lengths64, new long[] { count }, ScalarType.Int64);
        if (device.type != DeviceType.CPU)
        {
            itemTensor = itemTensor.to(device);
            lengthTensor = lengthTensor.to(device);
        }
        return new SequenceBatch(users, lengths, maxLength, itemTensor, lengthTensor);
    }

    private void SortByLength(Span<int> users)
    {
        // Ties keep their current (shuffled or input) order, so the sort is deterministic.
        var keys = new long[users.Length];
        for (int i = 0; i < users.Length; i++)
            keys[i] = ((long)_lengths[users[i]] << 32) | (uint)i;
        keys.AsSpan().Sort(users);
    }

    private void Cut(ReadOnlySpan<int> sorted, List<int[]> batches)
    {
        int start = 0;
        for (int i = 0; i < sorted.Length; i++)
        {
            int size = i - start + 1;
            long padded = (long)size * Math.Max(1, _lengths[sorted[i]]);
            if (size > 1 && (size > MaxUsersPerBatch || padded > MaxPositionsPerBatch))
            {
                batches.Add(sorted[start..i].ToArray());
                start = i;
            }
        }
        if (start < sorted.Length)
            batches.Add(sorted[start..].ToArray());
    }
}
