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

    /// <summary>
    /// The input half of a GRU step for every row x of <paramref name="inputs"/> (<c>[rows, in]</c>), computed
    /// once at export: <c>W_ih · x + b_ih</c>, with <c>b_hh</c> added to the r and z gates (their recurrent bias is
    /// a plain sum), <c>[rows, 3H]</c> in PyTorch's gate order (r, z, n). A step then gathers one row instead of
    /// multiplying by <c>W_ih</c> (<see cref="GruSteps"/>).
    /// </summary>
    public static float[] GruInputProjections(ReadOnlySpan<float> inputs, int rows, GruWeights w)
    {
        int gates = 3 * w.Hidden, width = w.In;
        if (inputs.Length != rows * width)
            throw new ArgumentException($"Expected {rows} rows of {width} inputs, got {inputs.Length} values.");
        var bias = new float[gates];
        for (int j = 0; j < gates; j++)
            bias[j] = w.BiasIh[j] + (j < 2 * w.Hidden ? w.BiasHh[j] : 0f);
        var result = new float[rows * gates];
        ReadOnlySpan<float> weight = w.WeightIh;
        for (int r = 0; r < rows; r++)
        {
            var x = inputs.Slice(r * width, width);
            var row = result.AsSpan(r * gates, gates);
            for (int j = 0; j < gates; j++)
                row[j] = System.Numerics.Tensors.TensorPrimitives.Dot(weight.Slice(j * width, width), x) + bias[j];
        }
        return result;
    }

    /// <summary>
    /// Runs GRU steps from <paramref name="initialState"/> (<c>float [1, H]</c>) over the rows
    /// <paramref name="indices"/> (<c>int64 [L]</c>, possibly empty) of <paramref name="projections"/> (the
    /// <c>[rows, 3H]</c> table of <see cref="GruInputProjections"/>) and returns the last state <c>[1, H]</c>: the
    /// initial state when L = 0. One <c>Loop</c> of explicit gates (PyTorch's formulation):
    /// <c>r, z = σ(p_rz + W_h(r,z) · h)</c>, <c>n = tanh(p_n + r ⊙ (W_hn · h + b_hn))</c>, <c>h' = n + z ⊙ (h − n)</c>.
    /// </summary>
    /// <remarks>
    /// Unlike ONNX's <c>GRU</c> operator, the loop takes an empty sequence (ONNX Runtime aborts on a <c>GRU</c> over
    /// one), and a step reads a gathered row instead of multiplying by <c>W_ih</c>. The recurrent weights are an
    /// initializer of the loop body itself (a constant <c>Gemm</c> input of the subgraph).
    /// </remarks>
    public static string GruSteps(OnnxGraphBuilder g, string initialState, string indices, string projections, GruWeights w)
    {
        int h = w.Hidden;
        var body = g.Subgraph("gru_step");
        string iteration = body.Input(body.Fresh("iteration"), Proto.TensorProto.Types.DataType.Int64);
        string condition = body.Input(body.Fresh("condition"), Proto.TensorProto.Types.DataType.Bool);
        string state = body.Input(body.Fresh("state"), Proto.TensorProto.Types.DataType.Float, 1, h);
        var recurrentBias = new float[3 * h];
        Array.Copy(w.BiasHh, 2 * h, recurrentBias, 2 * h, h);
        string recurrent = body.Node("Gemm", new[]
        {
            state, body.Constant("gru_W_hh", w.WeightHh, 3 * h, h), body.Constant("gru_b_hn", recurrentBias, 3 * h),
        }, ("transB", 1L));
        string input = body.Node("Gather", new[] { projections, body.Node("Gather", new[] { indices, iteration }, ("axis", 0L)) }, ("axis", 0L));
        string[] inputGates = body.Nodes("Split", new[] { input, body.Int64s(2 * h, h) }, 2, ("axis", 0L));
        string[] recurrentGates = body.Nodes("Split", new[] { recurrent, body.Int64s(2 * h, h) }, 2, ("axis", 1L));
        string resetUpdate = body.Node("Sigmoid", new[] { body.Node("Add", new[] { recurrentGates[0], inputGates[0] }) });
        string[] ru = body.Nodes("Split", new[] { resetUpdate, body.Int64s(h, h) }, 2, ("axis", 1L));
        string candidate = body.Node("Tanh", new[] { body.Node("Add", new[] { inputGates[1], body.Node("Mul", new[] { ru[0], recurrentGates[1] }) }) });
        string next = body.Node("Add", new[] { candidate, body.Node("Mul", new[] { ru[1], body.Node("Sub", new[] { state, candidate }) }) });
        // The condition passes through unchanged: the body's input is its output (no Identity node per step).
        body.Output(condition, Proto.TensorProto.Types.DataType.Bool);
        body.Output(next, Proto.TensorProto.Types.DataType.Float, 1, h);
        return g.Node("Loop", new[] { g.Node("Size", new[] { indices }), "", initialState }, ("body", body));
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
