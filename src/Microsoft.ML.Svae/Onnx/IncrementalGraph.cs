using DataType = Microsoft.ML.Svae.Onnx.Proto.TensorProto.Types.DataType;

namespace Microsoft.ML.Svae.Onnx;

/// <summary>
/// The ONNX pieces every incremental (recurrent-state) scoring graph shares: the previous state input, the
/// ranking of key-indexed scores with the seen and the new items masked, and the next state output.
/// </summary>
/// <remarks>
/// *** Incremental graph format ***
/// Inputs: <see cref="StateInput"/> <c>float [1, state_length]</c> (the state the previous call returned, or
/// empty for a new user), the history column <c>uint32 [1, history_length]</c> (the new item keys, in time
/// order) and <see cref="SeenInput"/> <c>uint32 [1, seen_length]</c> (the keys seen before, excluded from the
/// ranking; may be empty). Keys 0 and above N are dropped, as in <see cref="RecommendationGraph"/>. Outputs:
/// <see cref="NextStateOutput"/> <c>float [1, H]</c> (empty when the state was empty and no new item is known:
/// still a new user), and the ranking head's outputs.
/// <para>
/// *** Speed (one event per call is the serving case) ***
/// The graph has no <c>If</c>: an empty state becomes zeros and an unknown user's scores become the fallback
/// scores by arithmetic (<c>Concat</c>/<c>Where</c>/<c>Compress</c>), which ONNX Runtime runs at the cost of a
/// few small kernels where a branch costs a subgraph execution. The ranking runs over <b>key-indexed</b> scores
/// <c>float [1, N + 2]</c> (<see cref="KeyIndexedRows"/>): column k is the score of key k, and the columns 0 and
/// N + 1 hold negative infinity, so the raw keys of <see cref="SeenInput"/> and of the history
/// mask their own column with no filtering of unknown keys (clipped to 0..N + 1), and <c>TopK</c>'s indices are keys.
/// </para>
/// </remarks>
internal static class IncrementalGraph
{
    public const string StateInput = IncrementalColumns.State;
    public const string SeenInput = IncrementalColumns.Seen;
    public const string NextStateOutput = IncrementalColumns.NextState;

    /// <summary>
    /// Writes a recurrent model's incremental graph: the previous GRU state (zeros for an empty one) → one GRU step
    /// per known new item → the next state, scored by <paramref name="keyedLogits"/> (the state <c>[1, H]</c> →
    /// key-indexed scores <c>float [1, N + 2]</c>, negative infinity at the columns 0 and N + 1) → the seen and the new
    /// items masked → top-K. A user with neither a state nor a known new item is ranked by
    /// <paramref name="emptyHistoryScores"/> (<c>[N]</c>) and keeps an empty state.
    /// </summary>
    /// <remarks>
    /// <paramref name="itemEmbedding"/> (<c>[N, in]</c>) and the GRU's input weights are folded into one table of input
    /// projections at export (<see cref="OnnxLayers.GruInputProjections"/>), key-indexed, so a step gathers the row of
    /// its key and multiplies only by the recurrent weights (<see cref="OnnxLayers.GruSteps"/>).
    /// </remarks>
    public static byte[] WriteRecurrent(RecommendationModelDescription d, string graphName, GruWeights gru, float[] itemEmbedding,
        float[] emptyHistoryScores, Func<OnnxGraphBuilder, string, string> keyedLogits)
    {
        int h = gru.Hidden, n = d.ItemCount;
        var g = new OnnxGraphBuilder(graphName);
        var (previous, stateLength) = PreviousState(g, graphName, h);
        var (items, historyKeys) = HistoryKeys(g, d.HistoryColumnName, n);
        // Key-indexed (rows 0 and N + 1 are never gathered: the steps run over known keys only).
        string projections = g.Constant("gru_input_projections",
            KeyIndexedRows(OnnxLayers.GruInputProjections(itemEmbedding, n, gru), n, 0f), n + 2, 3 * h);
        string state = OnnxLayers.GruSteps(g, previous, items, projections, gru);
        // A user is known once it has a state or a known item; an unknown user is ranked by the fallback scores.
        string known = g.Node("Greater", new[] { g.Node("Add", new[] { stateLength, g.Node("Size", new[] { items }) }), g.Scalar(0L) });
        string fallback = g.Constant("popularity", KeyIndexedRows(emptyHistoryScores, n, float.NegativeInfinity), 1, n + 2);
        string logits = g.Node("Where", new[] { known, keyedLogits(g, state), fallback });
        NextState(g, state, known, h);
        RankingHead(g, logits, historyKeys, n, d.TopK, d.ItemValues, d.IncludeScores);
        return g.ToModelBytes(Metadata(d.ModelName, n, h));
    }

    /// <summary>
    /// Declares the state input and returns <c>(state, length)</c>: the state as <c>float [1, H]</c> (zeros
    /// when the input is empty) and its number of floats (an int64 scalar, 0 or H). A non-empty state of another
    /// size than <paramref name="stateSize"/> fails in a node whose name says so.
    /// </summary>
    /// <remarks>
    /// No branch: zeros <c>[1, H]</c> followed by the state are reshaped to rows of H (fails unless the state's
    /// size is a multiple of H), added to zeros <c>[2, H]</c> (fails for more than two rows, i.e. a state of 2H
    /// floats or more) and the second row is kept: the zeros for an empty state, else the state itself.
    /// </remarks>
    public static (string State, string Length) PreviousState(OnnxGraphBuilder g, string graphName, int stateSize)
    {
        string message = $"The {StateInput} column must hold {stateSize} floats (the model's recurrent state size) or be empty for a new user";
        g.Input(StateInput, DataType.Float, 1, "state_length");
        string padded = g.Node("Concat", new[] { g.Constant("zero_state", new float[stateSize], 1, stateSize), StateInput }, ("axis", 1L));
        string rows = graphName + "/state_rows", twoRows = graphName + "/state_two_rows";
        g.AddNamedNode(message, "Reshape", new[] { padded, g.Int64s(-1, stateSize) }, new[] { rows });
        g.AddNamedNode(message + " (not several states)", "Add", new[] { rows, g.Constant("zero_rows", new float[2 * stateSize], 2, stateSize) }, new[] { twoRows });
        string state = g.Node("Gather", new[] { twoRows, g.Int64s(1) }, ("axis", 0L));
        return (state, g.Node("Size", new[] { StateInput }));
    }

    /// <summary>
    /// Declares the history input (the new items) and returns <c>(keys, cast)</c>: its known keys (1..N) as
    /// <c>int64 [L]</c> in history order (possibly empty; keys 0 and above N dropped), and the whole input as
    /// <c>int64 [1, history_length]</c> for <see cref="RankingHead"/>.
    /// </summary>
    /// <remarks>
    /// A key is known when a table of N + 2 booleans (false, N × true, false) holds true at the key clipped to
    /// 0..N + 1: two nodes where the comparisons 0 &lt; key ≤ N take three. The keys index key-indexed tables
    /// (<see cref="KeyIndexedRows"/>) directly, with no subtraction.
    /// </remarks>
    public static (string Keys, string Cast) HistoryKeys(OnnxGraphBuilder g, string inputName, int itemCount)
    {
        g.Input(inputName, DataType.Uint32, 1, "history_length");
        string cast = g.Node("Cast", new[] { inputName }, ("to", (long)DataType.Int64));
        string keys = g.Node("Reshape", new[] { cast, g.Int64s(-1) });
        var isKnown = new bool[itemCount + 2];
        isKnown.AsSpan(1, itemCount).Fill(true);
        string known = g.Node("Gather", new[]
        {
            g.Constant("key_is_known", isKnown, itemCount + 2), g.Node("Clip", new[] { keys, g.Scalar(0L), g.Scalar((long)itemCount + 1) }),
        }, ("axis", 0L));
        return (g.Node("Compress", new[] { keys, known }, ("axis", 0L)), cast);
    }

    /// <summary>
    /// Writes <paramref name="state"/> as the <see cref="NextStateOutput"/> output when <paramref name="known"/>
    /// (a boolean scalar) is true, else the empty state <c>float [1, 0]</c>.
    /// </summary>
    public static void NextState(OnnxGraphBuilder g, string state, string known, int stateSize)
    {
        string keep = g.Node("Expand", new[] { known, g.Int64s(stateSize) });
        g.AddNode("Compress", new[] { state, keep }, new[] { NextStateOutput }, ("axis", 1L));
        g.Output(NextStateOutput, DataType.Float, 1, "next_state_length");
    }

    /// <summary>
    /// Key-indexed rows of a per-item table <c>[N, width]</c>: a row <paramref name="fill"/> before them (key 0)
    /// and one after them (keys above N), <c>[N + 2, width]</c>.
    /// </summary>
    public static float[] KeyIndexedRows(ReadOnlySpan<float> rows, int itemCount, float fill)
    {
        int width = rows.Length / itemCount;
        var result = new float[(itemCount + 2) * width];
        result.AsSpan(0, width).Fill(fill);
        rows.CopyTo(result.AsSpan(width));
        result.AsSpan((itemCount + 1) * width).Fill(fill);
        return result;
    }

    /// <summary>
    /// Declares the seen-items input, masks the keys of <see cref="SeenInput"/> and of the history
    /// (<paramref name="historyKeys"/>, the history input cast to <c>int64 [1, history_length]</c>) in
    /// <paramref name="keyedLogits"/> (key-indexed, <c>float [1, N + 2]</c>) and writes the ranking outputs of
    /// <see cref="RecommendationGraph"/>'s format.
    /// </summary>
    /// <remarks>
    /// The negative infinities scattered are gathered from a constant row of N + 2 of them at the clipped keys (one
    /// node, where <c>Expand</c> to the keys' <c>Shape</c> takes two); when <paramref name="itemValues"/> are the keys
    /// 1..N themselves (every model today), <c>TopK</c>'s indices are the output keys with no lookup.
    /// </remarks>
    public static void RankingHead(OnnxGraphBuilder g, string keyedLogits, string historyKeys, int itemCount, int topK,
        ReadOnlySpan<long> itemValues, bool includeScores)
    {
        int k = Math.Min(topK, itemCount);
        g.Input(SeenInput, DataType.Uint32, 1, "seen_length");
        // Each key input is read through a Cast only (as in every graph: a host may declare the keys int64).
        string keys = g.Node("Concat", new[] { g.Node("Cast", new[] { SeenInput }, ("to", (long)DataType.Int64)), historyKeys }, ("axis", 1L));
        // Keys 0 and below mask column 0, keys above N column N + 1: both negative infinity already.
        string columns = g.Node("Clip", new[] { keys, g.Scalar(0L), g.Scalar((long)itemCount + 1) });
        var minusInfinities = new float[itemCount + 2];
        minusInfinities.AsSpan().Fill(float.NegativeInfinity);
        string minusInfinity = g.Node("Gather", new[] { g.Constant("minus_infinity", minusInfinities, itemCount + 2), columns }, ("axis", 0L));
        string masked = g.Node("ScatterElements", new[] { keyedLogits, columns, minusInfinity }, ("axis", 1L));
        string topKeys = g.Fresh("TopK");
        g.AddNode("TopK", new[] { masked, g.Int64s(k) }, new[] { RecommendationGraph.TopScoresOutput, topKeys },
            ("axis", 1L), ("largest", 1L), ("sorted", 1L));
        string topValues = topKeys;
        if (!AreKeys(itemValues))
        {
            var keyedValues = new long[itemCount + 2];
            itemValues.CopyTo(keyedValues.AsSpan(1));
            topValues = g.Node("Gather", new[] { g.Constant("item_values", keyedValues, keyedValues.Length), topKeys }, ("axis", 0L));
        }
        // When fewer than K items are unseen, the remaining places hold seen items at -inf: they become the missing key 0.
        string seenPlace = g.Node("IsInf", new[] { RecommendationGraph.TopScoresOutput }, ("detect_positive", 0L));
        g.AddNode("Where", new[] { seenPlace, g.Scalar(0L), topValues }, new[] { RecommendationGraph.TopItemKeysOutput });
        g.Output(RecommendationGraph.TopScoresOutput, DataType.Float, 1, k);
        g.Output(RecommendationGraph.TopItemKeysOutput, DataType.Int64, 1, k);
        if (includeScores)
        {
            g.AddNode("Slice", new[] { masked, g.Int64s(1), g.Int64s(itemCount + 1), g.Int64s(1) }, new[] { RecommendationGraph.ScoresOutput });
            g.Output(RecommendationGraph.ScoresOutput, DataType.Float, 1, itemCount);
        }
    }

    /// <summary>Whether <paramref name="itemValues"/> are 1, 2, ..., N (item i's value is its key).</summary>
    private static bool AreKeys(ReadOnlySpan<long> itemValues)
    {
        for (int i = 0; i < itemValues.Length; i++)
            if (itemValues[i] != i + 1) return false;
        return true;
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
