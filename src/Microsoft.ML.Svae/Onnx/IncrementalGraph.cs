using DataType = Microsoft.ML.Svae.Onnx.Proto.TensorProto.Types.DataType;

namespace Microsoft.ML.Svae.Onnx;

/// <summary>
/// The ONNX pieces every incremental (recurrent-state) scoring graph shares: the previous state input, the
/// items already seen, and the next state output.
/// </summary>
/// <remarks>
/// *** Incremental graph format ***
/// Inputs: <see cref="StateInput"/> <c>float [1, state_length]</c> (the state the previous call returned, or
/// empty for a new user), the history column <c>uint32 [1, history_length]</c> (the new item keys, in time
/// order) and <see cref="SeenInput"/> <c>uint32 [1, seen_length]</c> (the keys seen before, excluded from the
/// ranking; may be empty). Keys 0 and above N are dropped, as in <see cref="RecommendationGraph"/>. Outputs:
/// <see cref="NextStateOutput"/> <c>float [1, H]</c> (empty when the state was empty and no new item is known:
/// still a new user), and the ranking head's outputs.
/// </remarks>
internal static class IncrementalGraph
{
    public const string StateInput = IncrementalColumns.State;
    public const string SeenInput = IncrementalColumns.Seen;
    public const string NextStateOutput = IncrementalColumns.NextState;

    /// <summary>
    /// Declares the state input and returns <c>(state, hasState)</c>: the state as <c>float [1, H]</c> (zeros
    /// when the input is empty) and a boolean scalar, true when the input is not empty. A non-empty state of
    /// another size than <paramref name="stateSize"/> fails in a node whose name says so.
    /// </summary>
    public static (string State, string HasState) PreviousState(OnnxGraphBuilder g, string graphName, int stateSize)
    {
        g.Input(StateInput, DataType.Float, 1, "state_length");
        string hasState = g.Node("Greater", new[] { g.Node("Size", new[] { StateInput }), g.Scalar(0L) });

        var given = g.Subgraph("given_state");
        string givenOut = graphName + "/given_state";
        given.AddNamedNode(
            $"The {StateInput} column must hold {stateSize} floats (the model's recurrent state size) or be empty for a new user",
            "Reshape", new[] { StateInput, given.Int64s(1, stateSize) }, new[] { givenOut });
        given.Output(givenOut, DataType.Float, 1, stateSize);

        var initial = g.Subgraph("initial_state");
        string initialOut = graphName + "/initial_state";
        initial.AddNode("Identity", new[] { initial.Constant("zero_state", new float[stateSize], 1, stateSize) }, new[] { initialOut });
        initial.Output(initialOut, DataType.Float, 1, stateSize);

        string state = g.Node("If", new[] { hasState }, ("then_branch", given), ("else_branch", initial));
        return (state, hasState);
    }

    /// <summary>
    /// Declares the seen-items input and returns the 0-based indices of every item to exclude: the known keys of
    /// <see cref="SeenInput"/> followed by <paramref name="newIndices"/>.
    /// </summary>
    public static string SeenIndices(OnnxGraphBuilder g, string newIndices, int itemCount)
    {
        string seen = RecommendationGraph.HistoryIndices(g, SeenInput, itemCount, "seen_length");
        return g.Node("Concat", new[] { seen, newIndices }, ("axis", 0L));
    }

    /// <summary>An empty state <c>float [1, 0]</c>: what a user without any known item keeps.</summary>
    public static string EmptyState(OnnxGraphBuilder g) => g.Constant("empty_state", ReadOnlySpan<float>.Empty, 1, 0);

    /// <summary>Writes <paramref name="state"/> as the <see cref="NextStateOutput"/> output.</summary>
    public static void NextState(OnnxGraphBuilder g, string state)
    {
        g.AddNode("Identity", new[] { state }, new[] { NextStateOutput });
        g.Output(NextStateOutput, DataType.Float, 1, "next_state_length");
    }

    /// <summary>The incremental graph's metadata: the ranking graph's, the kind of graph and the state size.</summary>
    public static Dictionary<string, string> Metadata(string modelName, int itemCount, int stateSize)
    {
        var metadata = RecommendationGraph.Metadata(modelName, itemCount);
        metadata["mlnet.svae.graph"] = "incremental";
        metadata["mlnet.svae.state_size"] = stateSize.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return metadata;
    }
}
