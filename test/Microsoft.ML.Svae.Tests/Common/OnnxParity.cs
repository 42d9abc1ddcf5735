namespace Microsoft.ML.Svae.Tests.Common;

/// <summary>The ONNX-parity assertions every sequence model's graph test shares.</summary>
internal static class OnnxParity
{
    /// <summary>
    /// One history's graph output against the network's logits: seen items score −∞, every other item within 1e-4
    /// of the logit, and the top-K is the unseen items by logit (ties by key), padded with the missing key 0 when
    /// fewer than K items are unseen.
    /// </summary>
    public static void AssertScoresAndTop(int user, long[] seen, float[] logits, float[] scores, uint[] top, int itemCount, int topK)
    {
        for (int i = 0; i < itemCount; i++)
        {
            if (seen.Contains(i))
                Assert.Equal(float.NegativeInfinity, scores[i]);
            else
                Assert.True(Math.Abs(logits[i] - scores[i]) < 1e-4, $"history {user}, item {i}: torch {logits[i]} vs onnx {scores[i]}");
        }
        var expectedTop = Enumerable.Range(0, itemCount).Where(i => !seen.Contains(i))
            .OrderByDescending(i => logits[i]).ThenBy(i => i).Take(topK).Select(i => (uint)(i + 1)).ToList();
        while (expectedTop.Count < topK) expectedTop.Add(0);
        Assert.Equal(expectedTop, top);
    }

    /// <summary>The top-K keys of a user with no known item: the training popularity, ties by key.</summary>
    public static uint[] PopularTop(UserSequences train, int itemCount, int topK)
    {
        float[] counts = ItemCounts.Of(train);
        return Enumerable.Range(0, itemCount).OrderByDescending(i => counts[i]).ThenBy(i => i)
            .Take(topK).Select(i => (uint)(i + 1)).ToArray();
    }
}
