using Microsoft.ML.Svae.Onnx;
using DataType = Microsoft.ML.Svae.Onnx.Proto.TensorProto.Types.DataType;

namespace Microsoft.ML.Svae;

/// <summary>
/// A sequential VAE's inference weights, copied out of the trained network: what its scoring reads, by variant
/// (<see cref="Posterior"/> is 2a's encoder, 2b's and 2d's posterior; <see cref="Prior"/> 2c's and 2d's prior;
/// <see cref="BackwardGru"/> 2d's smoother; <see cref="Gru"/> a GRU layer for 2a and 2c, a GRU cell over
/// <c>[item, z]</c> for 2b and 2d).
/// </summary>
internal sealed record SequentialVaeWeights(
    SequentialVaeVariant Variant,
    float[] ItemEmbedding,
    int EmbeddingSize,
    int LatentSize,
    GruWeights Gru,
    GruWeights? BackwardGru,
    TanhMlpWeights? Prior,
    TanhMlpWeights? Posterior,
    TanhMlpWeights Decoder,
    float[] EmptyHistoryScores);

/// <summary>
/// Writes a sequential VAE's inference graph: the history's known items → embeddings → the variant's recurrence with
/// every latent variable at its mean → item logits → seen items masked → top-K. A history with no known item is ranked
/// by training popularity (ONNX Runtime cannot run a GRU over an empty sequence).
/// </summary>
/// <remarks>
/// 2a and 2c run ONNX's <c>GRU</c> over the whole history. 2b and 2d feed z back into the GRU, so their recurrence is an
/// ONNX <c>Loop</c> over the history whose body is one GRU step from the carried state (<c>[1, H]</c>); 2d first runs its
/// backward GRU (<c>direction = reverse</c>) over the history, and the loop body reads its state at the current item.
/// </remarks>
internal static class SequentialVaeOnnxGraph
{
    public static byte[] Write(RecommendationModelDescription d, SequentialVaeWeights w)
    {
        var g = new OnnxGraphBuilder("seqvae");
        string seen = RecommendationGraph.HistoryIndices(g, d.HistoryColumnName, d.ItemCount);
        string logits = HistoryScoringGraph.LogitsOrFallback(g, seen, "seqvae", d.ItemCount, w.EmptyHistoryScores, s =>
        {
            string embedding = s.Constant("item_embedding", w.ItemEmbedding, d.ItemCount, w.EmbeddingSize);
            string embedded = s.Node("Gather", new[] { embedding, seen }, ("axis", 0L));       // [L, E]
            return w.Variant switch
            {
                SequentialVaeVariant.GlobalLatent => GlobalLatent(s, embedded, w),
                SequentialVaeVariant.LatentInRecurrence => LatentInRecurrence(s, embedded, seen, w),
                SequentialVaeVariant.LearnedPrior => LearnedPrior(s, embedded, w),
                SequentialVaeVariant.GlobalRecurrence => GlobalRecurrence(s, embedded, seen, w),
                _ => throw new ArgumentOutOfRangeException(nameof(w), w.Variant, "Unknown sequential VAE variant."),
            };
        });
        RecommendationGraph.RankingHead(g, logits, seen, d.ItemCount, d.TopK, d.ItemValues, d.IncludeScores);
        return g.ToModelBytes(RecommendationGraph.Metadata(d.ModelName, d.ItemCount));
    }

    /// <summary>2a: h = GRU(history); z = μ(h); logits f([z, h]).</summary>
    private static string GlobalLatent(OnnxGraphBuilder s, string embedded, SequentialVaeWeights w)
    {
        string last = OnnxLayers.GruLastState(s, s.Node("Unsqueeze", new[] { embedded, s.Int64s(1) }), w.Gru);
        string mean = w.Posterior!.OnnxMean(s, last, w.LatentSize, "encoder");
        return w.Decoder.Onnx(s, s.Node("Concat", new[] { mean, last }, ("axis", 1L)), "decoder");
    }

    /// <summary>2c: h = GRU(history); z = μ_p(h), the prior mean; logits f(z).</summary>
    private static string LearnedPrior(OnnxGraphBuilder s, string embedded, SequentialVaeWeights w)
    {
        string last = OnnxLayers.GruLastState(s, s.Node("Unsqueeze", new[] { embedded, s.Int64s(1) }), w.Gru);
        return w.Decoder.Onnx(s, w.Prior!.OnnxMean(s, last, w.LatentSize, "prior"), "decoder");
    }

    /// <summary>2b: for each item, z = μ_q([x, h]) and h = GRU(h, [x, z]); logits f(h).</summary>
    private static string LatentInRecurrence(OnnxGraphBuilder s, string embedded, string seen, SequentialVaeWeights w)
    {
        string last = Recurrence(s, seen, w.Gru.Hidden, (body, iteration, h) =>
        {
            string item = Row(body, embedded, iteration);                                          // [1, E]
            string z = w.Posterior!.OnnxMean(body, body.Node("Concat", new[] { item, h }, ("axis", 1L)), w.LatentSize, "posterior");
            return Step(body, item, z, h, w.Gru);
        });
        return w.Decoder.Onnx(s, last, "decoder");
    }

    /// <summary>
    /// 2d: a = backward GRU(history); for each item s, z_s = μ_p(h) + Δμ([h, a_s]) (0 for the first item) and
    /// h = GRU(h, [x_s, z_s]); then z = μ_p(h) and logits f([z, h]).
    /// </summary>
    private static string GlobalRecurrence(OnnxGraphBuilder s, string embedded, string seen, SequentialVaeWeights w)
    {
        string after = OnnxLayers.GruStates(s, s.Node("Unsqueeze", new[] { embedded, s.Int64s(1) }), w.BackwardGru!, reverse: true); // [L, H]
        string last = Recurrence(s, seen, w.Gru.Hidden, (body, iteration, h) =>
        {
            string item = Row(body, embedded, iteration);
            string priorMean = w.Prior!.OnnxMean(body, h, w.LatentSize, "prior");
            string shift = w.Posterior!.OnnxMean(body, body.Node("Concat", new[] { h, Row(body, after, iteration) }, ("axis", 1L)), w.LatentSize, "posterior");
            string notFirst = body.Node("Cast", new[] { body.Node("Greater", new[] { iteration, body.Scalar(0L) }) }, ("to", (long)DataType.Float));
            string z = body.Node("Mul", new[] { body.Node("Add", new[] { priorMean, shift }), notFirst });
            return Step(body, item, z, h, w.Gru);
        });
        string mean = w.Prior!.OnnxMean(s, last, w.LatentSize, "prior");
        return w.Decoder.Onnx(s, s.Node("Concat", new[] { mean, last }, ("axis", 1L)), "decoder");
    }

    /// <summary>Row <paramref name="iteration"/> (int64 scalar) of <c>[L, D]</c> <paramref name="values"/> as <c>[1, D]</c>.</summary>
    private static string Row(OnnxGraphBuilder g, string values, string iteration)
        => g.Node("Unsqueeze", new[] { g.Node("Gather", new[] { values, iteration }, ("axis", 0L)), g.Int64s(0) });

    /// <summary>One GRU step from <paramref name="h"/> <c>[1, H]</c> on the input <c>[item, z]</c>: the next state <c>[1, H]</c>.</summary>
    private static string Step(OnnxGraphBuilder g, string item, string z, string h, GruWeights gru)
    {
        string input = g.Node("Unsqueeze", new[] { g.Node("Concat", new[] { item, z }, ("axis", 1L)), g.Int64s(0) }); // [1, 1, E + K]
        return OnnxLayers.GruLastState(g, input, gru, h);
    }

    /// <summary>
    /// An ONNX <c>Loop</c> over the history's positions carrying a <c>[1, H]</c> state from zeros; <paramref name="step"/>
    /// writes the body (the body builder, the position as an int64 scalar, the state) and returns the next state.
    /// Returns the state after the last position.
    /// </summary>
    private static string Recurrence(OnnxGraphBuilder g, string seen, int hidden, Func<OnnxGraphBuilder, string, string, string> step)
    {
        const string name = "seqvae/recurrence";
        var body = g.Subgraph("recurrence");
        string iteration = body.Input(name + "/iteration", DataType.Int64);
        string conditionIn = body.Input(name + "/condition_in", DataType.Bool);
        string stateIn = body.Input(name + "/state_in", DataType.Float, 1, hidden);
        string conditionOut = name + "/condition_out", stateOut = name + "/state_out";
        body.AddNode("Identity", new[] { conditionIn }, new[] { conditionOut });
        body.AddNode("Identity", new[] { step(body, iteration, stateIn) }, new[] { stateOut });
        body.Output(conditionOut, DataType.Bool);
        body.Output(stateOut, DataType.Float, 1, hidden);
        string initial = g.Constant("initial_state", new float[hidden], 1, hidden);
        return g.Node("Loop", new[] { g.Node("Size", new[] { seen }), "", initial }, ("body", body));
    }
}
