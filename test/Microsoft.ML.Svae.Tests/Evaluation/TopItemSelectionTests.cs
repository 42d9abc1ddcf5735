namespace Microsoft.ML.Svae.Tests.Evaluation;

public class TopItemSelectionTests
{
    private static int[] Select(float[] scores, int count, bool[]? seen = null)
    {
        var keys = new ulong[scores.Length];
        var destination = new int[count];
        int written = TopItemSelection.SelectTop(scores, seen ?? [], count, keys, destination);
        return destination[..written];
    }

    [Fact]
    public void TiesGoToTheLowerItemIndex()
    {
        float[] scores = [1f, 3f, 3f, 2f, 3f];

        Assert.Equal([1, 2, 4, 3, 0], Select(scores, 5));
        Assert.Equal([1, 2], Select(scores, 2));
    }

    [Fact]
    public void SeenItemsAreExcluded()
    {
        float[] scores = [5f, 4f, 3f, 2f, 1f];
        bool[] seen = [true, false, true, false, false];

        Assert.Equal([1, 3], Select(scores, 2, seen));
        Assert.Equal([1, 3, 4], Select(scores, 10, seen)); // fewer unseen items than asked for
    }

    [Fact]
    public void NegativeInfinityRanksLastAmongNumbersAndNaNBelowIt()
    {
        float[] scores = [float.NaN, float.NegativeInfinity, -0f, 0f, -1e30f, float.PositiveInfinity];

        // +inf, then the two zeros (equal, so index order), then -1e30, -inf, NaN.
        Assert.Equal([5, 2, 3, 4, 1, 0], Select(scores, 6));
    }

    [Fact]
    public void PartialSelectionMatchesAFullSortOnManyTies()
    {
        var random = new Random(12345);
        for (int trial = 0; trial < 200; trial++)
        {
            int n = random.Next(1, 400);
            var scores = new float[n];
            var seen = new bool[n];
            for (int i = 0; i < n; i++)
            {
                scores[i] = random.Next(0, 8) * 0.25f - 1f; // few distinct values: many ties
                seen[i] = random.NextDouble() < 0.2;
            }
            if (trial % 7 == 0)
                Array.Sort(scores); // sorted inputs are a quickselect worst case without a good pivot
            int count = random.Next(1, 120);

            int[] expected = Enumerable.Range(0, n).Where(i => !seen[i])
                .OrderByDescending(i => scores[i]).ThenBy(i => i).Take(count).ToArray();

            Assert.Equal(expected, Select(scores, count, seen));
        }
    }
}
