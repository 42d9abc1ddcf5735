using Microsoft.ML.Svae.Onnx.Proto;
using DataType = Microsoft.ML.Svae.Onnx.Proto.TensorProto.Types.DataType;

namespace Microsoft.ML.Svae.Onnx;

/// <summary>
/// The ONNX building blocks every recommendation graph shares: the history input (unknown keys
/// dropped inside the graph) and the ranking head (seen items masked, top-K).
/// </summary>
/// <remarks>
/// *** Graph format, version 2 ***
/// Input: the history column, <c>uint32 [1, history_length]</c> item keys (1..N; 0 and keys above N
/// are dropped). Outputs: <see cref="TopItemKeysOutput"/> <c>int64 [1, K]</c> (the keys 1..N of the
/// top-K items; 0 where fewer than K items are unseen), <see cref="TopScoresOutput"/>
/// <c>float [1, K]</c> (negative infinity where the key is 0), and optionally <see cref="ScoresOutput"/>
/// <c>float [1, N]</c> with seen items at negative infinity. Metadata <c>mlnet.svae.format</c> holds the
/// format version. Raw item ids are not part of the graph: the fitted transformer maps them to keys and
/// back with ML.NET's own transformers (version 1 emitted raw ids with −1 for the missing places).
/// </remarks>
internal static class RecommendationGraph
{
    public const string FormatVersion = "2";
    public const string TopItemKeysOutput = "TopItemKeys";
    public const string TopScoresOutput = SequenceColumns.TopScores;
    public const string ScoresOutput = SequenceColumns.Scores;

    /// <summary>
    /// Declares the history input and returns the 0-based indices of its known items, shape <c>[L]</c>
    /// (possibly empty), in history order.
    /// </summary>
    /// <remarks>Inputs of one graph whose lengths differ need different <paramref name="lengthName"/>s (ONNX Runtime
    /// holds inputs with the same symbolic dimension to the same size).</remarks>
    public static string HistoryIndices(OnnxGraphBuilder g, string inputName, int itemCount, string lengthName = "history_length")
    {
        g.Input(inputName, DataType.Uint32, 1, lengthName);
        string keys = g.Node("Reshape", new[] { g.Node("Cast", new[] { inputName }, ("to", (long)DataType.Int64)), g.Int64s(-1) });
        string known = g.Node("And", new[]
        {
            g.Node("Greater", new[] { keys, g.Scalar(0L) }),
            g.Node("LessOrEqual", new[] { keys, g.Scalar((long)itemCount) }),
        });
        string knownKeys = g.Node("Compress", new[] { keys, known }, ("axis", 0L));
        return g.Node("Sub", new[] { knownKeys, g.Scalar(1L) });
    }

    /// <summary>
    /// Declares the user key input (<c>uint32 [1, 1]</c>: ML.NET's OnnxTransformer feeds a scalar column with
    /// rank 2; keys 1..<paramref name="userCount"/>) and returns
    /// <c>(index, known)</c>: the 0-based user index <c>int64 [1]</c> (0 for an unknown user, so it can
    /// always be gathered) and <c>float [1, 1]</c>, 1 for a known user and 0 otherwise, to zero out an
    /// unknown user's parameters.
    /// </summary>
    public static (string Index, string Known) UserIndex(OnnxGraphBuilder g, string inputName, int userCount)
    {
        g.Input(inputName, DataType.Uint32, 1, 1);
        string key = g.Node("Reshape", new[] { g.Node("Cast", new[] { inputName }, ("to", (long)DataType.Int64)), g.Int64s(1) });
        string known = g.Node("And", new[]
        {
            g.Node("Greater", new[] { key, g.Scalar(0L) }),
            g.Node("LessOrEqual", new[] { key, g.Scalar((long)userCount) }),
        });
        string index = g.Node("Where", new[] { known, g.Node("Sub", new[] { key, g.Scalar(1L) }), g.Scalar(0L) });
        string knownFloat = g.Node("Reshape", new[] { g.Node("Cast", new[] { known }, ("to", (long)DataType.Float)), g.Int64s(1, 1) });
        return (index, knownFloat);
    }

    /// <summary>The number of known items in the history, as a boolean scalar "is non-empty".</summary>
    public static string IsNonEmpty(OnnxGraphBuilder g, string indices)
    {
        string length = g.Node("Size", new[] { indices });
        return g.Node("Greater", new[] { length, g.Scalar(0L) });
    }

    /// <summary>
    /// Masks the seen items of <paramref name="logits"/> (<c>float [1, N]</c>) to negative infinity and
    /// writes the top-K outputs. <c>itemValues[i]</c> is what <see cref="TopItemKeysOutput"/> holds for the
    /// 0-based item index i: the key i + 1 (<see cref="RecommendationModelDescription.ItemValues"/>).
    /// </summary>
    public static void RankingHead(OnnxGraphBuilder g, string logits, string seenIndices, int itemCount, int topK,
        ReadOnlySpan<long> itemValues, bool includeScores)
    {
        int k = Math.Min(topK, itemCount);
        string indices = g.Node("Unsqueeze", new[] { seenIndices, g.Int64s(0) });
        string minusInfinity = g.Node("Expand", new[] { g.Scalar(float.NegativeInfinity), g.Node("Shape", new[] { indices }) });
        string masked = g.Node("ScatterElements", new[] { logits, indices, minusInfinity }, ("axis", 1L));
        string[] top = g.Nodes("TopK", new[] { masked, g.Int64s(k) }, 2, ("axis", 1L), ("largest", 1L), ("sorted", 1L));
        g.AddNode("Identity", new[] { top[0] }, new[] { TopScoresOutput });
        string values = g.Constant("item_values", itemValues, itemValues.Length);
        string topValues = g.Node("Gather", new[] { values, top[1] }, ("axis", 0L));
        // When fewer than K items are unseen, the remaining places hold seen items at -inf: they become
        // the missing key 0.
        string seenPlace = g.Node("IsInf", new[] { top[0] }, ("detect_positive", 0L));
        g.AddNode("Where", new[] { seenPlace, g.Scalar(0L), topValues }, new[] { TopItemKeysOutput });
        g.Output(TopScoresOutput, DataType.Float, 1, k);
        g.Output(TopItemKeysOutput, DataType.Int64, 1, k);
        if (includeScores)
        {
            g.AddNode("Identity", new[] { masked }, new[] { ScoresOutput });
            g.Output(ScoresOutput, DataType.Float, 1, itemCount);
        }
    }

    /// <summary>Model metadata: the format version and the model's name.</summary>
    public static Dictionary<string, string> Metadata(string modelName, int itemCount) => new()
    {
        ["mlnet.svae.format"] = FormatVersion,
        ["mlnet.svae.model"] = modelName,
        ["mlnet.svae.items"] = itemCount.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };
}
