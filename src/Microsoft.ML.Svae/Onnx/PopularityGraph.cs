namespace Microsoft.ML.Svae.Onnx;

/// <summary>
/// The graph of a fixed score per item (POP's training counts): the same ranking for every user, seen items masked.
/// Also the placeholder graph of <c>GetOutputSchema</c>, which needs the output shapes only.
/// </summary>
internal static class PopularityGraph
{
    /// <summary>The graph ranking the items by <paramref name="scores"/> (<c>[N]</c>).</summary>
    public static byte[] Write(RecommendationModelDescription d, float[] scores)
    {
        var g = new OnnxGraphBuilder("popularity");
        string seen = RecommendationGraph.HistoryIndices(g, d.HistoryColumnName, d.ItemCount);
        string logits = g.Constant("popularity", scores, 1, d.ItemCount);
        RecommendationGraph.RankingHead(g, logits, seen, d.ItemCount, d.TopK, d.ItemValues, d.IncludeScores);
        return g.ToModelBytes(RecommendationGraph.Metadata(d.ModelName, d.ItemCount));
    }
}
