using Microsoft.ML.Svae.Onnx;

namespace Microsoft.ML.Svae;

/// <summary>SASRec's inference weights, copied out of the trained network.</summary>
internal sealed record SasrecWeights(
    float[] ItemEmbedding,
    float[] PositionEmbedding,
    int EmbeddingSize,
    int MaxLength,
    int Heads,
    AttentionBlockWeights[] Blocks,
    LayerNormWeights FinalNorm,
    float[] EmptyHistoryScores);

/// <summary>
/// Writes SASRec's inference graph: the most recent <c>MaxLength</c> known items → embedding · √d + positional
/// embedding → self-attention blocks (causal mask by <c>Where</c>, opset-17 <c>LayerNormalization</c>) → layer norm →
/// the last position → dot products with every item embedding → seen items masked → top-K. A history with no
/// known item is ranked by training popularity.
/// </summary>
internal static class SasrecOnnxGraph
{
    public static byte[] Write(RecommendationModelDescription d, SasrecWeights w)
    {
        var g = new OnnxGraphBuilder("sasrec");
        string seen = RecommendationGraph.HistoryIndices(g, d.HistoryColumnName, d.ItemCount);
        string logits = HistoryScoringGraph.LogitsOrFallback(g, seen, "sasrec", d.ItemCount, w.EmptyHistoryScores, s =>
        {
            string embedding = s.Constant("item_embedding", w.ItemEmbedding, d.ItemCount, w.EmbeddingSize);
            string positions = s.Constant("position_embedding", w.PositionEmbedding, w.MaxLength, w.EmbeddingSize);
            string window = s.Node("Slice", new[] { seen, s.Int64s(-w.MaxLength), s.Int64s(long.MaxValue), s.Int64s(0) });
            string items = s.Node("Mul", new[] { s.Node("Gather", new[] { embedding, window }, ("axis", 0L)), s.Scalar((float)Math.Sqrt(w.EmbeddingSize)) });
            string x = s.Node("Add", new[] { items, s.Node("Slice", new[] { positions, s.Int64s(0), s.Node("Shape", new[] { window }), s.Int64s(0) }) });
            string future = OnnxAttention.FutureMask(s, x);
            for (int i = 0; i < w.Blocks.Length; i++)
                x = OnnxAttention.SasrecBlock(s, x, future, w.Blocks[i], w.Heads, $"block{i}");
            x = OnnxAttention.LayerNorm(s, x, w.FinalNorm, "final_norm");
            string last = s.Node("Slice", new[] { x, s.Int64s(-1), s.Int64s(long.MaxValue), s.Int64s(0) });
            return s.Node("Gemm", new[] { last, embedding }, ("transB", 1L));
        });
        RecommendationGraph.RankingHead(g, logits, seen, d.ItemCount, d.TopK, d.ItemValues, d.IncludeScores);
        return g.ToModelBytes(RecommendationGraph.Metadata(d.ModelName, d.ItemCount));
    }
}
