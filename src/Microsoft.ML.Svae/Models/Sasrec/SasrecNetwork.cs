using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Microsoft.ML.Svae;

/// <summary>
/// SASRec, the self-attentive sequential recommender of Kang and McAuley (ICDM 2018), as in the authors' code:
/// item embedding · √d + learned positional embedding → dropout → blocks of (layer norm of the queries, causal
/// multi-head self-attention, residual, layer norm, point-wise feed-forward with ReLU and dropout, residual) →
/// layer norm → one logit per item, the dot product with that item's embedding (shared input and output vectors).
/// </summary>
/// <remarks>
/// <para>
/// Inputs are 0-based item indices <c>[B, T]</c>, right-padded, T at most <see cref="MaxLength"/>; position t has the
/// positional embedding t (counted from the first item of the window). Attention is causal, so position t's output
/// depends on items 0..t only and right padding changes nothing before it.
/// </para>
/// <para>
/// Initialization, from a generator seeded by the constructor's seed: Xavier-normal embeddings and linear weights
/// (the PyTorch port's choice), linear biases zero, layer norms γ = 1, β = 0. Dropout draws its masks from
/// <see cref="DropoutGenerator"/>.
/// </para>
/// </remarks>
internal sealed class SasrecNetwork : Module<Tensor, Tensor>
{
    /// <summary>The layer norms' ε (the authors' code).</summary>
    public const double LayerNormEpsilon = 1e-8;

    // Field names are the state-dict prefixes: keep them.
#pragma warning disable IDE1006 // Naming: PyTorch-style module names
    internal readonly Embedding itemEmbedding;
    internal readonly Embedding positionEmbedding;
    internal readonly ModuleList<LayerNorm> attentionNorms;
    internal readonly ModuleList<Linear> queries;
    internal readonly ModuleList<Linear> keys;
    internal readonly ModuleList<Linear> values;
    internal readonly ModuleList<Linear> outputs;
    internal readonly ModuleList<LayerNorm> feedForwardNorms;
    internal readonly ModuleList<Linear> feedForwardIn;
    internal readonly ModuleList<Linear> feedForwardOut;
    internal readonly LayerNorm finalNorm;
#pragma warning restore IDE1006

    /// <summary>Creates the network on the CPU, initialized from <paramref name="seed"/>.</summary>
    public SasrecNetwork(int itemCount, int embeddingSize, int maxLength, int blocks, int heads, double dropoutRate, long seed)
        : base(nameof(SasrecNetwork))
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(itemCount, 1);
        if (embeddingSize % heads != 0)
            throw new ArgumentException($"The embedding size {embeddingSize} must be a multiple of the number of heads {heads}.");
        ItemCount = itemCount;
        EmbeddingSize = embeddingSize;
        MaxLength = maxLength;
        Heads = heads;
        DropoutRate = dropoutRate;
        itemEmbedding = Embedding(itemCount, embeddingSize);
        positionEmbedding = Embedding(maxLength, embeddingSize);
        LayerNorm Norm() => LayerNorm(new long[] { embeddingSize }, LayerNormEpsilon);
        Linear Square() => Linear(embeddingSize, embeddingSize);
        attentionNorms = ModuleList(Enumerable.Range(0, blocks).Select(_ => Norm()).ToArray());
        queries = ModuleList(Enumerable.Range(0, blocks).Select(_ => Square()).ToArray());
        keys = ModuleList(Enumerable.Range(0, blocks).Select(_ => Square()).ToArray());
        values = ModuleList(Enumerable.Range(0, blocks).Select(_ => Square()).ToArray());
        outputs = ModuleList(Enumerable.Range(0, blocks).Select(_ => Square()).ToArray());
        feedForwardNorms = ModuleList(Enumerable.Range(0, blocks).Select(_ => Norm()).ToArray());
        feedForwardIn = ModuleList(Enumerable.Range(0, blocks).Select(_ => Square()).ToArray());
        feedForwardOut = ModuleList(Enumerable.Range(0, blocks).Select(_ => Square()).ToArray());
        finalNorm = Norm();
        RegisterComponents();
        ResetParameters(seed);
    }

    /// <summary>N, the number of items.</summary>
    public int ItemCount { get; }

    /// <summary>d, the size of the item and positional embeddings and of every block.</summary>
    public int EmbeddingSize { get; }

    /// <summary>n, the number of positional embeddings: the longest window the network reads.</summary>
    public int MaxLength { get; }

    /// <summary>The number of attention heads.</summary>
    public int Heads { get; }

    /// <summary>The number of self-attention blocks.</summary>
    public int Blocks => queries.Count;

    /// <summary>The dropout rate (embeddings, attention weights, feed-forward) in training mode.</summary>
    public double DropoutRate { get; }

    /// <summary>The source of the dropout masks in training mode (the global generator when null).</summary>
    public Generator? DropoutGenerator { get; set; }

    /// <summary>The sequence representation at every position: <c>[B, T]</c> items (T ≤ <see cref="MaxLength"/>) → <c>[B, T, d]</c>.</summary>
    public override Tensor forward(Tensor items)
    {
        using var scope = NewDisposeScope();
        long b = items.shape[0], t = items.shape[1];
        if (t > MaxLength)
            throw new ArgumentException($"SASRec reads at most {MaxLength} items; got a window of {t}.");
        using var embeddingScale = Math.Sqrt(EmbeddingSize).ToScalar();
        var x = itemEmbedding.call(items).mul(embeddingScale)
            .Plus(positionEmbedding.call(TorchScalars.Range(t, items.device)).unsqueeze(0));
        x = Dropout(x);
        var future = ones(t, t, ScalarType.Bool, items.device).triu(1);
        int headSize = EmbeddingSize / Heads;
        using var attentionScale = (1.0 / Math.Sqrt(headSize)).ToScalar();
        for (int i = 0; i < Blocks; i++)
        {
            var q = attentionNorms[i].call(x);
            Tensor Split(Tensor v) => v.view(b, t, Heads, headSize).transpose(1, 2);            // [B, h, T, dh]
            var scores = Split(queries[i].call(q)).matmul(Split(keys[i].call(x)).transpose(2, 3)).mul(attentionScale);
            var weights = Dropout(scores.masked_fill(future, TorchScalars.NegativeInfinity).softmax(-1));
            var attended = weights.matmul(Split(values[i].call(x))).transpose(1, 2).reshape(b, t, EmbeddingSize);
            x = q.Plus(outputs[i].call(attended));
            x = feedForwardNorms[i].call(x);
            x = x.Plus(Dropout(feedForwardOut[i].call(Dropout(functional.relu(feedForwardIn[i].call(x))))));
        }
        return finalNorm.call(x).MoveToOuterDisposeScope();
    }

    private Tensor Dropout(Tensor x) => training ? SeededDropout.Apply(x, DropoutRate, DropoutGenerator) : x;

    /// <summary>Item logits <c>[..., N]</c> of representations <c>[..., d]</c>: dot products with every item's embedding.</summary>
    public Tensor Logits(Tensor representations) => representations.matmul(itemEmbedding.weight!.t());

    /// <summary>
    /// Each user's item logits <c>[B, N]</c> from the output after the LAST valid item, reading each row's most recent
    /// <see cref="MaxLength"/> items (what the ONNX graph computes); rows of length 0 are scored from zeros.
    /// </summary>
    public Tensor ScoreLast(Tensor items, Tensor lengths)
    {
        using var scope = NewDisposeScope();
        var (window, windowLengths) = NextItemHead.MostRecent(items, lengths, MaxLength);
        return Logits(NextItemHead.LastState(forward(window), windowLengths)).MoveToOuterDisposeScope();
    }

    private void ResetParameters(long seed)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        using var generator = new Generator(unchecked((ulong)seed), CPU);
        void XavierNormal(Tensor weight)
            => weight.copy_(randn(weight.shape, generator: generator).Times(Math.Sqrt(2.0 / (weight.shape[0] + weight.shape[1]))));
        XavierNormal(itemEmbedding.weight!);
        XavierNormal(positionEmbedding.weight!);
        foreach (var list in new[] { queries, keys, values, outputs, feedForwardIn, feedForwardOut })
        {
            foreach (var linear in list)
            {
                XavierNormal(linear.weight!);
                linear.bias!.zero_();
            }
        }
        foreach (var norm in attentionNorms.Concat(feedForwardNorms).Append(finalNorm))
        {
            norm.weight!.fill_(TorchScalars.One);
            norm.bias!.zero_();
        }
    }
}
