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
        string embedding = sequence.Constant("item_embedding", w.ItemEmbedding, d.ItemCount, w.EmbeddingSize);
        string x = sequence.Node("Unsqueeze", new[] { sequence.Node("Gather", new[] { embedding, seen }, ("axis", 0L)), sequence.Int64s(1) });
        string state = OnnxLayers.GruLastState(sequence, x, w.Gru);
        string encoded = OnnxLayers.Dense(sequence, OnnxLayers.DenseTanh(sequence, state, w.EncoderHidden, "encoder_hidden"), w.EncoderOut, "encoder_out");
        string mean = sequence.Node("Slice", new[] { encoded, sequence.Int64s(0), sequence.Int64s(w.LatentSize), sequence.Int64s(1) });
        string decoded = OnnxLayers.DenseTanh(sequence, mean, w.DecoderHidden, "decoder_hidden");
        string sequenceLogits = OnnxLayers.Dense(sequence, decoded, w.DecoderOut, "decoder_out");
        string thenOut = "svae/sequence_logits";
        sequence.AddNode("Identity", new[] { sequenceLogits }, new[] { thenOut });
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
}
