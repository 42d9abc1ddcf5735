namespace Microsoft.ML.Svae.Onnx;

/// <summary>A dense layer's parameters in PyTorch layout: <c>weight [out, in]</c> row-major, <c>bias [out]</c>.</summary>
internal sealed record DenseWeights(float[] Weight, float[] Bias, int Out, int In);

/// <summary>
/// A one-layer GRU's parameters in PyTorch layout: gates ordered (r, z, n) in <c>weight_ih [3H, in]</c>,
/// <c>weight_hh [3H, H]</c>, <c>bias_ih [3H]</c>, <c>bias_hh [3H]</c>.
/// </summary>
internal sealed record GruWeights(float[] WeightIh, float[] WeightHh, float[] BiasIh, float[] BiasHh, int Hidden, int In);

/// <summary>Neural layers as ONNX nodes, taking PyTorch-layout weights.</summary>
internal static class OnnxLayers
{
    /// <summary><c>x · Wᵀ + b</c> for <c>x [rows, in]</c>, as one Gemm.</summary>
    public static string Dense(OnnxGraphBuilder g, string x, DenseWeights w, string hint)
    {
        string weight = g.Constant(hint + "_weight", w.Weight, w.Out, w.In);
        string bias = g.Constant(hint + "_bias", w.Bias, w.Out);
        return g.Node("Gemm", new[] { x, weight, bias }, ("transB", 1L));
    }

    /// <summary><c>tanh(x · Wᵀ + b)</c>.</summary>
    public static string DenseTanh(OnnxGraphBuilder g, string x, DenseWeights w, string hint)
        => g.Node("Tanh", new[] { Dense(g, x, w, hint) });

    /// <summary>
    /// Runs a GRU over <c>x [T, 1, in]</c> from a zero state (or from <paramref name="initialState"/>,
    /// <c>float [1, H]</c>, ONNX's <c>initial_h</c>) and returns the last hidden state <c>[1, H]</c>.
    /// PyTorch's gate order (r, z, n) is reordered to ONNX's (z, r, h), and <c>linear_before_reset = 1</c>
    /// gives PyTorch's formulation of the candidate state.
    /// </summary>
    public static string GruLastState(OnnxGraphBuilder g, string x, GruWeights w, string? initialState = null)
    {
        int h = w.Hidden;
        string weight = g.Constant("gru_W", ReorderGates(w.WeightIh, h, w.In), 1, 3 * h, w.In);
        string recurrence = g.Constant("gru_R", ReorderGates(w.WeightHh, h, h), 1, 3 * h, h);
        var bias = new float[6 * h];
        ReorderGates(w.BiasIh, h, 1).CopyTo(bias, 0);
        ReorderGates(w.BiasHh, h, 1).CopyTo(bias, 3 * h);
        string b = g.Constant("gru_B", bias, 1, 6 * h);
        string[] inputs = initialState is null
            ? new[] { x, weight, recurrence, b }
            : new[] { x, weight, recurrence, b, "", g.Node("Reshape", new[] { initialState, g.Int64s(1, 1, h) }) };
        string[] outputs = g.Nodes("GRU", inputs, 2,
            ("hidden_size", (long)h), ("linear_before_reset", 1L));
        return g.Node("Reshape", new[] { outputs[1], g.Int64s(1, h) });
    }

    /// <summary>
    /// Runs a GRU from a zero state over <c>x [T, 1, in]</c>, forward or (<paramref name="reverse"/>) from the last
    /// position to the first, and returns every position's hidden state <c>[T, H]</c> (for the reverse direction, the
    /// state at t summarises positions t..T−1).
    /// </summary>
    public static string GruStates(OnnxGraphBuilder g, string x, GruWeights w, bool reverse)
    {
        int h = w.Hidden;
        string weight = g.Constant("gru_W", ReorderGates(w.WeightIh, h, w.In), 1, 3 * h, w.In);
        string recurrence = g.Constant("gru_R", ReorderGates(w.WeightHh, h, h), 1, 3 * h, h);
        var bias = new float[6 * h];
        ReorderGates(w.BiasIh, h, 1).CopyTo(bias, 0);
        ReorderGates(w.BiasHh, h, 1).CopyTo(bias, 3 * h);
        string b = g.Constant("gru_B", bias, 1, 6 * h);
        string[] outputs = g.Nodes("GRU", new[] { x, weight, recurrence, b }, 2,
            ("hidden_size", (long)h), ("linear_before_reset", 1L), ("direction", reverse ? "reverse" : "forward"));
        return g.Node("Reshape", new[] { outputs[0], g.Int64s(-1, h) });
    }

    /// <summary>PyTorch (r, z, n) blocks of <paramref name="rowLength"/>-wide rows to ONNX (z, r, n).</summary>
    internal static float[] ReorderGates(float[] source, int hidden, int rowLength)
    {
        int block = hidden * rowLength;
        if (source.Length != 3 * block)
            throw new ArgumentException($"Expected {3 * block} GRU parameters, got {source.Length}.");
        var result = new float[source.Length];
        Array.Copy(source, block, result, 0, block);       // z
        Array.Copy(source, 0, result, block, block);       // r
        Array.Copy(source, 2 * block, result, 2 * block, block); // n
        return result;
    }
}
