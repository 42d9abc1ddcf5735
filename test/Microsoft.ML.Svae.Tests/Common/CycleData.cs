namespace Microsoft.ML.Svae.Tests.Common;

/// <summary>
/// Sequences with planted sequential structure: each user walks the items in a cycle (key k → k + 1,
/// wrapping at N), starting anywhere, with an occasional random item. Popularity is flat, so only a
/// model of the order can predict the next items.
/// </summary>
internal static class CycleData
{
    public static List<uint[]> Walks(int users, int itemCount, int minLength, int maxLength, int seed, double noise = 0.05)
    {
        var random = new Random(seed);
        var result = new List<uint[]>();
        for (int u = 0; u < users; u++)
        {
            int length = random.Next(minLength, maxLength + 1);
            var walk = new uint[length];
            int item = random.Next(itemCount);
            for (int t = 0; t < length; t++)
            {
                walk[t] = (uint)(item + 1);
                item = random.NextDouble() < noise ? random.Next(itemCount) : (item + 1) % itemCount;
            }
            result.Add(walk);
        }
        return result;
    }

    /// <summary>Splits each walk into a fold-in (all but the last <paramref name="foldOut"/>) and a fold-out.</summary>
    public static (List<uint[]> FoldIn, List<uint[]> FoldOut) Split(List<uint[]> walks, int foldOut)
        => (walks.Select(w => w[..^foldOut]).ToList(), walks.Select(w => w[^foldOut..]).ToList());
}
