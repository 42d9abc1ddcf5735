using Microsoft.ML.Svae.Onnx;

namespace Microsoft.ML.Svae;

/// <summary>MVAE's inference weights, copied out of the trained network.</summary>
internal sealed record MvaeWeights(
    DenseWeights EncoderHidden,
    DenseWeights EncoderOut,
    int LatentSize,
    DenseWeights DecoderHidden,
    DenseWeights DecoderOut);

/// <summary>
/// Writes MVAE's inference graph: history keys → known items → multi-hot <c>[1, N]</c> (ScatterElements) → L2
/// normalization → tanh layer → μ → tanh layer → logits over all items → seen items masked → top-K.
/// </summary>
/// <remarks>
/// A history with no known item gives the zero input: the division by <c>max(‖x‖₂, ε)</c> keeps it zero (no NaN),
/// and the decoder of its μ is the score, exactly as <see cref="MvaeNetwork.Score"/> computes it.
/// </remarks>
internal static class MvaeOnnxGraph
{
    public static byte[] Write(RecommendationModelDescription d, MvaeWeights w)
    {
        var g = new OnnxGraphBuilder("mvae");
        string seen = RecommendationGraph.HistoryIndices(g, d.HistoryColumnName, d.ItemCount);
        string x = MultiHotInput.Onnx(g, seen, d.ItemCount);
        string norm = g.Node("ReduceL2", new[] { x }, ("axes", new long[] { 1 }), ("keepdims", 1L));
        string input = g.Node("Div", new[] { x, g.Node("Max", new[] { norm, g.Scalar(MvaeNetwork.NormEpsilon) }) });
        string encoded = OnnxLayers.Dense(g, OnnxLayers.DenseTanh(g, input, w.EncoderHidden, "encoder_hidden"), w.EncoderOut, "encoder_out");
        string mean = g.Node("Slice", new[] { encoded, g.Int64s(0), g.Int64s(w.LatentSize), g.Int64s(1) });
        string logits = OnnxLayers.Dense(g, OnnxLayers.DenseTanh(g, mean, w.DecoderHidden, "decoder_hidden"), w.DecoderOut, "decoder_out");
        RecommendationGraph.RankingHead(g, logits, seen, d.ItemCount, d.TopK, d.ItemValues, d.IncludeScores);
        return g.ToModelBytes(RecommendationGraph.Metadata(d.ModelName, d.ItemCount));
    }
}
