using Microsoft.ML.Svae.Protocol;
using static Microsoft.ML.Svae.Tests.Protocol.ProtocolTestData;

namespace Microsoft.ML.Svae.Tests.Protocol;

public class SyntheticInteractionProtocolTests
{
    private readonly MLContext _ml = new(seed: 1);
    private readonly SequenceDataCatalog _data;

    public SyntheticInteractionProtocolTests() => _data = new SequenceDataCatalog(_ml);

    private static SyntheticInteractionOptions Small(int seed) => new()
    {
        Users = 400,
        Items = 200,
        MeanHistoryLength = 50,
        MinHistoryLength = 10,
        MaxHistoryLength = 150,
        Seed = seed,
    };

    [Fact]
    public void SameSeedGivesTheSameLogAndOtherSeedsDiffer()
    {
        var a = SyntheticInteractions.Generate(Small(3));
        var b = SyntheticInteractions.Generate(Small(3));
        var c = SyntheticInteractions.Generate(Small(4));
        Assert.Equal(a.Count, b.Count);
        Assert.Equal(a.UserIds.AsSpan(0, a.Count).ToArray(), b.UserIds.AsSpan(0, b.Count).ToArray());
        Assert.Equal(a.ItemIds.AsSpan(0, a.Count).ToArray(), b.ItemIds.AsSpan(0, b.Count).ToArray());
        Assert.Equal(a.Ratings.AsSpan(0, a.Count).ToArray(), b.Ratings.AsSpan(0, b.Count).ToArray());
        Assert.Equal(a.Timestamps.AsSpan(0, a.Count).ToArray(), b.Timestamps.AsSpan(0, b.Count).ToArray());
        Assert.NotEqual(a.ItemIds.AsSpan(0, Math.Min(a.Count, c.Count)).ToArray(), c.ItemIds.AsSpan(0, Math.Min(a.Count, c.Count)).ToArray());
    }

    [Fact]
    public void LogHasRatingsTiesLengthsAndNoRepeatsAsDocumented()
    {
        var options = Small(5);
        var rows = Rows(_ml, _data.GenerateSyntheticInteractions(options));
        Assert.All(rows, r => Assert.InRange(r.Rating, 1f, 5f));
        double positive = rows.Count(r => r.Rating > 3) / (double)rows.Count;
        Assert.InRange(positive, options.PositiveFraction - 0.05, options.PositiveFraction + 0.05);
        Assert.All(rows, r => Assert.InRange(r.ItemId, 1u, (uint)options.Items));

        var users = rows.GroupBy(r => r.UserId).ToList();
        Assert.Equal(options.Users, users.Count);
        Assert.All(users, g => Assert.InRange(g.Count(), options.MinHistoryLength, options.MaxHistoryLength));
        Assert.All(users, g => Assert.Equal(g.Count(), g.Select(r => r.ItemId).Distinct().Count()));
        int ties = 0, steps = 0;
        foreach (var g in users)
        {
            var times = g.Select(r => r.Timestamp).ToArray();
            for (int i = 1; i < times.Length; i++, steps++)
            {
                Assert.True(times[i] >= times[i - 1], "rows are emitted in time order");
                if (times[i] == times[i - 1]) ties++;
            }
        }
        Assert.InRange(ties / (double)steps, options.TieProbability - 0.05, options.TieProbability + 0.05);
    }

    [Fact]
    public void PositiveSequencesHaveStructureThatBeatsPopularity()
    {
        // Learn "next item = most frequent successor of the previous item" on half the users and compare its hit
        // rate on the other half with always predicting the most popular unseen item.
        var dataset = _data.PrepareSequences(_data.GenerateSyntheticInteractions(Small(8)),
            new SequenceProtocolOptions { RatingThreshold = 3, ValidationUsers = 0, TestUsers = 0 });
        var sequences = dataset.TrainSequences;
        int half = sequences.Count / 2;
        int n = dataset.ItemCount;
        var transitions = new int[n, n];
        var popularity = new int[n];
        for (int u = 0; u < half; u++)
        {
            var s = sequences[u];
            for (int i = 0; i < s.Length; i++)
            {
                popularity[s[i]]++;
                if (i > 0) transitions[s[i - 1], s[i]]++;
            }
        }
        var bestNext = Enumerable.Range(0, n).Select(a => Enumerable.Range(0, n).MaxBy(b => transitions[a, b])).ToArray();
        var byPopularity = Enumerable.Range(0, n).OrderByDescending(i => popularity[i]).ToArray();

        int sequentialHits = 0, popularityHits = 0, predictions = 0;
        for (int u = half; u < sequences.Count; u++)
        {
            var s = sequences[u];
            var seen = new HashSet<int>();
            for (int i = 1; i < s.Length; i++)
            {
                seen.Add(s[i - 1]);
                predictions++;
                if (bestNext[s[i - 1]] == s[i]) sequentialHits++;
                if (byPopularity.First(item => !seen.Contains(item)) == s[i]) popularityHits++;
            }
        }
        double sequential = sequentialHits / (double)predictions, pop = popularityHits / (double)predictions;
        Assert.True(sequential > 0.15, $"successor hit rate {sequential:P1}");
        Assert.True(sequential > 4 * pop, $"successor hit rate {sequential:P1} vs popularity {pop:P1}");
    }

    [Fact]
    public void MovieLens1MPresetHasTheShapeOfMovieLens1M()
    {
        var log = _data.GenerateSyntheticInteractions(SyntheticInteractionOptions.MovieLens1MShape());
        var stats = _data.ComputeStatistics(log, "synthetic");
        Assert.Equal(6040L, stats["Users"][0]);
        Assert.InRange((long)stats["Interactions"][0], 900_000, 1_100_000);
        Assert.InRange((long)stats["Max history"][0], 1000, 2314);
        Assert.InRange((double)stats["Median history"][0], 80, 115);

        var dataset = _data.PrepareSequences(log, SequenceProtocolOptions.MovieLens1M());
        Assert.InRange(dataset.Report.EventsAfterBinarization, 520_000, 630_000);
        Assert.InRange(dataset.ItemCount, 3300, 3706);
        Assert.Equal(750, dataset.ValidationUserCount);
        Assert.Equal(750, dataset.TestUserCount);
    }

    [Fact]
    public void InvalidOptionsAreRejectedWithTheirName()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => _data.GenerateSyntheticInteractions(new SyntheticInteractionOptions { Items = 10, MinHistoryLength = 20, MaxHistoryLength = 30 }));
        Assert.Contains("MinHistoryLength must not exceed Items = 10", e.Message);
        e = Assert.Throws<ArgumentOutOfRangeException>(() => _data.GenerateSyntheticInteractions(new SyntheticInteractionOptions { TransitionStrength = 1.5 }));
        Assert.Contains("TransitionStrength", e.Message);
    }
}
