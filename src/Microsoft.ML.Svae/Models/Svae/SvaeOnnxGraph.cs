using Microsoft.ML.Svae.Onnx;
using DataType = Microsoft.ML.Svae.Onnx.Proto.TensorProto.Types.DataType;

namespace Microsoft.ML.Svae;

/// <summary>SVAE's inference weights, copied out of the trained network.</summary>
internal sealed record SvaeWeights(
    float[] ItemEmbedding,
    int EmbeddingSize,
    GruWeights Gru,
    DenseWeights EncoderHidden,
    DenseWeights EncoderOut,
    int LatentSize,
    DenseWeights DecoderHidden,
    DenseWeights DecoderOut,
    float[] EmptyHistoryScores);

/// <summary>
/// Writes SVAE's inference graph: the whole history → embedding → GRU → last state → encoder →
/// z = mean → decoder → logits over all items → seen items masked → top-K.
/// </summary>
/// <remarks>
/// ONNX Runtime aborts the process on a GRU over an empty sequence, so the graph branches with
/// <c>If</c>: a history with no known item is scored by <see cref="SvaeWeights.EmptyHistoryScores"/>
/// (training popularity) instead of running the GRU.
/// </remarks>
internal static class SvaeOnnxGraph
{
    public static byte[] Write(RecommendationModelDescription d, SvaeWeights w)
    {
        var g = new OnnxGraphBuilder("svae");
        string seen = RecommendationGraph.HistoryIndices(g, d.HistoryColumnName, d.ItemCount);

        var sequence = g.Subgraph("sequence");
        string state = OnnxLayers.GruLastState(sequence, Embedded(sequence, seen, d, w), w.Gru);
        string thenOut = "svae/sequence_logits";
        sequence.AddNode("Identity", new[] { StateLogits(sequence, state, w) }, new[] { thenOut });
        sequence.Output(thenOut, DataType.Float, 1, d.ItemCount);

        var empty = g.Subgraph("empty_history");
        string elseOut = "svae/empty_history_logits";
        empty.AddNode("Identity", new[] { empty.Constant("popularity", w.EmptyHistoryScores, 1, d.ItemCount) }, new[] { elseOut });
        empty.Output(elseOut, DataType.Float, 1, d.ItemCount);

        string logits = g.Node("If", new[] { RecommendationGraph.IsNonEmpty(g, seen) },
            ("then_branch", sequence), ("else_branch", empty));
        RecommendationGraph.RankingHead(g, logits, seen, d.ItemCount, d.TopK, d.ItemValues, d.IncludeScores);
        return g.ToModelBytes(RecommendationGraph.Metadata(d.ModelName, d.ItemCount));
    }

    /// <summary>
    /// Writes SVAE's incremental scoring graph (format in <see cref="IncrementalGraph"/>): the previous GRU state
    /// (zeros for an empty one) → one GRU step per new item → the next state, scored exactly as the whole-history
    /// graph scores its last state (encoder → z = μ → decoder; the seen and the new items masked). A user with
    /// neither a state nor a known new item is ranked by <see cref="SvaeWeights.EmptyHistoryScores"/> and keeps an
    /// empty state.
    /// </summary>
    public static byte[] WriteIncremental(RecommendationModelDescription d, SvaeWeights w)
    {
        const string name = "svae_incremental";
        int h = w.Gru.Hidden;
        var g = new OnnxGraphBuilder(name);
        var (previous, hasState) = IncrementalGraph.PreviousState(g, name, h);
        string items = RecommendationGraph.HistoryIndices(g, d.HistoryColumnName, d.ItemCount);
        string seen = IncrementalGraph.SeenIndices(g, items, d.ItemCount);
        string hasItems = RecommendationGraph.IsNonEmpty(g, items);

        var step = g.Subgraph("step");
        string stepOut = name + "/stepped_state";
        step.AddNode("Identity", new[] { OnnxLayers.GruLastState(step, Embedded(step, items, d, w), w.Gru, previous) }, new[] { stepOut });
        step.Output(stepOut, DataType.Float, 1, h);

        var keep = g.Subgraph("no_new_items");
        string keepOut = name + "/kept_state";
        keep.AddNode("Identity", new[] { previous }, new[] { keepOut });
        keep.Output(keepOut, DataType.Float, 1, h);

        string state = g.Node("If", new[] { hasItems }, ("then_branch", step), ("else_branch", keep));

        var scored = g.Subgraph("scored");
        string scoredLogits = name + "/state_logits", scoredState = name + "/scored_state";
        scored.AddNode("Identity", new[] { StateLogits(scored, state, w) }, new[] { scoredLogits });
        scored.AddNode("Identity", new[] { state }, new[] { scoredState });
        scored.Output(scoredLogits, DataType.Float, 1, d.ItemCount);
        scored.Output(scoredState, DataType.Float, 1, h);

        var empty = g.Subgraph("new_user_without_items");
        string emptyLogits = name + "/empty_history_logits", emptyState = name + "/empty_state";
        empty.AddNode("Identity", new[] { empty.Constant("popularity", w.EmptyHistoryScores, 1, d.ItemCount) }, new[] { emptyLogits });
        empty.AddNode("Identity", new[] { IncrementalGraph.EmptyState(empty) }, new[] { emptyState });
        empty.Output(emptyLogits, DataType.Float, 1, d.ItemCount);
        empty.Output(emptyState, DataType.Float, 1, 0);

        string[] outputs = g.Nodes("If", new[] { g.Node("Or", new[] { hasState, hasItems }) }, 2,
            ("then_branch", scored), ("else_branch", empty));
        IncrementalGraph.NextState(g, outputs[1]);
        RecommendationGraph.RankingHead(g, outputs[0], seen, d.ItemCount, d.TopK, d.ItemValues, d.IncludeScores);
        return g.ToModelBytes(IncrementalGraph.Metadata(d.ModelName, d.ItemCount, h));
    }

    /// <summary>The embeddings of the 0-based <paramref name="indices"/> <c>[L]</c> as the GRU's input <c>[L, 1, E]</c>.</summary>
    private static string Embedded(OnnxGraphBuilder g, string indices, RecommendationModelDescription d, SvaeWeights w)
    {
        string embedding = g.Constant("item_embedding", w.ItemEmbedding, d.ItemCount, w.EmbeddingSize);
        return g.Node("Unsqueeze", new[] { g.Node("Gather", new[] { embedding, indices }, ("axis", 0L)), g.Int64s(1) });
    }

    /// <summary>SVAE's scoring of a GRU state <c>[1, H]</c>: encoder → z = μ → decoder → item logits <c>[1, N]</c>.</summary>
    private static string StateLogits(OnnxGraphBuilder g, string state, SvaeWeights w)
    {
        string encoded = OnnxLayers.Dense(g, OnnxLayers.DenseTanh(g, state, w.EncoderHidden, "encoder_hidden"), w.EncoderOut, "encoder_out");
        string mean = g.Node("Slice", new[] { encoded, g.Int64s(0), g.Int64s(w.LatentSize), g.Int64s(1) });
        string decoded = OnnxLayers.DenseTanh(g, mean, w.DecoderHidden, "decoder_hidden");
        return OnnxLayers.Dense(g, decoded, w.DecoderOut, "decoder_out");
    }
}
