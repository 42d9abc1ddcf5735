using System.Numerics;

namespace Microsoft.ML.Svae.Protocol;

/// <summary>
/// Stratified user subsampling of section 5.1 (the Netflix subset): users are stratified by history length in
/// log2 bins (stratum b holds lengths 2^b .. 2^(b+1) − 1) and each stratum s of size N_s contributes
/// <c>n_s = min(N_s, λ · N_s^(1 − α))</c> users, with λ chosen so that the total is the target. With α = 1 (the
/// default) the sampling fraction n_s / N_s is inversely proportional to the stratum size (equal allocation,
/// capped by the stratum size): the many short-history users are undersampled and the few long-history users
/// are kept. α = 0 is plain uniform sampling. Within a stratum the users are drawn uniformly (seeded).
/// </summary>
internal static class StratifiedUserSampler
{
    internal sealed class Result
    {
        public required bool[] KeepRow { get; init; }

        public required HashSet<uint> Users { get; init; }

        /// <summary>Users per log2 stratum (index b = floor(log2 length)).</summary>
        public required int[] StratumSizes { get; init; }

        /// <summary>Users drawn per stratum.</summary>
        public required int[] StratumSampled { get; init; }
    }

    public static Result Sample(uint[] rowUsers, int targetUsers, int seed, double allocationExponent)
    {
        // History lengths per user, users in ascending raw id order.
        var lengthOf = new Dictionary<uint, int>();
        foreach (uint u in rowUsers)
            lengthOf[u] = lengthOf.TryGetValue(u, out int c) ? c + 1 : 1;
        var userIds = lengthOf.Keys.ToArray();
        Array.Sort(userIds);
        int strataCount = 32;
        var strata = new List<uint>[strataCount];
        for (int b = 0; b < strataCount; b++)
            strata[b] = new List<uint>();
        foreach (uint u in userIds)
            strata[BitOperations.Log2((uint)lengthOf[u])].Add(u);
        var sizes = strata.Select(s => s.Count).ToArray();
        var sampled = Allocate(sizes, Math.Min(targetUsers, userIds.Length), allocationExponent);

        var rng = new Random(seed);
        var chosen = new HashSet<uint>();
        for (int b = 0; b < strataCount; b++)
        {
            var members = strata[b];
            for (int i = 0; i < sampled[b]; i++)
            {
                int j = i + rng.Next(members.Count - i);
                (members[i], members[j]) = (members[j], members[i]);
                chosen.Add(members[i]);
            }
        }
        var keep = new bool[rowUsers.Length];
        for (int r = 0; r < rowUsers.Length; r++)
            keep[r] = chosen.Contains(rowUsers[r]);
        return new Result { KeepRow = keep, Users = chosen, StratumSizes = sizes, StratumSampled = sampled };
    }

    /// <summary>Integer allocation n_s = min(N_s, λ N_s^(1−α)) summing to <paramref name="target"/> (largest remainders).</summary>
    internal static int[] Allocate(int[] sizes, int target, double alpha)
    {
        double Share(int size, double lambda) => size == 0 ? 0 : Math.Min(size, lambda * Math.Pow(size, 1 - alpha));
        double Total(double lambda) => sizes.Sum(s => Share(s, lambda));
        double lo = 0, hi = Math.Max(1, sizes.Sum());
        for (int iteration = 0; iteration < 200; iteration++)
        {
            double mid = 0.5 * (lo + hi);
            if (Total(mid) < target) lo = mid; else hi = mid;
        }
        var exact = sizes.Select(s => Share(s, hi)).ToArray();
        var result = exact.Select((x, i) => Math.Min(sizes[i], (int)Math.Floor(x))).ToArray();
        int remaining = target - result.Sum();
        foreach (int i in Enumerable.Range(0, sizes.Length).OrderByDescending(i => exact[i] - Math.Floor(exact[i])).ThenBy(i => i))
        {
            if (remaining <= 0) break;
            if (result[i] < sizes[i]) { result[i]++; remaining--; }
        }
        for (int i = 0; i < sizes.Length && remaining > 0; i++)
        {
            int add = Math.Min(remaining, sizes[i] - result[i]);
            result[i] += add;
            remaining -= add;
        }
        for (int i = sizes.Length - 1; i >= 0 && remaining < 0; i--)
        {
            int take = Math.Min(-remaining, result[i]);
            result[i] -= take;
            remaining += take;
        }
        return result;
    }
}
