using Microsoft.ML.Svae.Onnx;

namespace Microsoft.ML.Svae;

/// <summary>Caser's inference weights, copied out of the trained network (PyTorch layout, row-major).</summary>
internal sealed record CaserWeights(
    float[] UserEmbedding,
    float[] ItemEmbedding,
    int EmbeddingSize,
    int SequenceLength,
    float[] VerticalWeight,
    float[] VerticalBias,
    int VerticalFilters,
    float[][] HorizontalWeights,
    float[][] HorizontalBiases,
    int HorizontalFilters,
    DenseWeights FullyConnected,
    float[] OutputItems,
    float[] OutputBias);

/// <summary>
/// Writes Caser's inference graph: the last L known items of the history, left padded → item embeddings as a
/// <c>[1, 1, L, d]</c> image → a vertical Conv and L horizontal Conv + Relu + ReduceMax → Concat → Gemm + Relu →
/// Concat with the user embedding (zero for an unknown user) → Gemm with all items' W2 and b2 → logits → the
/// history's items masked → top-K.
/// </summary>
internal static class CaserOnnxGraph
{
    public static byte[] Write(RecommendationModelDescription d, CaserWeights w)
    {
        var g = new OnnxGraphBuilder("caser");
        int l = w.SequenceLength, dim = w.EmbeddingSize;
        string seen = RecommendationGraph.HistoryIndices(g, d.HistoryColumnName, d.ItemCount);

        // [pad × L, seen...][-L:]: the last L known items, left padded with the padding row N.
        var padding = Enumerable.Repeat((long)d.ItemCount, l).ToArray();
        string padded = g.Node("Concat", new[] { g.Constant("padding", padding, l), seen }, ("axis", 0L));
        string window = g.Node("Slice", new[] { padded, g.Int64s(-l), g.Int64s(long.MaxValue), g.Int64s(0) });
        string embedding = g.Constant("item_embedding", w.ItemEmbedding, d.ItemCount + 1L, dim);
        string image = g.Node("Reshape", new[] { g.Node("Gather", new[] { embedding, window }, ("axis", 0L)), g.Int64s(1, 1, l, dim) });

        var parts = new List<string>();
        string vertical = g.Node("Conv", new[]
        {
            image,
            g.Constant("vertical_weight", w.VerticalWeight, w.VerticalFilters, 1, l, 1),
            g.Constant("vertical_bias", w.VerticalBias, w.VerticalFilters),
        }, ("kernel_shape", new long[] { l, 1 }));
        parts.Add(g.Node("Reshape", new[] { vertical, g.Int64s(1, (long)w.VerticalFilters * dim) }));
        for (int h = 1; h <= l; h++)
        {
            string convolution = g.Node("Conv", new[]
            {
                image,
                g.Constant($"horizontal{h}_weight", w.HorizontalWeights[h - 1], w.HorizontalFilters, 1, h, dim),
                g.Constant($"horizontal{h}_bias", w.HorizontalBiases[h - 1], w.HorizontalFilters),
            }, ("kernel_shape", new long[] { h, dim }));
            parts.Add(g.Node("ReduceMax", new[] { g.Node("Relu", new[] { convolution }) }, ("axes", new long[] { 2, 3 }), ("keepdims", 0L)));
        }
        string features = g.Node("Concat", parts.ToArray(), ("axis", 1L));
        string z = g.Node("Relu", new[] { OnnxLayers.Dense(g, features, w.FullyConnected, "fully_connected") });

        string user = UserKeyedOnnx.UserVector(g, d, w.UserEmbedding, dim, "user_embedding");
        string hidden = g.Node("Concat", new[] { z, user }, ("axis", 1L));
        string logits = OnnxLayers.Dense(g, hidden, new DenseWeights(w.OutputItems, w.OutputBias, d.ItemCount, 2 * dim), "output");
        RecommendationGraph.RankingHead(g, logits, seen, d.ItemCount, d.TopK, d.ItemValues, d.IncludeScores);
        return g.ToModelBytes(RecommendationGraph.Metadata(d.ModelName, d.ItemCount));
    }
}
