using DataType = Microsoft.ML.Svae.Onnx.Proto.TensorProto.Types.DataType;

namespace Microsoft.ML.Svae.Onnx;

/// <summary>
/// The branch every next-item model's graph shares: a history with at least one known item is scored by the
/// model's sequence subgraph, an empty one by fixed scores (training popularity). ONNX Runtime aborts the process
/// on a GRU over an empty sequence, so the sequence subgraph must never see one.
/// </summary>
internal static class HistoryScoringGraph
{
    /// <summary>
    /// Adds <c>If(|seen| &gt; 0, sequence, empty)</c> to <paramref name="g"/> and returns its <c>float [1, N]</c> logits.
    /// </summary>
    /// <param name="g">The main graph.</param>
    /// <param name="seen">The 0-based indices of the history's known items, <c>int64 [L]</c>.</param>
    /// <param name="name">A name unique in the model (the subgraphs' output names start with it).</param>
    /// <param name="itemCount">N.</param>
    /// <param name="emptyHistoryScores">The <c>[N]</c> scores of an empty history.</param>
    /// <param name="sequenceLogits">Writes the sequence branch into the given subgraph and returns its <c>[1, N]</c> logits.</param>
    public static string LogitsOrFallback(OnnxGraphBuilder g, string seen, string name, int itemCount, float[] emptyHistoryScores,
        Func<OnnxGraphBuilder, string> sequenceLogits)
    {
        var sequence = g.Subgraph("sequence");
        string thenOut = name + "/sequence_logits";
        sequence.AddNode("Identity", new[] { sequenceLogits(sequence) }, new[] { thenOut });
        sequence.Output(thenOut, DataType.Float, 1, itemCount);

        var empty = g.Subgraph("empty_history");
        string elseOut = name + "/empty_history_logits";
        empty.AddNode("Identity", new[] { empty.Constant("popularity", emptyHistoryScores, 1, itemCount) }, new[] { elseOut });
        empty.Output(elseOut, DataType.Float, 1, itemCount);

        return g.Node("If", new[] { RecommendationGraph.IsNonEmpty(g, seen) }, ("then_branch", sequence), ("else_branch", empty));
    }
}
