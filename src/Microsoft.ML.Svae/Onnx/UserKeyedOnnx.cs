namespace Microsoft.ML.Svae.Onnx;

/// <summary>Graph pieces of the models with per-user parameters.</summary>
internal static class UserKeyedOnnx
{
    /// <summary>
    /// Declares the user key input and returns the user's row of <paramref name="table"/> (<c>[U, width]</c>) as
    /// <c>float [1, width]</c>, zero for an unknown user (key 0 or above U).
    /// </summary>
    public static string UserVector(OnnxGraphBuilder g, RecommendationModelDescription d, float[] table, int width, string hint)
    {
        string name = d.UserIdColumnName ?? throw new InvalidOperationException("The model description has no user column.");
        var (index, known) = RecommendationGraph.UserIndex(g, name, d.UserCount);
        string rows = g.Constant(hint, table, d.UserCount, width);
        return g.Node("Mul", new[] { g.Node("Gather", new[] { rows, index }, ("axis", 0L)), known });
    }
}
