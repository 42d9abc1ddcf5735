namespace Microsoft.ML.Svae.Onnx;

/// <summary>A layer normalization's parameters: scale γ <c>[d]</c>, shift β <c>[d]</c> and ε.</summary>
internal sealed record LayerNormWeights(float[] Scale, float[] Bias, float Epsilon);

/// <summary>
/// One causal self-attention block's parameters in PyTorch layout (SASRec's block: layer norm of the queries,
/// multi-head attention, residual, layer norm, point-wise feed-forward with ReLU, residual).
/// </summary>
internal sealed record AttentionBlockWeights(
    LayerNormWeights AttentionNorm, DenseWeights Query, DenseWeights Key, DenseWeights Value, DenseWeights Output,
    LayerNormWeights FeedForwardNorm, DenseWeights FeedForwardIn, DenseWeights FeedForwardOut);

/// <summary>Transformer pieces as opset-17 ONNX nodes over one sequence <c>x [T, d]</c>.</summary>
internal static class OnnxAttention
{
    /// <summary><c>LayerNormalization</c> over the last axis.</summary>
    public static string LayerNorm(OnnxGraphBuilder g, string x, LayerNormWeights w, string hint)
    {
        string scale = g.Constant(hint + "_scale", w.Scale, w.Scale.Length);
        string bias = g.Constant(hint + "_bias", w.Bias, w.Bias.Length);
        return g.Node("LayerNormalization", new[] { x, scale, bias }, ("axis", -1L), ("epsilon", w.Epsilon));
    }

    /// <summary>
    /// A <c>[T, T]</c> boolean mask, true where key j is after query i (j &gt; i): the positions causal attention may not see.
    /// </summary>
    public static string FutureMask(OnnxGraphBuilder g, string x)
    {
        string length = g.Node("Gather", new[] { g.Node("Shape", new[] { x }), g.Scalar(0L) }, ("axis", 0L));
        string positions = g.Node("Range", new[] { g.Scalar(0L), length, g.Scalar(1L) });
        string keys = g.Node("Unsqueeze", new[] { positions, g.Int64s(0) });       // [1, T]
        string queries = g.Node("Unsqueeze", new[] { positions, g.Int64s(1) });    // [T, 1]
        return g.Node("Greater", new[] { keys, queries });
    }

    /// <summary>
    /// Multi-head attention of <paramref name="queries"/> over <paramref name="keys"/> (both <c>[T, d]</c>), each
    /// head's weights <c>softmax(q kᵀ / √(d/h))</c> with the <paramref name="futureMask"/> at −∞, then the output
    /// projection: <c>[T, d]</c>.
    /// </summary>
    public static string CausalSelfAttention(OnnxGraphBuilder g, string queries, string keys, string futureMask, AttentionBlockWeights w,
        int heads, string hint)
    {
        int d = w.Query.Out, headSize = d / heads;
        string Heads(string v, long[] perm)
            => g.Node("Transpose", new[] { g.Node("Reshape", new[] { v, g.Int64s(-1, heads, headSize) }) }, ("perm", perm));
        string q = Heads(OnnxLayers.Dense(g, queries, w.Query, hint + "_query"), new long[] { 1, 0, 2 });   // [h, T, dh]
        string k = Heads(OnnxLayers.Dense(g, keys, w.Key, hint + "_key"), new long[] { 1, 2, 0 });         // [h, dh, T]
        string v = Heads(OnnxLayers.Dense(g, keys, w.Value, hint + "_value"), new long[] { 1, 0, 2 });     // [h, T, dh]
        string scores = g.Node("Mul", new[] { g.Node("MatMul", new[] { q, k }), g.Scalar((float)(1.0 / Math.Sqrt(headSize))) });
        scores = g.Node("Where", new[] { futureMask, g.Scalar(float.NegativeInfinity), scores });
        string weights = g.Node("Softmax", new[] { scores }, ("axis", -1L));
        string heads_ = g.Node("MatMul", new[] { weights, v });                                             // [h, T, dh]
        string merged = g.Node("Reshape", new[] { g.Node("Transpose", new[] { heads_ }, ("perm", new long[] { 1, 0, 2 })), g.Int64s(-1, d) });
        return OnnxLayers.Dense(g, merged, w.Output, hint + "_output");
    }

    /// <summary>SASRec's block: <c>q = LN(x); x = q + MHA(q, x); x = LN(x); x = x + W₂ ReLU(W₁ x)</c>.</summary>
    public static string SasrecBlock(OnnxGraphBuilder g, string x, string futureMask, AttentionBlockWeights w, int heads, string hint)
    {
        string q = LayerNorm(g, x, w.AttentionNorm, hint + "_attention_norm");
        x = g.Node("Add", new[] { q, CausalSelfAttention(g, q, x, futureMask, w, heads, hint) });
        x = LayerNorm(g, x, w.FeedForwardNorm, hint + "_feed_forward_norm");
        string inner = g.Node("Relu", new[] { OnnxLayers.Dense(g, x, w.FeedForwardIn, hint + "_feed_forward_in") });
        return g.Node("Add", new[] { x, OnnxLayers.Dense(g, inner, w.FeedForwardOut, hint + "_feed_forward_out") });
    }
}
