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

    /// <summary>
    /// Writes GRU4Rec's incremental scoring graph (format and construction in <see cref="IncrementalGraph"/>): one GRU
    /// step per new item from the previous state, scored as the whole-history graph scores its last state (dense layer →
    /// dot products with every item embedding). The embedding is key-indexed with zero rows before and after the items
    /// and the product gets a bias of negative infinity at those two columns (and 0 elsewhere, which leaves every item's
    /// score as it is).
    /// </summary>
    public static byte[] WriteIncremental(RecommendationModelDescription d, Gru4RecWeights w)
    {
        int n = d.ItemCount;
        var keyBias = new float[n + 2];
        keyBias[0] = keyBias[n + 1] = float.NegativeInfinity;
        return IncrementalGraph.WriteRecurrent(d, "gru4rec_incremental", w.Gru, w.ItemEmbedding, w.EmptyHistoryScores, (g, state) =>
        {
            string representation = OnnxLayers.Dense(g, state, w.Dense, "dense");
            string embedding = g.Constant("item_embedding", IncrementalGraph.KeyIndexedRows(w.ItemEmbedding, n, 0f), n + 2, w.EmbeddingSize);
            return g.Node("Gemm", new[] { representation, embedding, g.Constant("key_bias", keyBias, n + 2) }, ("transB", 1L));
        });
    }
}
