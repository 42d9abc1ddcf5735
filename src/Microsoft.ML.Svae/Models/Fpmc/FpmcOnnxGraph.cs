using Microsoft.ML.Svae.Onnx;
using DataType = Microsoft.ML.Svae.Onnx.Proto.TensorProto.Types.DataType;

namespace Microsoft.ML.Svae;

/// <summary>FPMC's inference weights, copied out of the trained network (PyTorch layout, row-major).</summary>
internal sealed record FpmcWeights(float[] UserItem, float[] ItemUser, float[] ItemPrevious, float[] PreviousItem, int Factors);

/// <summary>
/// Writes FPMC's inference graph: user key → V_U,I[u] (zero for an unknown user) times all V_I,U, plus the
/// history's last known item l → V_L,I[l] (zero for an empty history) times all V_I,L → logits → the history's
/// items masked → top-K.
/// </summary>
internal static class FpmcOnnxGraph
{
    public static byte[] Write(RecommendationModelDescription d, FpmcWeights w)
    {
        var g = new OnnxGraphBuilder("fpmc");
        string seen = RecommendationGraph.HistoryIndices(g, d.HistoryColumnName, d.ItemCount);
        string user = UserKeyedOnnx.UserVector(g, d, w.UserItem, w.Factors, "user_item");
        var zeroBias = new float[d.ItemCount];
        string userTerm = OnnxLayers.Dense(g, user, new DenseWeights(w.ItemUser, zeroBias, d.ItemCount, w.Factors), "item_user");

        // The last known item: [0, seen...][-1] is item 0 for an empty history, whose vector is then zeroed.
        string padded = g.Node("Concat", new[] { g.Int64s(0), seen }, ("axis", 0L));
        string last = g.Node("Gather", new[] { padded, g.Int64s(-1) }, ("axis", 0L));
        string previousTable = g.Constant("previous_item", w.PreviousItem, d.ItemCount, w.Factors);
        string nonEmpty = g.Node("Cast", new[] { RecommendationGraph.IsNonEmpty(g, seen) }, ("to", (long)DataType.Float));
        string previous = g.Node("Mul", new[] { g.Node("Gather", new[] { previousTable, last }, ("axis", 0L)), nonEmpty });
        string transition = OnnxLayers.Dense(g, previous, new DenseWeights(w.ItemPrevious, zeroBias, d.ItemCount, w.Factors), "item_previous");

        string logits = g.Node("Add", new[] { userTerm, transition });
        RecommendationGraph.RankingHead(g, logits, seen, d.ItemCount, d.TopK, d.ItemValues, d.IncludeScores);
        return g.ToModelBytes(RecommendationGraph.Metadata(d.ModelName, d.ItemCount));
    }
}
