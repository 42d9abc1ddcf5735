using Microsoft.ML.Data;
using Microsoft.ML.Svae.Tests.Common;
using static TorchSharp.torch;

namespace Microsoft.ML.Svae.Tests.Models;

/// <summary>A small SVAE trained once, with the torch network kept for state comparisons.</summary>
public sealed class SvaeIncrementalFixture : IDisposable
{
    public const int Items = 30;
    public const int Hidden = 24;

    public SvaeIncrementalFixture()
    {
        Ml = new MLContext(seed: 1);
        var train = UserSequences.Read(SequenceTestData.Histories(Ml, Items, CycleData.Walks(60, Items, 6, 14, seed: 3)), SequenceColumns.History, "history");
        var options = new SvaeTrainer.Options
        {
            EmbeddingSize = 16, RecurrentSize = Hidden, EncoderSize = 16, LatentSize = 8, DecoderSize = 16, NextK = 2,
            NumberOfEpochs = 2, BatchSize = 16, LearningRate = 1e-2, Seed = 7, TopK = 10, EarlyStoppingPatience = 0,
        };
        var trainer = Ml.Recommendation().Trainers.Svae(options);
        Trainer = trainer;
        Trained = trainer.TrainModel(new TrainingData(train));
        Description = new RecommendationModelDescription("SVAE", SequenceColumns.History, Items, options.TopK, false,
            Enumerable.Range(1, Items).Select(i => (long)i).ToArray());
        Model = trainer.CreateTransformer(Description, Trained);
        Incremental = Model.CreateIncrementalModel();
    }

    public MLContext Ml { get; }

    internal TrainedSequenceModel Trained { get; }

    internal SvaeTrainer Trainer { get; }

    internal RecommendationModelDescription Description { get; }

    public SvaeTransformer Model { get; }

    public IncrementalRecommendationTransformer Incremental { get; }

    public void Dispose()
    {
        Incremental.Dispose();
        Model.Dispose();
        Trained.Dispose();
    }
}

public class SvaeIncrementalTests : IClassFixture<SvaeIncrementalFixture>
{
    private readonly SvaeIncrementalFixture _f;

    public SvaeIncrementalTests(SvaeIncrementalFixture fixture) => _f = fixture;

    private static IncrementalUpdate Step(MLContext ml, ITransformer model, float[] state, uint[] items, uint[] seen)
        => ml.Data.CreateEnumerable<IncrementalUpdate>(model.Transform(ml.Data.LoadFromEnumerable(new[] { new IncrementalEvent { State = state, History = items, Seen = seen } })), reuseRowObject: false).Single();

    private RecommendationRow Full(uint[] history)
        => _f.Ml.Data.CreateEnumerable<RecommendationRow>(_f.Model.Transform(_f.Ml.Data.LoadFromEnumerable(new[] { new HistoryRow { History = history } })), reuseRowObject: false).Single();

    private float[] TorchState(uint[] history)
    {
        var network = ((SvaeModel)_f.Trained.Model).Network;
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var items = tensor(history.Select(k => (long)k - 1).ToArray()).unsqueeze(0);
        return network.Recurrent(items)[0, -1].data<float>().ToArray();
    }

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
        var history = Enumerable.Range(0, length).Select(i => (uint)((i * 7 + 3) % SvaeIncrementalFixture.Items + 1)).ToArray();
        var state = Array.Empty<float>();
        IncrementalUpdate? last = null;
        for (int t = 0; t < length; t++)
        {
            last = Step(_f.Ml, _f.Incremental, state, new[] { history[t] }, history[..t]);
            Assert.Equal(SvaeIncrementalFixture.Hidden, last.NextState.Length);
            // After every event, the recommendations are the full model's for the history so far.
            var full = Full(history[..(t + 1)]);
            Assert.Equal(full.TopItems, last.TopItems);
            AssertClose(full.TopScores, last.TopScores, 1e-4, $"top scores after {t + 1} events");
            state = last.NextState;
        }

        // The whole history at once from an empty state (a fresh user) ends in the same state.
        var atOnce = Step(_f.Ml, _f.Incremental, Array.Empty<float>(), history, Array.Empty<uint>());
        AssertClose(atOnce.NextState, last!.NextState, 1e-5, "state");
        Assert.Equal(Full(history).TopItems, atOnce.TopItems);
        // ... which is the trained GRU's state after the history (ONNX Runtime against TorchSharp).
        AssertClose(TorchState(history), atOnce.NextState, 1e-4, "torch state");
    }

    [Fact]
    public void UnknownIdsAreIgnored()
    {
        var known = Step(_f.Ml, _f.Incremental, Array.Empty<float>(), new uint[] { 3, 4 }, Array.Empty<uint>());
        var withUnknown = Step(_f.Ml, _f.Incremental, Array.Empty<float>(), new uint[] { 3, 999, 4, 0 }, new uint[] { 1000 });
        Assert.Equal(known.NextState, withUnknown.NextState);
        Assert.Equal(known.TopItems, withUnknown.TopItems);
    }

    [Fact]
    public void NoNewItemsKeepTheStateAndRecommendFromIt()
    {
        var before = Step(_f.Ml, _f.Incremental, Array.Empty<float>(), new uint[] { 3, 4, 5 }, Array.Empty<uint>());
        var again = Step(_f.Ml, _f.Incremental, before.NextState, Array.Empty<uint>(), new uint[] { 3, 4, 5 });
        Assert.Equal(before.NextState, again.NextState);
        Assert.Equal(Full(new uint[] { 3, 4, 5 }).TopItems, again.TopItems);
        var unknownOnly = Step(_f.Ml, _f.Incremental, before.NextState, new uint[] { 999 }, new uint[] { 3, 4, 5 });
        Assert.Equal(before.NextState, unknownOnly.NextState);
    }

    [Fact]
    public void ANewUserWithoutItemsGetsTheEmptyHistoryRankingAndStaysNew()
    {
        var update = Step(_f.Ml, _f.Incremental, Array.Empty<float>(), Array.Empty<uint>(), Array.Empty<uint>());
        Assert.Empty(update.NextState);
        var full = Full(Array.Empty<uint>());
        Assert.Equal(full.TopItems, update.TopItems);
        AssertClose(full.TopScores, update.TopScores, 1e-6, "popularity scores");
    }

    [Fact]
    public void WithoutSeenItemsOnlyTheNewItemsAreExcluded()
    {
        var state = Step(_f.Ml, _f.Incremental, Array.Empty<float>(), new uint[] { 3, 4, 5 }, Array.Empty<uint>()).NextState;
        var withoutSeen = Step(_f.Ml, _f.Incremental, state, new uint[] { 6 }, Array.Empty<uint>());
        var withSeen = Step(_f.Ml, _f.Incremental, state, new uint[] { 6 }, new uint[] { 3, 4, 5 });
        Assert.DoesNotContain(6u, withoutSeen.TopItems);
        Assert.Equal(withSeen.NextState, withoutSeen.NextState);
        Assert.Equal(withSeen.TopItems, Full(new uint[] { 3, 4, 5, 6 }).TopItems);
        // The seen items only drop out of the same ranking.
        var expected = withoutSeen.TopItems.Where(i => i is not (3 or 4 or 5)).ToArray();
        Assert.Equal(expected, withSeen.TopItems[..expected.Length]);
    }

    [Fact]
    public void AStateOfTheWrongSizeIsAClearError()
    {
        var error = Assert.ThrowsAny<Exception>(() => Step(_f.Ml, _f.Incremental, new float[5], new uint[] { 3 }, Array.Empty<uint>()));
        var messages = ExceptionChain.Messages(error);
        Assert.Contains($"The State column must hold {SvaeIncrementalFixture.Hidden} floats (the model's recurrent state size) or be empty for a new user", messages);
    }

    [Fact]
    public void ColumnsOfTheWrongTypeAreRejectedByName()
    {
        var schema = new DataViewSchema.Builder();
        schema.AddColumn("State", new VectorDataViewType(NumberDataViewType.Double));
        schema.AddColumn("History", new VectorDataViewType(NumberDataViewType.UInt32));
        schema.AddColumn("Seen", new VectorDataViewType(NumberDataViewType.UInt32));
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => _f.Incremental.GetOutputSchema(schema.ToSchema()));
        Assert.StartsWith("The state column 'State' must be a Vector<Single> (the previous NextState, or empty for a new user), but its type is Vector<Double>.", error.Message);

        var noSeen = new DataViewSchema.Builder();
        noSeen.AddColumn("State", new VectorDataViewType(NumberDataViewType.Single));
        noSeen.AddColumn("History", new VectorDataViewType(NumberDataViewType.UInt32));
        var missing = Assert.ThrowsAny<ArgumentException>(() => _f.Incremental.GetOutputSchema(noSeen.ToSchema()));
        Assert.Contains("'Seen'", missing.Message);

        var strings = new DataViewSchema.Builder();
        strings.AddColumn("State", new VectorDataViewType(NumberDataViewType.Single));
        strings.AddColumn("History", new VectorDataViewType(TextDataViewType.Instance));
        strings.AddColumn("Seen", new VectorDataViewType(NumberDataViewType.UInt32));
        var wrongIds = Assert.Throws<ArgumentOutOfRangeException>(() => _f.Incremental.GetOutputSchema(strings.ToSchema()));
        Assert.StartsWith("The history column 'History' must be a vector of the model's item ids (Vector<UInt32>), but its type is Vector<Text>.", wrongIds.Message);
    }

    [Fact]
    public void TheIncrementalZipLoadsWithPublicMLNetAndScoresTheSame()
    {
        Assert.Equal(SvaeIncrementalFixture.Hidden, _f.Model.RecurrentSize);
        Assert.Equal(SvaeIncrementalFixture.Hidden, _f.Incremental.StateSize);
        string path = Path.Combine(Path.GetTempPath(), $"svae-incremental-{Guid.NewGuid():N}.zip");
        try
        {
            var input = _f.Ml.Data.LoadFromEnumerable(new[] { new IncrementalEvent() });
            _f.Ml.Model.Save(_f.Incremental, input.Schema, path);
            var fresh = new MLContext(seed: 3);
            var loaded = fresh.Model.Load(path, out var inputSchema);
            try
            {
                Assert.IsType<TransformerChain<ITransformer>>(loaded);
                Assert.Equal(new[] { "State", "History", "Seen" }, inputSchema.Select(c => c.Name));
                var expected = Step(_f.Ml, _f.Incremental, Array.Empty<float>(), new uint[] { 3, 4, 5 }, Array.Empty<uint>());
                var first = Step(fresh, loaded, Array.Empty<float>(), new uint[] { 3, 4, 5 }, Array.Empty<uint>());
                Assert.Equal(expected.NextState, first.NextState);
                Assert.Equal(expected.TopItems, first.TopItems);
                var next = Step(fresh, loaded, first.NextState, new uint[] { 6 }, new uint[] { 3, 4, 5 });
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
