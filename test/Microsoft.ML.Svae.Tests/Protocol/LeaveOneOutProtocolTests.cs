using static Microsoft.ML.Svae.Tests.Protocol.ProtocolTestData;

namespace Microsoft.ML.Svae.Tests.Protocol;

public class LeaveOneOutProtocolTests
{
    private readonly MLContext _ml = new(seed: 1);
    private readonly SequenceDataCatalog _data;

    public LeaveOneOutProtocolTests() => _data = new SequenceDataCatalog(_ml);

    private static SequenceProtocolOptions LeaveOneOut() => new() { Split = SequenceSplit.LeaveOneOut };

    private static uint[] Events(UserSequences sequences, int user) => sequences[user].ToArray().Select(i => (uint)i).ToArray();

    [Fact]
    public void TheLastEventIsTheTestTargetTheOneBeforeItTheValidationTargetInTimeOrder()
    {
        // User 1's events out of time order, with a tie at t = 5 that keeps the input order (item 10 before item 30).
        var rows = new (uint, uint, float, long)[]
        {
            (1, 10, 5, 5), (1, 20, 5, 1), (1, 30, 5, 5), (1, 40, 5, 3), (1, 50, 5, 0),
            (2, 10, 5, 0), (2, 20, 5, 1), (2, 60, 5, 2),
        };
        var dataset = _data.PrepareSequences(Interactions(_ml, rows), new SequenceProtocolOptions { Split = SequenceSplit.LeaveOneOut, MinItemsPerUser = 3 });
        uint Raw(uint key) => dataset.ItemIds[(int)key - 1];

        var train = SequenceRows(dataset.Train);
        var validation = SequenceRows(dataset.Validation);
        var test = SequenceRows(dataset.Test);
        Assert.Equal(new uint[] { 50, 20, 40 }, train[0].History.Select(Raw));
        Assert.Equal(new long[] { 0, 1, 3 }, train[0].Times);
        Assert.Equal(new uint[] { 50, 20, 40 }, validation[0].History.Select(Raw));
        Assert.Equal(new uint[] { 10 }, validation[0].FoldOut.Select(Raw));
        Assert.Equal(new uint[] { 50, 20, 40, 10 }, test[0].History.Select(Raw));
        Assert.Equal(new uint[] { 30 }, test[0].FoldOut.Select(Raw));
        Assert.Equal(new uint[] { 10 }, train[1].History.Select(Raw));
        Assert.Equal(new uint[] { 20 }, validation[1].FoldOut.Select(Raw));
        Assert.Equal(new uint[] { 60 }, test[1].FoldOut.Select(Raw));
        // One user key per user in every split; the vocabulary holds every item, also one seen only as a target (60).
        Assert.Equal(new uint[] { 1, 2 }, train.Select(r => r.User));
        Assert.Equal(new uint[] { 1, 2 }, validation.Select(r => r.User));
        Assert.Equal(new uint[] { 1, 2 }, test.Select(r => r.User));
        Assert.Equal(new uint[] { 10, 20, 30, 40, 50, 60 }, dataset.ItemIds);
        Assert.Equal((2, 2, 2), (dataset.Report.TrainUsers, dataset.Report.ValidationUsers, dataset.Report.TestUsers));
    }

    [Fact]
    public void EveryUserHasOneTargetPerSplitStrictlyLastAndNoTargetLeaksIntoTraining()
    {
        var interactions = Synthetic(_ml);
        var paper = _data.PrepareSequences(interactions, new SequenceProtocolOptions { ValidationUsers = 0, TestUsers = 0 });
        var dataset = _data.PrepareSequences(interactions, LeaveOneOut());
        int users = paper.TrainUserCount;
        Assert.Equal(users, dataset.TrainUserCount);
        Assert.Equal(users, dataset.ValidationUserCount);
        Assert.Equal(users, dataset.TestUserCount);
        Assert.Equal(dataset.Train.Schema[SequenceColumns.UserId].Type, dataset.Test.Schema[SequenceColumns.UserId].Type);
        for (int u = 0; u < users; u++)
        {
            // The whole time-ordered history of user u, in raw ids (the paper split with no held-out users keeps it whole).
            var whole = Events(paper.TrainSequences, u).Select(k => paper.ItemIds[(int)k]).ToArray();
            var wholeTimes = paper.TrainTimestamps.AsSpan(paper.TrainSequences.Offsets[u], whole.Length).ToArray();
            uint Raw(uint index) => dataset.ItemIds[(int)index];
            Assert.Equal(1, dataset.ValidationFoldOut.Length(u));
            Assert.Equal(1, dataset.TestFoldOut.Length(u));
            Assert.Equal(whole[..^2], Events(dataset.TrainSequences, u).Select(Raw));
            Assert.Equal(whole[..^2], Events(dataset.ValidationFoldIn, u).Select(Raw));
            Assert.Equal(whole[^2], Raw(Events(dataset.ValidationFoldOut, u)[0]));
            Assert.Equal(whole[..^1], Events(dataset.TestFoldIn, u).Select(Raw));
            Assert.Equal(whole[^1], Raw(Events(dataset.TestFoldOut, u)[0]));
            // Strictly last in time order: no training event after the validation target, none after the test target.
            long validationTime = dataset.ValidationFoldOutTimestamps[u], testTime = dataset.TestFoldOutTimestamps[u];
            Assert.Equal(wholeTimes[^1], testTime);
            Assert.True(dataset.TrainTimestamps.AsSpan(dataset.TrainSequences.Offsets[u], whole.Length - 2).ToArray().All(t => t <= validationTime));
            Assert.True(validationTime <= testTime);
        }
        // The per-user models' training set adds nothing: the targets stay out of training.
        Assert.Equal(dataset.TrainSequences.EventCount, dataset.TrainWithHeldOutFoldInSequences.EventCount);
        Assert.Equal(paper.TrainSequences.EventCount - 2 * users, dataset.TrainSequences.EventCount);
        Assert.Equal(paper.TrainSequences.EventCount, dataset.Report.EventsKept);
    }

    [Fact]
    public void LeaveOneOutNeedsThreeEventsPerUser()
    {
        var options = LeaveOneOut();
        options.MinItemsPerUser = 2;
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => _data.PrepareSequences(Synthetic(_ml), options));
        Assert.Contains("MinItemsPerUser must be at least 3 with Split = LeaveOneOut", error.Message);
        options = LeaveOneOut();
        options.MaxHistoryLength = 2;
        Assert.Contains("MaxHistoryLength", Assert.ThrowsAny<ArgumentOutOfRangeException>(() => _data.PrepareSequences(Synthetic(_ml), options)).Message);
        options = LeaveOneOut();
        options.Split = (SequenceSplit)7;
        Assert.Contains("Split must be Paper or LeaveOneOut", Assert.Throws<ArgumentOutOfRangeException>(() => _data.PrepareSequences(Synthetic(_ml), options)).Message);
    }

    [Fact]
    public void TheDefaultIsThePapersProtocol()
        => Assert.Equal(SequenceSplit.Paper, new SequenceProtocolOptions().Split);

    [Fact]
    public void ASingleTargetsHitRateIsAHitAndItsNdcgOneOverLogOfRankPlusOne()
    {
        // Three users, each with one target (item 9): at rank 1, at rank 3 and not in the top 5.
        var foldIn = new UserSequences(10, [0, 1, 2, 3], [0, 0, 0]);
        var foldOut = new UserSequences(10, [0, 1, 2, 3], [9, 9, 9]);
        int[] top =
        [
            9, 1, 2, 3, 4,
            1, 2, 9, 3, 4,
            1, 2, 3, 4, 5,
        ];
        var metrics = RecommendationEvaluator.Compute(top, 5, foldIn, foldOut, [1, 5]);
        Assert.Equal(1.0 / 3, metrics.HitRate(1), 12);
        Assert.Equal(2.0 / 3, metrics.HitRate(5), 12);
        Assert.Equal((1 + 1 / Math.Log2(4)) / 3, metrics.Ndcg(5), 12);
        Assert.Equal(metrics.Recall(5), metrics.HitRate(5), 12);
    }
}
