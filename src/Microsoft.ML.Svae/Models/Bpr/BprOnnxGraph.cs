using Microsoft.ML.Svae.Onnx;

namespace Microsoft.ML.Svae;

/// <summary>BPR's inference weights, copied out of the trained network (PyTorch layout, row-major).</summary>
internal sealed record BprWeights(float[] UserFactors, float[] ItemFactors, float[]? ItemBias, int Factors);

/// <summary>
/// Writes BPR's inference graph: user key → user factors (zero for an unknown user) → one Gemm with all items'
/// factors and biases → logits over all items → the history's items masked → top-K.
/// </summary>
internal static class BprOnnxGraph
{
    public static byte[] Write(RecommendationModelDescription d, BprWeights w)
    {
        var g = new OnnxGraphBuilder("bpr");
        string seen = RecommendationGraph.HistoryIndices(g, d.HistoryColumnName, d.ItemCount);
        string user = UserKeyedOnnx.UserVector(g, d, w.UserFactors, w.Factors, "user_factors");
        var items = new DenseWeights(w.ItemFactors, w.ItemBias ?? new float[d.ItemCount], d.ItemCount, w.Factors);
        string logits = OnnxLayers.Dense(g, user, items, "item_factors");
        RecommendationGraph.RankingHead(g, logits, seen, d.ItemCount, d.TopK, d.ItemValues, d.IncludeScores);
        return g.ToModelBytes(RecommendationGraph.Metadata(d.ModelName, d.ItemCount));
    }
}
