namespace Microsoft.ML.Svae.Tests.Training;

/// <summary>Tiny <see cref="UserSequences"/> built in the tests (the cycle walks of <see cref="CycleData"/>, hand-written users, splits).</summary>
internal static class TinySequences
{
    /// <summary><see cref="CycleData.Walks"/> as 0-based <see cref="UserSequences"/>.</summary>
    public static UserSequences Cycle(int users, int items, int minLength, int maxLength, double noise, int seed)
    {
        var walks = CycleData.Walks(users, items, minLength, maxLength, seed, noise);
        return FromArrays(items, walks.Select(w => w.Select(k => (int)k - 1).ToArray()).ToArray());
    }

    public static UserSequences FromArrays(int items, params int[][] users)
    {
        var offsets = new int[users.Length + 1];
        for (int u = 0; u < users.Length; u++)
            offsets[u + 1] = offsets[u] + users[u].Length;
        return new UserSequences(items, offsets, users.SelectMany(x => x).ToArray());
    }

    /// <summary>Splits each user's time-ordered history: the first 80 % (at least one event) is the fold-in, the rest the fold-out.</summary>
    public static (UserSequences FoldIn, UserSequences FoldOut) Split(UserSequences users, double foldInFraction = 0.8)
    {
        var inOffsets = new List<int> { 0 };
        var outOffsets = new List<int> { 0 };
        var inItems = new List<int>();
        var outItems = new List<int>();
        for (int u = 0; u < users.Count; u++)
        {
            var history = users[u];
            int cut = Math.Clamp((int)Math.Round(history.Length * foldInFraction), 1, history.Length);
            inItems.AddRange(history[..cut].ToArray());
            outItems.AddRange(history[cut..].ToArray());
            inOffsets.Add(inItems.Count);
            outOffsets.Add(outItems.Count);
        }
        return (new UserSequences(users.ItemCount, inOffsets.ToArray(), inItems.ToArray()),
                new UserSequences(users.ItemCount, outOffsets.ToArray(), outItems.ToArray()));
    }

    /// <summary>Small, fast SVAE options for the tests.</summary>
    public static SvaeTrainer.Options SmallOptions(int epochs = 8) => new()
    {
        EmbeddingSize = 16,
        RecurrentSize = 32,
        EncoderSize = 24,
        LatentSize = 8,
        DecoderSize = 24,
        NextK = 2,
        NumberOfEpochs = epochs,
        BatchSize = 8,
        LearningRate = 2e-2,
        WeightDecay = 0,
        KlWeightCap = 0.02,
        KlAnnealingSteps = 100,
        EarlyStoppingPatience = 0,
        ValidationCutoff = 10,
    };
}
