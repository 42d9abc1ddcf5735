using Microsoft.ML.Svae.Onnx;

namespace Microsoft.ML.Svae;

/// <summary>GRU4Rec's inference weights, copied out of the trained network.</summary>
internal sealed record Gru4RecWeights(float[] ItemEmbedding, int EmbeddingSize, GruWeights Gru, DenseWeights Dense, float[] EmptyHistoryScores);

/// <summary>
/// Writes GRU4Rec's inference graph: the whole history → embedding → GRU → last state → dense layer → dot
/// products with every item embedding → seen items masked → top-K. A history with no known item is ranked by
/// training popularity.
/// </summary>
internal static class Gru4RecOnnxGraph
{
    public static byte[] Write(RecommendationModelDescription d, Gru4RecWeights w)
    {
        var g = new OnnxGraphBuilder("gru4rec");
        string seen = RecommendationGraph.HistoryIndices(g, d.HistoryColumnName, d.ItemCount);
        string logits = HistoryScoringGraph.LogitsOrFallback(g, seen, "gru4rec", d.ItemCount, w.EmptyHistoryScores, s =>
        {
            string embedding = s.Constant("item_embedding", w.ItemEmbedding, d.ItemCount, w.EmbeddingSize);
            string x = s.Node("Unsqueeze", new[] { s.Node("Gather", new[] { embedding, seen }, ("axis", 0L)), s.Int64s(1) });
            string state = OnnxLayers.GruLastState(s, x, w.Gru);
            string representation = OnnxLayers.Dense(s, state, w.Dense, "dense");
            return s.Node("Gemm", new[] { representation, embedding }, ("transB", 1L));
        });
        RecommendationGraph.RankingHead(g, logits, seen, d.ItemCount, d.TopK, d.ItemValues, d.IncludeScores);
        return g.ToModelBytes(RecommendationGraph.Metadata(d.ModelName, d.ItemCount));
    }
}
