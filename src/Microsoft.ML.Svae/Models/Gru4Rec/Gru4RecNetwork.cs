using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Microsoft.ML.Svae;

/// <summary>
/// GRU4Rec (Hidasi, Karatzoglou, Baltrunas and Tikk, ICLR 2016) as RecBole benchmarks it: item embedding →
/// dropout → one GRU layer → a dense layer back to the embedding size → one logit per item, the dot product with
/// that item's embedding (the input and output item vectors are tied).
/// </summary>
/// <remarks>
/// Inputs are 0-based item indices <c>[B, T]</c>, right-padded. The GRU is causal, so position t's output depends
/// only on items 0..t. Initialization, from a generator seeded by the constructor's seed: Xavier-normal item
/// embedding and dense weight (RecBole's), GRU weights and biases U(−1/√H, 1/√H) (PyTorch's default), dense bias zero.
/// </remarks>
internal sealed class Gru4RecNetwork : Module<Tensor, Tensor>
{
    // Field names are the state-dict prefixes: keep them.
#pragma warning disable IDE1006 // Naming: PyTorch-style module names
    internal readonly Embedding itemEmbedding;
    internal readonly GRU gru;
    internal readonly Linear dense;
#pragma warning restore IDE1006

    /// <summary>Creates the network on the CPU, initialized from <paramref name="seed"/>.</summary>
    public Gru4RecNetwork(int itemCount, int embeddingSize, int recurrentSize, double dropoutRate, long seed)
        : base(nameof(Gru4RecNetwork))
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(itemCount, 1);
        ItemCount = itemCount;
        EmbeddingSize = embeddingSize;
        RecurrentSize = recurrentSize;
        DropoutRate = dropoutRate;
        itemEmbedding = Embedding(itemCount, embeddingSize);
        gru = GRU(embeddingSize, recurrentSize, numLayers: 1, batchFirst: true);
        dense = Linear(recurrentSize, embeddingSize);
        RegisterComponents();
        ResetParameters(seed);
    }

    /// <summary>N, the number of items.</summary>
    public int ItemCount { get; }

    /// <summary>The item embedding size.</summary>
    public int EmbeddingSize { get; }

    /// <summary>H, the GRU's hidden size.</summary>
    public int RecurrentSize { get; }

    /// <summary>The dropout rate of the GRU's input embeddings in training mode.</summary>
    public double DropoutRate { get; }

    /// <summary>The source of the dropout masks in training mode (the global generator when null).</summary>
    public Generator? DropoutGenerator { get; set; }

    /// <summary>The sequence representation at every position: <c>[B, T]</c> items → <c>[B, T, E]</c>.</summary>
    public override Tensor forward(Tensor items)
    {
        using var scope = NewDisposeScope();
        var embedded = itemEmbedding.call(items);
        if (training)
            embedded = SeededDropout.Apply(embedded, DropoutRate, DropoutGenerator);
        return dense.call(GruSequence.Forward(gru, embedded)).MoveToOuterDisposeScope();
    }

    /// <summary>Item logits <c>[..., N]</c> of representations <c>[..., E]</c>: dot products with every item's embedding.</summary>
    public Tensor Logits(Tensor representations) => representations.matmul(itemEmbedding.weight!.t());

    /// <summary>
    /// Each user's item logits <c>[B, N]</c> from the state after the LAST valid item of right-padded
    /// <paramref name="items"/> (what the ONNX graph computes from the whole history); rows of length 0 are scored
    /// from a zero representation (callers substitute a fallback).
    /// </summary>
    public Tensor ScoreLast(Tensor items, Tensor lengths)
    {
        using var scope = NewDisposeScope();
        return Logits(NextItemHead.LastState(forward(items), lengths)).MoveToOuterDisposeScope();
    }

    private void ResetParameters(long seed)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        using var generator = new Generator(unchecked((ulong)seed), CPU);
        void XavierNormal(Tensor weight)
            => weight.copy_(randn(weight.shape, generator: generator).Times(Math.Sqrt(2.0 / (weight.shape[0] + weight.shape[1]))));
        XavierNormal(itemEmbedding.weight!);
        double bound = 1.0 / Math.Sqrt(RecurrentSize);
        foreach (var (_, parameter) in gru.named_parameters())
            parameter.copy_(rand(parameter.shape, generator: generator).ToSymmetric(bound));
        XavierNormal(dense.weight!);
        dense.bias!.zero_();
    }
}
