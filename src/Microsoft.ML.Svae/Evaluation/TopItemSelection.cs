using System.Numerics;

namespace Microsoft.ML.Svae;

/// <summary>
/// The top-k unseen items of a full score vector, in O(N + k log k): each item becomes one 64-bit key
/// that orders by score descending, then item index ascending (so ties go to the lower index), and a
/// quickselect moves the k largest keys to the front before only those are sorted.
/// </summary>
internal static class TopItemSelection
{
    /// <summary>
    /// Writes the indices of the <paramref name="count"/> best unseen items, best first, to
    /// <paramref name="destination"/> and returns how many were written (fewer when fewer items are unseen).
    /// Higher scores rank first; equal scores rank the lower item index first; NaN ranks below every number
    /// (including negative infinity); −0 and +0 are equal.
    /// </summary>
    /// <param name="scores">One score per item of the catalogue.</param>
    /// <param name="seen">Items to exclude (the fold-in), one flag per item; may be empty to exclude nothing.</param>
    /// <param name="count">How many items to select.</param>
    /// <param name="keys">Scratch of at least <c>scores.Length</c> entries.</param>
    /// <param name="destination">Receives the selected item indices; at least <paramref name="count"/> long.</param>
    public static int SelectTop(ReadOnlySpan<float> scores, ReadOnlySpan<bool> seen, int count, Span<ulong> keys, Span<int> destination)
    {
        int n = 0;
        bool excludeSeen = !seen.IsEmpty;
        for (int i = 0; i < scores.Length; i++)
        {
            if (excludeSeen && seen[i])
                continue;
            keys[n++] = Key(scores[i], i);
        }

        var candidates = keys[..n];
        int take = Math.Min(count, n);
        if (take == 0)
            return 0;
        if (take < n)
            SelectLargest(candidates, take);

        var top = candidates[..take];
        top.Sort();
        top.Reverse();
        for (int i = 0; i < take; i++)
            destination[i] = ItemOf(top[i]);
        return take;
    }

    /// <summary>A key that orders by score ascending in its high half and by item index descending in its low half.</summary>
    internal static ulong Key(float score, int item) => ((ulong)OrderedBits(score) << 32) | (uint.MaxValue - (uint)item);

    private static int ItemOf(ulong key) => (int)(uint.MaxValue - (uint)key);

    /// <summary>Maps a float to a uint whose unsigned order is the numeric order; NaN maps below −∞.</summary>
    private static uint OrderedBits(float value)
    {
        if (float.IsNaN(value))
            return 0;
        if (value == 0)
            value = 0; // −0 → +0
        uint bits = BitConverter.SingleToUInt32Bits(value);
        return (bits & 0x8000_0000u) != 0 ? ~bits : bits | 0x8000_0000u;
    }

    /// <summary>
    /// Rearranges <paramref name="keys"/> (all distinct) so that its first <paramref name="k"/> entries are the
    /// <paramref name="k"/> largest, in no particular order. Quickselect with a median-of-three pivot, falling
    /// back to a sort of the remaining range if it recurses too deep (worst case O(N log N)).
    /// </summary>
    private static void SelectLargest(Span<ulong> keys, int k)
    {
        int target = k - 1;
        int lo = 0, hi = keys.Length - 1;
        int depth = 2 * (BitOperations.Log2((uint)keys.Length) + 1);
        while (hi > lo)
        {
            if (depth-- == 0)
            {
                var rest = keys[lo..(hi + 1)];
                rest.Sort();
                rest.Reverse();
                return;
            }
            int p = Partition(keys, lo, hi);
            if (p == target)
                return;
            if (p < target)
                lo = p + 1;
            else
                hi = p - 1;
        }
    }

    /// <summary>Partitions keys[lo..hi] around a median-of-three pivot: larger keys first; returns the pivot's final index.</summary>
    private static int Partition(Span<ulong> keys, int lo, int hi)
    {
        int mid = lo + ((hi - lo) >> 1);
        // Order keys[lo] ≥ keys[mid] ≥ keys[hi], then use the median as the pivot, parked at hi.
        if (keys[mid] > keys[lo]) Swap(keys, mid, lo);
        if (keys[hi] > keys[lo]) Swap(keys, hi, lo);
        if (keys[hi] > keys[mid]) Swap(keys, hi, mid);
        Swap(keys, mid, hi);
        ulong pivot = keys[hi];

        int store = lo;
        for (int i = lo; i < hi; i++)
        {
            if (keys[i] > pivot)
            {
                Swap(keys, i, store);
                store++;
            }
        }
        Swap(keys, store, hi);
        return store;
    }

    private static void Swap(Span<ulong> keys, int a, int b) => (keys[a], keys[b]) = (keys[b], keys[a]);
}
