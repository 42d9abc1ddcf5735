namespace Microsoft.ML.Svae;

/// <summary>
/// Uniform negative items: an item the training row's user has not interacted with (as in BPR's sampling of
/// j ∉ I_u and Caser's candidate set), drawn from a seeded <see cref="Random"/>.
/// </summary>
internal sealed class NegativeSampler
{
    private const int MaxAttempts = 64;
    private readonly UserSequences _rows;
    private readonly int[][] _seen;
    private readonly int _seed;
    private Random _random;

    /// <summary>A sampler over <paramref name="rows"/>' histories, seeded with <paramref name="seed"/>.</summary>
    public NegativeSampler(UserSequences rows, int seed)
    {
        _seed = seed;
        _rows = rows;
        _seen = new int[rows.Count][];
        for (int r = 0; r < rows.Count; r++)
        {
            var items = rows[r].ToArray();
            Array.Sort(items);
            _seen[r] = items.Distinct().ToArray();
        }
        _random = new Random(seed);
    }

    /// <summary>The draws from the generator so far (a checkpoint restores the generator by replaying them).</summary>
    public long Draws { get; private set; }

    /// <summary>Puts the generator where it was after <paramref name="draws"/> draws (replayed from the seed).</summary>
    public void Restore(long draws)
    {
        _random = new Random(_seed);
        for (long d = 0; d < draws; d++)
            _random.Next(_rows.ItemCount);
        Draws = draws;
    }

    /// <summary>
    /// An item not in row <paramref name="row"/>'s history (rejection sampling; after many rejections, e.g. for
    /// a user who has seen nearly every item, the last draw is kept).
    /// </summary>
    public int Sample(int row)
    {
        var seen = _seen[row];
        int item = _random.Next(_rows.ItemCount);
        Draws++;
        for (int attempt = 1; attempt < MaxAttempts && Array.BinarySearch(seen, item) >= 0; attempt++)
        {
            item = _random.Next(_rows.ItemCount);
            Draws++;
        }
        return item;
    }
}
