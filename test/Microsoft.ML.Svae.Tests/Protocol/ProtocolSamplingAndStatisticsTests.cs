using Microsoft.ML.Svae.Protocol;
using static Microsoft.ML.Svae.Tests.Protocol.ProtocolTestData;

namespace Microsoft.ML.Svae.Tests.Protocol;

public class ProtocolSamplingAndStatisticsTests
{
    private readonly MLContext _ml = new(seed: 1);
    private readonly SequenceDataCatalog _data;

    public ProtocolSamplingAndStatisticsTests() => _data = new SequenceDataCatalog(_ml);

    /// <summary>400 users with 5 events (stratum 4–7), 100 with 20 (16–31), 10 with 100 (64–127); user ids 1..510.</summary>
    private IDataView StratifiedLog()
    {
        var rows = new List<(uint, uint, float, long)>();
        uint user = 1;
        foreach (var (count, length) in new[] { (400, 5), (100, 20), (10, 100) })
            for (int k = 0; k < count; k++, user++)
                for (int i = 0; i < length; i++)
                    rows.Add((user, (uint)i, 5, i));
        return Interactions(_ml, rows);
    }

    private static Dictionary<uint, int> Lengths(List<InteractionRow> rows)
        => rows.GroupBy(r => r.UserId).ToDictionary(g => g.Key, g => g.Count());

    [Fact]
    public void StratifiedSampleUndersamplesShortHistoriesAndKeepsLongOnes()
    {
        var sample = Rows(_ml, _data.StratifiedUserSample(StratifiedLog(), targetUsers: 120, seed: 11));
        var lengths = Lengths(sample);
        Assert.Equal(120, lengths.Count);
        // Equal allocation capped by the stratum size: 10 long users, then (120 − 10) / 2 = 55 of each other stratum.
        Assert.Equal(10, lengths.Values.Count(l => l == 100));
        Assert.Equal(55, lengths.Values.Count(l => l == 20));
        Assert.Equal(55, lengths.Values.Count(l => l == 5));
        Assert.Equal(55 * 5 + 55 * 20 + 10 * 100, sample.Count); // every row of a sampled user is kept
    }

    [Fact]
    public void StratifiedSampleIsSeeded()
    {
        var log = StratifiedLog();
        var a = Lengths(Rows(_ml, _data.StratifiedUserSample(log, 120, seed: 11))).Keys.Order().ToArray();
        var b = Lengths(Rows(_ml, _data.StratifiedUserSample(log, 120, seed: 11))).Keys.Order().ToArray();
        var c = Lengths(Rows(_ml, _data.StratifiedUserSample(log, 120, seed: 12))).Keys.Order().ToArray();
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
    }

    [Fact]
    public void AllocationExponentZeroIsProportionalAndLargeTargetsKeepEverything()
    {
        Assert.Equal(new[] { 0, 0, 80, 0, 20, 0, 2 }, StratifiedUserSampler.Allocate(new[] { 0, 0, 400, 0, 100, 0, 10 }, 102, 0.0));
        Assert.Equal(new[] { 40, 40, 10 }, StratifiedUserSampler.Allocate(new[] { 400, 100, 10 }, 90, 1.0));
        Assert.Equal(new[] { 400, 100, 10 }, StratifiedUserSampler.Allocate(new[] { 400, 100, 10 }, 510, 1.0));
        var log = StratifiedLog();
        Assert.Same(log, _data.StratifiedUserSample(log, 10_000));
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => _data.StratifiedUserSample(log, 0));
        Assert.Contains("targetUsers must be at least 1", e.Message);
    }

    [Fact]
    public void StatisticsOfATinyDatasetMatchHandComputedValues()
    {
        // Users with 5, 6, 9 and 9 events over items 1..9; whichever user is held out, the others cover all items.
        var rows = new List<(uint, uint, float, long)>();
        foreach (var (user, length) in new[] { (1u, 5), (2u, 6), (3u, 9), (4u, 9) })
            for (int i = 1; i <= length; i++)
                rows.Add((user, (uint)i, 4, i));
        var dataset = _data.PrepareSequences(Interactions(_ml, rows), new SequenceProtocolOptions { ValidationUsers = 1, TestUsers = 0 });
        var table = _data.ComputeStatistics(dataset, "tiny");
        Assert.Equal(1, table.Rows.Count);
        Assert.Equal("tiny", table["Dataset"][0]);
        Assert.Equal(4L, table["Users"][0]);
        Assert.Equal(9L, table["Items"][0]);
        Assert.Equal(29L, table["Interactions"][0]);
        Assert.Equal(100.0 * 29 / 36, (double)table["Density (%)"][0], 9);
        Assert.Equal(7.25, (double)table["Avg history"][0], 9);
        Assert.Equal(7.5, (double)table["Median history"][0], 9);
        Assert.Equal(9L, table["Max history"][0]);
        Assert.Equal(1L, table["Held-out users"][0]);

        var raw = _data.ComputeStatistics(Interactions(_ml, rows.Take(11)), "raw");
        Assert.Equal(2L, raw["Users"][0]);
        Assert.Equal(6L, raw["Items"][0]);
        Assert.Equal(11L, raw["Interactions"][0]);
        Assert.Equal(5.5, (double)raw["Median history"][0], 9);
        Assert.Equal(0L, raw["Held-out users"][0]);
    }
}
