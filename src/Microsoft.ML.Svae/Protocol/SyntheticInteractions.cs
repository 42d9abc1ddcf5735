namespace Microsoft.ML.Svae.Protocol;

/// <summary>
/// The SYNTHETIC interaction generator described in <see cref="SyntheticInteractionOptions"/>. Deterministic for
/// given options (it only uses <see cref="Random"/> seeded with <see cref="SyntheticInteractionOptions.Seed"/>).
/// </summary>
internal static class SyntheticInteractions
{
    private const long StartOfTime = 956_703_932;          // 2000-04-25, the first MovieLens-1M rating
    private const double StartSpreadSeconds = 2 * 365.25 * 86400;
    private const double ShortGapSeconds = 90;
    private const double LongGapSeconds = 5 * 86400;
    private const double LongGapProbability = 0.03;

    public static InteractionTable Generate(SyntheticInteractionOptions o)
    {
        o.Validate();
        var rng = new Random(o.Seed);
        int itemCount = o.Items;

        // Item index i has popularity rank i; its raw id is a random permutation of 1..Items.
        var rawItemId = new uint[itemCount];
        for (int i = 0; i < itemCount; i++)
            rawItemId[i] = (uint)(i + 1);
        Shuffle(rawItemId, rng);
        var weights = new double[itemCount];
        for (int i = 0; i < itemCount; i++)
            weights[i] = Math.Pow(i + 1, -o.ZipfExponent);
        var globalCdf = Cumulative(weights, Enumerable.Range(0, itemCount).ToArray());

        // Balanced random genres.
        var genreOrder = Enumerable.Range(0, itemCount).ToArray();
        Shuffle(genreOrder, rng);
        var genreOf = new int[itemCount];
        for (int k = 0; k < itemCount; k++)
            genreOf[genreOrder[k]] = k % o.Genres;
        var genreItems = new int[o.Genres][];
        var genreCdf = new double[o.Genres][];
        for (int g = 0; g < o.Genres; g++)
        {
            genreItems[g] = Enumerable.Range(0, itemCount).Where(i => genreOf[i] == g).ToArray();
            genreCdf[g] = Cumulative(weights, genreItems[g]);
        }

        // Preferred successors: mostly of the same genre, popularity-biased, weights 1/2, 1/4, ...
        int s = o.SuccessorsPerItem;
        var successors = new int[itemCount * s];
        var successorCdf = new double[s];
        for (int k = 0; k < s; k++)
            successorCdf[k] = (k > 0 ? successorCdf[k - 1] : 0) + Math.Pow(0.5, k + 1);
        for (int i = 0; i < itemCount; i++)
        {
            for (int k = 0; k < s; k++)
            {
                int candidate = -1;
                for (int attempt = 0; attempt < 50 && candidate < 0; attempt++)
                {
                    int c = rng.NextDouble() < 0.8
                        ? genreItems[genreOf[i]][Sample(genreCdf[genreOf[i]], rng)]
                        : Sample(globalCdf, rng);
                    if (c != i && successors.AsSpan(i * s, k).IndexOf(c) < 0)
                        candidate = c;
                }
                while (candidate < 0)
                {
                    int c = rng.Next(itemCount);
                    if (c != i && successors.AsSpan(i * s, k).IndexOf(c) < 0)
                        candidate = c;
                }
                successors[i * s + k] = candidate;
            }
        }

        double sigma = o.HistoryLengthSigma;
        double mu = Math.Log(o.MeanHistoryLength) - sigma * sigma / 2;
        int maxLength = Math.Min(o.MaxHistoryLength, itemCount);
        var builder = new InteractionTableBuilder((int)Math.Min(Array.MaxLength, (long)o.Users * (long)Math.Ceiling(o.MeanHistoryLength * 1.1) + 16));
        var seenBy = new int[itemCount];
        Array.Fill(seenBy, -1);

        for (int user = 0; user < o.Users; user++)
        {
            int length = (int)Math.Clamp(Math.Round(Math.Exp(mu + sigma * Normal(rng))), o.MinHistoryLength, maxLength);
            int genre = rng.Next(o.Genres);
            int previous = -1;
            long time = StartOfTime + (long)(rng.NextDouble() * StartSpreadSeconds);
            for (int e = 0; e < length; e++)
            {
                if (e > 0 && rng.NextDouble() >= o.TieProbability)
                {
                    double mean = rng.NextDouble() < LongGapProbability ? LongGapSeconds : ShortGapSeconds;
                    time += Math.Max(1, (long)Math.Round(-mean * Math.Log(1 - rng.NextDouble())));
                }
                int item;
                float rating;
                if (rng.NextDouble() < o.PositiveFraction)
                {
                    item = -1;
                    for (int attempt = 0; attempt < 16 && item < 0; attempt++)
                    {
                        int c;
                        if (previous >= 0 && rng.NextDouble() < o.TransitionStrength)
                            c = successors[previous * s + SampleSuccessor(successorCdf, rng)];
                        else if (rng.NextDouble() < o.GenreAffinity)
                            c = genreItems[genre][Sample(genreCdf[genre], rng)];
                        else
                            c = Sample(globalCdf, rng);
                        if (seenBy[c] != user)
                            item = c;
                    }
                    if (item < 0)
                        item = FirstUnseen(seenBy, user, rng.Next(itemCount));
                    rating = rng.NextDouble() < 0.45 ? 5 : 4;
                    previous = item;
                    if (rng.NextDouble() < o.GenreDriftRate)
                        genre = rng.Next(o.Genres);
                }
                else
                {
                    item = -1;
                    for (int attempt = 0; attempt < 16 && item < 0; attempt++)
                    {
                        int c = Sample(globalCdf, rng);
                        if (seenBy[c] != user)
                            item = c;
                    }
                    if (item < 0)
                        item = FirstUnseen(seenBy, user, rng.Next(itemCount));
                    double r = rng.NextDouble();
                    rating = r < 0.2 ? 1 : r < 0.5 ? 2 : 3;
                }
                seenBy[item] = user;
                builder.Add((uint)(user + 1), rawItemId[item], rating, time);
            }
        }
        return builder.Build();
    }

    private static int FirstUnseen(int[] seenBy, int user, int start)
    {
        for (int k = 0; k < seenBy.Length; k++)
        {
            int c = (start + k) % seenBy.Length;
            if (seenBy[c] != user)
                return c;
        }
        throw new InvalidOperationException("The user has seen every item.");
    }

    private static double[] Cumulative(double[] weights, int[] items)
    {
        var cdf = new double[items.Length];
        double total = 0;
        for (int k = 0; k < items.Length; k++)
            cdf[k] = total += weights[items[k]];
        return cdf;
    }

    /// <summary>Index k with probability proportional to cdf[k] − cdf[k − 1].</summary>
    private static int Sample(double[] cdf, Random rng)
    {
        double u = rng.NextDouble() * cdf[^1];
        int lo = 0, hi = cdf.Length - 1;
        while (lo < hi)
        {
            int mid = (lo + hi) >> 1;
            if (cdf[mid] > u) hi = mid; else lo = mid + 1;
        }
        return lo;
    }

    private static int SampleSuccessor(double[] cdf, Random rng)
    {
        double u = rng.NextDouble() * cdf[^1];
        for (int k = 0; k < cdf.Length - 1; k++)
            if (u < cdf[k])
                return k;
        return cdf.Length - 1;
    }

    private static double Normal(Random rng)
    {
        double u1 = 1 - rng.NextDouble();
        double u2 = rng.NextDouble();
        return Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }

    private static void Shuffle<T>(T[] values, Random rng)
    {
        for (int i = values.Length - 1; i > 0; i--)
        {
            int j = rng.Next(i + 1);
            (values[i], values[j]) = (values[j], values[i]);
        }
    }
}
