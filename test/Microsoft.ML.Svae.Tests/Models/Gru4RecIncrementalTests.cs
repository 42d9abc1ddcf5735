using Microsoft.ML.Data;
using Microsoft.ML.Svae.Tests.Common;

namespace Microsoft.ML.Svae.Tests.Models;

/// <summary>A small GRU4Rec trained once, with its incremental model.</summary>
public sealed class Gru4RecIncrementalFixture : IDisposable
{
    public const int Items = 30;
    public const int Hidden = 20;

    public Gru4RecIncrementalFixture()
    {
        Ml = new MLContext(seed: 1);
        var train = UserSequences.Read(SequenceTestData.Histories(Ml, Items, CycleData.Walks(60, Items, 6, 14, seed: 3)), SequenceColumns.History, "history");
        var options = new Gru4RecTrainer.Options
        {
            EmbeddingSize = 12, RecurrentSize = Hidden, NumberOfEpochs = 2, BatchSize = 16, LearningRate = 1e-2, Seed = 7, TopK = 10,
            EarlyStoppingPatience = 0,
        };
        var trainer = Ml.Recommendation().Trainers.Gru4Rec(options);
        Trained = trainer.TrainModel(new TrainingData(train));
        var description = new RecommendationModelDescription("GRU4Rec", SequenceColumns.History, Items, options.TopK, false,
            Enumerable.Range(1, Items).Select(i => (long)i).ToArray());
        Model = trainer.CreateTransformer(description, Trained);
        Incremental = Model.CreateIncrementalModel();
    }

    public MLContext Ml { get; }

    internal TrainedSequenceModel Trained { get; }

    public Gru4RecTransformer Model { get; }

    public IncrementalRecommendationTransformer Incremental { get; }

    public void Dispose()
    {
        Incremental.Dispose();
        Model.Dispose();
        Trained.Dispose();
    }
}

/// <summary>GRU4Rec's incremental model: one event at a time gives the whole history's state and recommendations.</summary>
public class Gru4RecIncrementalTests : IClassFixture<Gru4RecIncrementalFixture>
{
    private readonly Gru4RecIncrementalFixture _f;

    public Gru4RecIncrementalTests(Gru4RecIncrementalFixture fixture) => _f = fixture;

    private IncrementalUpdate Step(float[] state, uint[] items, uint[] seen)
        => _f.Ml.Data.CreateEnumerable<IncrementalUpdate>(_f.Incremental.Transform(_f.Ml.Data.LoadFromEnumerable(new[] { new IncrementalEvent { State = state, History = items, Seen = seen } })), reuseRowObject: false).Single();

    private RecommendationRow Full(uint[] history)
        => _f.Ml.Data.CreateEnumerable<RecommendationRow>(_f.Model.Transform(_f.Ml.Data.LoadFromEnumerable(new[] { new HistoryRow { History = history } })), reuseRowObject: false).Single();

    private static void AssertClose(float[] expected, float[] actual, double tolerance, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(expected[i] == actual[i] || Math.Abs(expected[i] - actual[i]) <= tolerance, $"{what}[{i}]: {expected[i]} vs {actual[i]}");
    }

    public static TheoryData<int> Lengths => new() { 1, 5, 300 };

    [Theory]
    [MemberData(nameof(Lengths))]
    public void OneEventAtATimeEndsInTheWholeHistorysStateAndRecommendations(int length)
    {
        Assert.Equal(Gru4RecIncrementalFixture.Hidden, _f.Model.RecurrentSize);
        Assert.Equal(Gru4RecIncrementalFixture.Hidden, _f.Incremental.StateSize);
        var history = Enumerable.Range(0, length).Select(i => (uint)((i * 7 + 3) % Gru4RecIncrementalFixture.Items + 1)).ToArray();
        var state = Array.Empty<float>();
        IncrementalUpdate? last = null;
        for (int t = 0; t < length; t++)
        {
            last = Step(state, new[] { history[t] }, history[..t]);
            Assert.Equal(Gru4RecIncrementalFixture.Hidden, last.NextState.Length);
            // After every event, the recommendations are the full model's for the history so far.
            var full = Full(history[..(t + 1)]);
            Assert.Equal(full.TopItems, last.TopItems);
            AssertClose(full.TopScores, last.TopScores, 1e-4, $"top scores after {t + 1} events");
            state = last.NextState;
        }

        // The whole history at once from an empty state (a fresh user) ends in the same state and ranking.
        var atOnce = Step(Array.Empty<float>(), history, Array.Empty<uint>());
        AssertClose(atOnce.NextState, last!.NextState, 1e-5, "state");
        Assert.Equal(Full(history).TopItems, atOnce.TopItems);
    }

    [Fact]
    public void ANewUserWithoutKnownItemsGetsThePopularityRankingAndStaysNew()
    {
        var update = Step(Array.Empty<float>(), new uint[] { 999 }, Array.Empty<uint>());
        Assert.Empty(update.NextState);
        var full = Full(Array.Empty<uint>());
        Assert.Equal(full.TopItems, update.TopItems);
        AssertClose(full.TopScores, update.TopScores, 1e-6, "popularity scores");
    }

    [Serving.OnnxCheckerFact]
    public void TheGraphPassesTheOnnxChecker()
    {
        string path = Path.Combine(Path.GetTempPath(), $"gru4rec-incremental-graph-{Guid.NewGuid():N}.onnx");
        try
        {
            using (var file = File.Create(path))
                _f.Incremental.ExportOnnx(file);
            var (exitCode, error) = Serving.OnnxChecker.Check(path);
            Assert.True(exitCode == 0, $"The ONNX checker rejected the incremental graph: {error}");
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void NoNewItemsKeepTheStateAndTheSeenItemsAreExcluded()
    {
        var before = Step(Array.Empty<float>(), new uint[] { 3, 4, 5 }, Array.Empty<uint>());
        var again = Step(before.NextState, Array.Empty<uint>(), new uint[] { 3, 4, 5 });
        Assert.Equal(before.NextState, again.NextState);
        Assert.Equal(Full(new uint[] { 3, 4, 5 }).TopItems, again.TopItems);
        Assert.DoesNotContain(again.TopItems, i => i is 3 or 4 or 5);
    }

    [Fact]
    public void AStateOfTheWrongSizeIsAClearError()
    {
        var error = Assert.ThrowsAny<Exception>(() => Step(new float[5], new uint[] { 3 }, Array.Empty<uint>()));
        Assert.Contains($"The State column must hold {Gru4RecIncrementalFixture.Hidden} floats (the model's recurrent state size) or be empty for a new user",
            ExceptionChain.Messages(error));
    }

    [Fact]
    public void TheIncrementalZipLoadsWithPublicMLNetAndScoresTheSame()
    {
        string path = Path.Combine(Path.GetTempPath(), $"gru4rec-incremental-{Guid.NewGuid():N}.zip");
        try
        {
            _f.Ml.Model.Save(_f.Incremental, _f.Ml.Data.LoadFromEnumerable(new[] { new IncrementalEvent() }).Schema, path);
            var fresh = new MLContext(seed: 3);
            var loaded = fresh.Model.Load(path, out var inputSchema);
            try
            {
                Assert.Equal(new[] { "State", "History", "Seen" }, inputSchema.Select(c => c.Name));
                IncrementalUpdate LoadedStep(float[] state, uint[] items, uint[] seen)
                    => fresh.Data.CreateEnumerable<IncrementalUpdate>(loaded.Transform(fresh.Data.LoadFromEnumerable(new[] { new IncrementalEvent { State = state, History = items, Seen = seen } })), reuseRowObject: false).Single();
                var expected = Step(Array.Empty<float>(), new uint[] { 3, 4, 5 }, Array.Empty<uint>());
                var first = LoadedStep(Array.Empty<float>(), new uint[] { 3, 4, 5 }, Array.Empty<uint>());
                Assert.Equal(expected.NextState, first.NextState);
                Assert.Equal(expected.TopItems, first.TopItems);
                var next = LoadedStep(first.NextState, new uint[] { 6 }, new uint[] { 3, 4, 5 });
                Assert.Equal(Full(new uint[] { 3, 4, 5, 6 }).TopItems, next.TopItems);
            }
            finally
            {
                (loaded as IDisposable)?.Dispose();
            }
        }
        finally
        {
            File.Delete(path);
        }
    }
}
