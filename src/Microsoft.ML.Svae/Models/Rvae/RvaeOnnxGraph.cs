using Microsoft.ML.Svae.Onnx;

namespace Microsoft.ML.Svae;

/// <summary>RVAE's inference weights, copied out of the trained network (see <see cref="RvaeNetwork.InferenceParts"/>).</summary>
/// <param name="UserEmbedding">The user layer <c>W_user [E, N]</c>, <c>b_user [E]</c>.</param>
/// <param name="UserWeight">The user half of the first encoding layer, <c>[H, E]</c> row-major.</param>
/// <param name="ItemHidden">The item half plus the bias, <c>C [N, H]</c> row-major.</param>
/// <param name="ScoreVector"><c>v [H, 1]</c>: the μ layer followed by the score layer.</param>
/// <param name="ScoreBias"><c>c [1]</c>.</param>
/// <param name="HiddenSize">H.</param>
internal sealed record RvaeWeights(
    DenseWeights UserEmbedding,
    float[] UserWeight,
    float[] ItemHidden,
    float[] ScoreVector,
    float[] ScoreBias,
    int HiddenSize);

/// <summary>
/// Writes RVAE's inference graph: history keys → known items → multi-hot <c>[1, N]</c> → divided by
/// <c>max(|x_u|, 1)</c> → user layer (tanh) → <c>tanh(W_h,user · p_u + C)</c> for all N items at once
/// (<c>[1, H]</c> broadcast against <c>[N, H]</c>) → <c>· v + c</c> → scores <c>[1, N]</c> → seen items masked →
/// top-K.
/// </summary>
/// <remarks>
/// At inference z = μ, so the μ layer and the score layer fold into <c>v</c> and <c>c</c>, and the item half of
/// the first encoding layer into the constant <c>C</c>; <see cref="RvaeNetwork.ScoreAll"/> computes the same. An
/// empty history gives the zero input and the user embedding <c>tanh(b_user)</c>.
/// </remarks>
internal static class RvaeOnnxGraph
{
    public static byte[] Write(RecommendationModelDescription d, RvaeWeights w)
    {
        int n = d.ItemCount, h = w.HiddenSize, e = w.UserEmbedding.Out;
        var g = new OnnxGraphBuilder("rvae");
        string seen = RecommendationGraph.HistoryIndices(g, d.HistoryColumnName, n);
        string x = MultiHotInput.Onnx(g, seen, n);
        string count = g.Node("ReduceSum", new[] { x, g.Int64s(1) }, ("keepdims", 1L));
        string mean = g.Node("Div", new[] { x, g.Node("Max", new[] { count, g.Scalar(1f) }) });
        string user = OnnxLayers.DenseTanh(g, mean, w.UserEmbedding, "user_embedding");                 // [1, E]
        string userHidden = g.Node("Gemm", new[] { user, g.Constant("encoder_hidden_user", w.UserWeight, h, e) }, ("transB", 1L)); // [1, H]
        string hidden = g.Node("Tanh", new[] { g.Node("Add", new[] { userHidden, g.Constant("item_hidden", w.ItemHidden, n, h) }) }); // [N, H]
        string scores = g.Node("Add", new[] { g.Node("MatMul", new[] { hidden, g.Constant("score_vector", w.ScoreVector, h, 1) }), g.Constant("score_bias", w.ScoreBias, 1) });
        string logits = g.Node("Reshape", new[] { scores, g.Int64s(1, n) });
        RecommendationGraph.RankingHead(g, logits, seen, n, d.TopK, d.ItemValues, d.IncludeScores);
        return g.ToModelBytes(RecommendationGraph.Metadata(d.ModelName, d.ItemCount));
    }
}
