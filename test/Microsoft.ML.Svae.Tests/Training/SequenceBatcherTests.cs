using static TorchSharp.torch;

namespace Microsoft.ML.Svae.Tests.Training;

public class SequenceBatcherTests
{
    [Fact]
    public void PackRightPadsWithLengthsAndMask()
    {
        var data = TinySequences.FromArrays(10, [1, 2, 3], [4], [5, 6, 7, 8, 9]);
        var batcher = new SequenceBatcher(data, maxUsersPerBatch: 8, maxPositionsPerBatch: 100);
        using var scope = NewDisposeScope();
        var batch = batcher.Pack([0, 1, 2], CPU);

        Assert.Equal(5, batch.MaxLength);
        Assert.Equal(new long[] { 3, 5 }, batch.Items.shape);
        Assert.Equal(new long[] { 1, 2, 3, 0, 0, 4, 0, 0, 0, 0, 5, 6, 7, 8, 9 }, batch.Items.data<long>().ToArray());
        Assert.Equal(new long[] { 3, 1, 5 }, batch.LengthTensor.data<long>().ToArray());
        Assert.Equal(new[] { 3, 1, 5 }, batch.Lengths);
        Assert.Equal(new[] { true, true, true, false, false, true, false, false, false, false, true, true, true, true, true },
            batch.Mask.data<bool>().ToArray());
    }

    [Fact]
    public void TruncationKeepsTheMostRecentEvents()
    {
        var data = TinySequences.FromArrays(10, [1, 2, 3, 4, 5, 6], [7, 8]);
        var batcher = new SequenceBatcher(data, 8, 100, maxHistoryLength: 3);
        Assert.Equal(new[] { 4, 5, 6 }, batcher.Sequence(0).ToArray());
        Assert.Equal(new[] { 7, 8 }, batcher.Sequence(1).ToArray());
        Assert.Equal(5, batcher.PositionCount);

        using var scope = NewDisposeScope();
        var batch = batcher.Pack([0, 1], CPU);
        Assert.Equal(new long[] { 4, 5, 6, 7, 8, 0 }, batch.Items.data<long>().ToArray());
    }

    [Fact]
    public void IncludeFilterDropsUsers()
    {
        var data = TinySequences.FromArrays(10, [1], [], [2, 3]);
        var batcher = new SequenceBatcher(data, 8, 100, include: length => length >= 2);
        Assert.Equal(new[] { 2 }, batcher.Users);
    }

    [Fact]
    public void PlansCoverEveryUserOnceAndRespectTheBudget()
    {
        var data = TinySequences.Cycle(users: 200, items: 30, minLength: 1, maxLength: 40, noise: 0.1, seed: 3);
        const int maxUsers = 16;
        const long budget = 120;
        var batcher = new SequenceBatcher(data, maxUsers, budget);

        foreach (var random in new Random?[] { null, new Random(1) })
        {
            var plan = batcher.Plan(random);
            Assert.Equal(Enumerable.Range(0, 200), plan.SelectMany(b => b).Order());
            foreach (var batch in plan)
            {
                Assert.InRange(batch.Length, 1, maxUsers);
                int longest = batch.Max(batcher.Length);
                Assert.True(batch.Length == 1 || batch.Length * longest <= budget, $"{batch.Length} users × {longest} exceeds the budget");
            }
        }
    }

    [Fact]
    public void LongHistoryAloneExceedsTheBudgetInABatchOfOne()
    {
        var data = TinySequences.FromArrays(10, Enumerable.Range(0, 50).Select(i => i % 10).ToArray(), [1, 2], [3, 4]);
        var plan = new SequenceBatcher(data, 8, 10).Plan(null);
        Assert.Contains(plan, b => b.SequenceEqual([0]));
        Assert.Contains(plan, b => b.Order().SequenceEqual([1, 2]));
    }

    [Fact]
    public void ShuffledPlansAreSeededAndVaryAcrossEpochs()
    {
        var data = TinySequences.Cycle(100, 30, 2, 20, 0.1, seed: 5);
        var batcher = new SequenceBatcher(data, 8, 1000);
        var a = new Random(7);
        var b = new Random(7);
        var first = batcher.Plan(a);
        Assert.Equal(first, batcher.Plan(b));
        Assert.NotEqual(first, batcher.Plan(a));
    }

    [Fact]
    public void LengthBucketPlansCoverEveryUserOnceGroupSimilarLengthsAndAreSeeded()
    {
        // 1,000 users in batches of at most 4: the default order sorts pools of 200 users, the buckets all 1,000.
        var data = TinySequences.Cycle(users: 1000, items: 30, minLength: 1, maxLength: 60, noise: 0.1, seed: 3);
        const int maxUsers = 4;
        const long budget = 200;
        var buckets = new SequenceBatcher(data, maxUsers, budget, order: BatchOrder.LengthBuckets);
        var pooled = new SequenceBatcher(data, maxUsers, budget);
        Assert.Equal(BatchOrder.LengthBuckets, buckets.Order);

        var plan = buckets.Plan(new Random(11));
        Assert.Equal(Enumerable.Range(0, 1000), plan.SelectMany(b => b).Order());
        foreach (var batch in plan)
        {
            Assert.InRange(batch.Length, 1, maxUsers);
            Assert.True(batch.Length == 1 || batch.Length * batch.Max(buckets.Length) <= budget);
        }
        // Buckets over the whole epoch: the batches' length ranges do not interleave.
        var ranges = plan.Select(b => (Min: b.Min(buckets.Length), Max: b.Max(buckets.Length))).OrderBy(r => r.Min).ThenBy(r => r.Max).ToList();
        for (int i = 1; i < ranges.Count; i++)
            Assert.True(ranges[i - 1].Max <= ranges[i].Min, $"batches [{ranges[i - 1].Min}, {ranges[i - 1].Max}] and [{ranges[i].Min}, {ranges[i].Max}] interleave");
        // Not in length order: the batches are shuffled.
        Assert.NotEqual(plan.Select(b => b.Min(buckets.Length)).Order(), plan.Select(b => b.Min(buckets.Length)));
        Assert.True(Padding(buckets, plan) < Padding(pooled, pooled.Plan(new Random(11))));

        // Seeded: the same seed gives the same plan; the next epoch (or another seed) another order of batches and
        // another grouping of users of equal length.
        Assert.Equal(plan, buckets.Plan(new Random(11)));
        var other = buckets.Plan(new Random(12));
        Assert.NotEqual(plan, other);
        Assert.NotEqual(plan.Select(b => b.Order().ToArray()).OrderBy(b => b[0]).ToList(), other.Select(b => b.Order().ToArray()).OrderBy(b => b[0]).ToList());
        Assert.Equal(Enumerable.Range(0, 1000), other.SelectMany(b => b).Order());
    }

    private static double Padding(SequenceBatcher batcher, List<int[]> plan)
    {
        long padded = plan.Sum(b => (long)b.Length * b.Max(batcher.Length));
        return 1 - (double)batcher.PositionCount / padded;
    }
}
