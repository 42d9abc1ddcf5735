using static TorchSharp.torch;

namespace Microsoft.ML.Svae.Tests.Common;

/// <summary>
/// Histories with planted co-occurrence structure and no order: the items form disjoint groups, and each user
/// interacts with a few items of ONE group, in random order. Groups have unequal popularity, so popularity ranks
/// the biggest group first for everyone, while a model of co-occurrence ranks the user's own group first.
/// </summary>
internal static class ClusterData
{
    public const int Groups = 3;
    public const int GroupSize = 10;
    public const int Items = Groups * GroupSize;

    private static readonly double[] s_groupShare = { 0.5, 0.3, 0.2 };

    /// <summary>The group (0-based) of item key <paramref name="key"/> (1..Items).</summary>
    public static int GroupOf(uint key) => (int)(key - 1) / GroupSize;

    public static List<uint[]> Users(int users, int seed, int minLength = 5, int maxLength = 8)
    {
        var random = new Random(seed);
        var result = new List<uint[]>();
        for (int u = 0; u < users; u++)
        {
            double r = random.NextDouble();
            int group = r < s_groupShare[0] ? 0 : r < s_groupShare[0] + s_groupShare[1] ? 1 : 2;
            var keys = Enumerable.Range(group * GroupSize + 1, GroupSize).Select(k => (uint)k).ToArray();
            random.Shuffle(keys);
            result.Add(keys[..random.Next(minLength, maxLength + 1)]);
        }
        return result;
    }

    /// <summary>Fold-in: all but the last <paramref name="foldOut"/> items; fold-out: the rest.</summary>
    public static (List<uint[]> FoldIn, List<uint[]> FoldOut) Split(List<uint[]> histories, int foldOut)
        => (histories.Select(h => h[..^foldOut]).ToList(), histories.Select(h => h[^foldOut..]).ToList());

    /// <summary>A multi-hot <c>[1, N]</c> of the known keys of <paramref name="history"/> (0 and keys above N dropped).</summary>
    public static Tensor MultiHot(uint[] history, int itemCount)
    {
        var x = new float[itemCount];
        foreach (var key in history)
            if (key >= 1 && key <= itemCount)
                x[key - 1] = 1;
        return tensor(x, new long[] { 1, itemCount });
    }

    /// <summary>The expected top-K keys for scores (0-based items) with the seen items excluded; 0 for unfillable places.</summary>
    public static List<uint> ExpectedTop(float[] scores, ICollection<int> seen, int k)
    {
        var top = Enumerable.Range(0, scores.Length).Where(i => !seen.Contains(i))
            .OrderByDescending(i => scores[i]).ThenBy(i => i).Take(k).Select(i => (uint)(i + 1)).ToList();
        while (top.Count < k) top.Add(0);
        return top;
    }

    /// <summary>Histories for ONNX parity: short, repeated items, longer than N, unknown keys, all unknown, empty.</summary>
    public static List<uint[]> ParityHistories(int itemCount) => new()
    {
        new uint[] { 5 },
        new uint[] { 3, 4, 5, 6, 9, 4 },
        Enumerable.Range(0, 300).Select(i => (uint)(i % itemCount + 1)).ToArray(),
        new uint[] { 0, 7, 0, 8, (uint)itemCount + 3 },
        new uint[] { 0, 0 },
        Array.Empty<uint>(),
    };
}
