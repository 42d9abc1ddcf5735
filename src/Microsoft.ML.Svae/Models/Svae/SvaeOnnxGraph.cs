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
    /// <remarks>
    /// Built for one event per call: no <c>If</c> (see <see cref="IncrementalGraph"/>); the embedding and the GRU's
    /// input weights are folded at export into one table of input projections (<see cref="OnnxLayers.GruInputProjections"/>),
    /// so a step gathers a row and multiplies only by the recurrent weights; the decoder writes key-indexed scores.
    /// </remarks>
    public static byte[] WriteIncremental(RecommendationModelDescription d, SvaeWeights w)
    {
        int n = d.ItemCount;
        var decoderOut = new DenseWeights(
            IncrementalGraph.KeyIndexedRows(w.DecoderOut.Weight, n, 0f), IncrementalGraph.KeyIndexedRows(w.DecoderOut.Bias, n, float.NegativeInfinity),
            n + 2, w.DecoderOut.In);
        return IncrementalGraph.WriteRecurrent(d, "svae_incremental", w.Gru, w.ItemEmbedding, w.EmptyHistoryScores,
            (g, state) => StateLogits(g, state, w, decoderOut));
    }

    /// <summary>The embeddings of the 0-based <paramref name="indices"/> <c>[L]</c> as the GRU's input <c>[L, 1, E]</c>.</summary>
    private static string Embedded(OnnxGraphBuilder g, string indices, RecommendationModelDescription d, SvaeWeights w)
    {
        string embedding = g.Constant("item_embedding", w.ItemEmbedding, d.ItemCount, w.EmbeddingSize);
        return g.Node("Unsqueeze", new[] { g.Node("Gather", new[] { embedding, indices }, ("axis", 0L)), g.Int64s(1) });
    }

    /// <summary>
    /// SVAE's scoring of a GRU state <c>[1, H]</c>: encoder → z = μ → decoder → item logits <c>[1, N]</c> (or
    /// the rows of <paramref name="decoderOut"/> when given). The encoder's output layer computes μ only: its rows
    /// of σ are dropped at export.
    /// </summary>
    private static string StateLogits(OnnxGraphBuilder g, string state, SvaeWeights w, DenseWeights? decoderOut = null)
    {
        var e = w.EncoderOut;
        var meanLayer = new DenseWeights(e.Weight[..(w.LatentSize * e.In)], e.Bias[..w.LatentSize], w.LatentSize, e.In);
        string mean = OnnxLayers.Dense(g, OnnxLayers.DenseTanh(g, state, w.EncoderHidden, "encoder_hidden"), meanLayer, "encoder_mean");
        string decoded = OnnxLayers.DenseTanh(g, mean, w.DecoderHidden, "decoder_hidden");
        return OnnxLayers.Dense(g, decoded, decoderOut ?? w.DecoderOut, "decoder_out");
    }
}
