using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Microsoft.ML.Svae.Onnx;
using Microsoft.ML.Svae.Tests.Common;

namespace Microsoft.ML.Svae.Tests.Models;

/// <summary>
/// The incremental graph's branch-free form (issue 13, speed): its guards, its key-indexed ranking on raw keys, the
/// folded GRU input projections and the optional scores column.
/// </summary>
public class SvaeIncrementalGraphTests : IClassFixture<SvaeIncrementalFixture>
{
    private const int H = SvaeIncrementalFixture.Hidden;
    private const int N = SvaeIncrementalFixture.Items;
    private readonly SvaeIncrementalFixture _f;

    public SvaeIncrementalGraphTests(SvaeIncrementalFixture fixture) => _f = fixture;

    public sealed class Event
    {
        public float[] State { get; set; } = Array.Empty<float>();
        public uint[] History { get; set; } = Array.Empty<uint>();
        public uint[] Seen { get; set; } = Array.Empty<uint>();
    }

    public sealed class Update
    {
        public float[] NextState { get; set; } = Array.Empty<float>();
        public uint[] TopItems { get; set; } = Array.Empty<uint>();
    }

    public sealed class ScoredUpdate
    {
        public float[] NextState { get; set; } = Array.Empty<float>();
        public uint[] TopItems { get; set; } = Array.Empty<uint>();
        public float[] Scores { get; set; } = Array.Empty<float>();
    }

    public sealed class FullInput
    {
        public uint[] History { get; set; } = Array.Empty<uint>();
    }

    public sealed class FullScores
    {
        public uint[] TopItems { get; set; } = Array.Empty<uint>();
        public float[] Scores { get; set; } = Array.Empty<float>();
    }

    [Theory]
    [InlineData(H + 1)]
    [InlineData(2 * H)]
    [InlineData(3 * H)]
    public void AStateOfSeveralStatesOrOneFloatTooManyIsAClearError(int floats)
    {
        var input = _f.Ml.Data.LoadFromEnumerable(new[] { new Event { State = new float[floats], History = new uint[] { 3 } } });
        var error = Assert.ThrowsAny<Exception>(() => _f.Ml.Data.CreateEnumerable<Update>(_f.Incremental.Transform(input), reuseRowObject: false).ToList());
        var messages = ExceptionChain.Messages(error);
        Assert.Contains($"The State column must hold {H} floats (the model's recurrent state size) or be empty for a new user", messages);
    }

    [Fact]
    public void TheGraphRunsNoBranchAndOneLoopForTheSteps()
    {
        var model = Microsoft.ML.Svae.Onnx.Proto.ModelProto.Parser.ParseFrom(Graph(_f.Incremental));
        var operators = model.Graph.Node.Select(n => n.OpType).ToList();
        Assert.DoesNotContain("If", operators);
        Assert.DoesNotContain("GRU", operators);
        Assert.Single(operators, op => op == "Loop");
    }

    [Serving.OnnxCheckerFact]
    public void TheGraphPassesTheOnnxChecker()
    {
        string path = Path.Combine(Path.GetTempPath(), $"svae-incremental-graph-{Guid.NewGuid():N}.onnx");
        try
        {
            File.WriteAllBytes(path, Graph(_f.Incremental));
            var (exitCode, error) = Serving.OnnxChecker.Check(path);
            Assert.True(exitCode == 0, $"The ONNX checker rejected the incremental graph: {error}");
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static byte[] Graph(IncrementalRecommendationTransformer model)
    {
        using var stream = new MemoryStream();
        model.ExportOnnx(stream);
        return stream.ToArray();
    }

    /// <summary>The graph on item keys, run by ONNX Runtime directly (what a host without ML.NET feeds it).</summary>
    private static (float[] State, long[] TopKeys) RunKeys(InferenceSession session, float[] state, uint[] history, uint[] seen)
    {
        using var results = session.Run(new[]
        {
            NamedOnnxValue.CreateFromTensor("State", new DenseTensor<float>(state, [1, state.Length])),
            NamedOnnxValue.CreateFromTensor("History", new DenseTensor<uint>(history, [1, history.Length])),
            NamedOnnxValue.CreateFromTensor("Seen", new DenseTensor<uint>(seen, [1, seen.Length])),
        });
        return (results.Single(r => r.Name == "NextState").AsEnumerable<float>().ToArray(),
            results.Single(r => r.Name == RecommendationGraph.TopItemKeysOutput).AsEnumerable<long>().ToArray());
    }

    [Fact]
    public void KeysZeroAndAboveTheItemCountAreDroppedOnTheRawGraph()
    {
        using var session = new InferenceSession(Graph(_f.Incremental));
        var known = RunKeys(session, Array.Empty<float>(), new uint[] { 3, 4 }, new uint[] { 7 });
        // Unknown keys neither step the GRU nor mask an item (key N + 1 and larger ones share the last masked column).
        var withUnknown = RunKeys(session, Array.Empty<float>(), new uint[] { 0, 3, N + 1, 4, uint.MaxValue }, new uint[] { N + 1, 7, 0, 5000 });
        Assert.Equal(known.State, withUnknown.State);
        Assert.Equal(known.TopKeys, withUnknown.TopKeys);
        Assert.DoesNotContain(3L, known.TopKeys);
        Assert.DoesNotContain(7L, known.TopKeys);
        // All K = 10 places hold real keys (27 items are unseen).
        Assert.All(known.TopKeys, k => Assert.InRange(k, 1, N));

        // No known item at all: a new user stays new, ranked by popularity without the masked keys.
        var stillNew = RunKeys(session, Array.Empty<float>(), new uint[] { 0, N + 1 }, new uint[] { 2 });
        Assert.Empty(stillNew.State);
        Assert.DoesNotContain(2L, stillNew.TopKeys);
    }

    [Fact]
    public void FewerUnseenItemsThanKLeaveMissingPlacesAtKeyZero()
    {
        using var session = new InferenceSession(Graph(_f.Incremental));
        var seen = Enumerable.Range(1, N - 3).Select(i => (uint)i).ToArray();
        var (_, top) = RunKeys(session, Array.Empty<float>(), new uint[] { N - 2 }, seen);
        // Two items are unseen (N - 1 and N): the other eight of the K = 10 places hold the missing key 0.
        Assert.Equal(new long[] { N - 1, N }, top[..2].Order().ToArray());
        Assert.Equal(new long[8], top[2..]);
    }

    [Fact]
    public void InputProjectionsFoldTheInputWeightsAndTheResetAndUpdateBiases()
    {
        // H = 1, two inputs; rows of W_ih in PyTorch's gate order (r, z, n).
        var gru = new GruWeights(WeightIh: [1, 2, 3, 4, 5, 6], WeightHh: [0, 0, 0], BiasIh: [0.5f, 0.25f, 0.125f], BiasHh: [1, 2, 4], Hidden: 1, In: 2);
        float[] projections = OnnxLayers.GruInputProjections([1, 1, 2, 0], 2, gru);
        // Row (1, 1): r = 1 + 2 + 0.5 + 1, z = 3 + 4 + 0.25 + 2, n = 5 + 6 + 0.125 (b_hn stays inside r ⊙ (W_hn h + b_hn)).
        // Row (2, 0): r = 2 + 0.5 + 1, z = 6 + 0.25 + 2, n = 10 + 0.125.
        Assert.Equal(new[] { 4.5f, 9.25f, 11.125f, 3.5f, 8.25f, 10.125f }, projections);
        var error = Assert.Throws<ArgumentException>(() => OnnxLayers.GruInputProjections([1, 1, 2], 2, gru));
        Assert.Equal("Expected 2 rows of 2 inputs, got 3 values.", error.Message);
    }

    [Fact]
    public void TheScoresColumnIsTheFullModelsWithTheSeenAndTheNewItemsMasked()
    {
        var description = _f.Description with { IncludeScores = true };
        using var full = _f.Trainer.CreateTransformer(description, _f.Trained);
        using var incremental = full.CreateIncrementalModel();
        var ml = _f.Ml;
        var first = ml.Data.CreateEnumerable<ScoredUpdate>(incremental.Transform(ml.Data.LoadFromEnumerable(new[]
        {
            new Event { History = new uint[] { 3, 4, 5 } },
        })), reuseRowObject: false).Single();
        var update = ml.Data.CreateEnumerable<ScoredUpdate>(incremental.Transform(ml.Data.LoadFromEnumerable(new[]
        {
            new Event { State = first.NextState, History = new uint[] { 6 }, Seen = new uint[] { 3, 4, 5 } },
        })), reuseRowObject: false).Single();
        var expected = ml.Data.CreateEnumerable<FullScores>(full.Transform(ml.Data.LoadFromEnumerable(new[]
        {
            new FullInput { History = new uint[] { 3, 4, 5, 6 } },
        })), reuseRowObject: false).Single();
        Assert.Equal(N, update.Scores.Length);
        Assert.Equal(expected.TopItems, update.TopItems);
        for (int i = 0; i < N; i++)
        {
            if (i + 1 is 3 or 4 or 5 or 6)
                Assert.Equal(float.NegativeInfinity, update.Scores[i]);
            else
                Assert.True(Math.Abs(expected.Scores[i] - update.Scores[i]) <= 1e-4, $"Scores[{i}]: {expected.Scores[i]} vs {update.Scores[i]}");
        }
    }
}
