using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Microsoft.ML.Svae;

/// <summary>
/// What the four sequential VAEs of section 4.3.2 (fig. 2a-d) share: the item embedding that feeds their recurrences
/// (with seeded dropout in training), the seeded source of ε, the sizes, and the three things the objective, the
/// scorer and the ONNX graph ask of a variant. One subclass per variant.
/// </summary>
/// <remarks>
/// Indexing is SVAE's (0-based): a loss unit is a state s = 0..L−2 of a user of length L, whose decoded item logits
/// explain items s+1..s+k (eq. 4.9). Initialisation from a generator seeded by the constructor's seed, as SVAE's:
/// item embedding N(0, 1), GRU weights and biases U(−1/√H, 1/√H), Xavier-normal linear weights and zero biases.
/// </remarks>
internal abstract class SequentialVaeNetwork : Module
{
    // Field names are the state-dict prefixes: keep them.
#pragma warning disable IDE1006 // Naming: PyTorch-style module names
    internal readonly Embedding itemEmbedding;
#pragma warning restore IDE1006

    private protected SequentialVaeNetwork(string name, int itemCount, int embeddingSize, int recurrentSize, int latentSize, double dropout)
        : base(name)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(itemCount, 1);
        ItemCount = itemCount;
        EmbeddingSize = embeddingSize;
        RecurrentSize = recurrentSize;
        LatentSize = latentSize;
        EmbeddingDropout = dropout;
        itemEmbedding = Embedding(itemCount, embeddingSize);
        register_module(nameof(itemEmbedding), itemEmbedding);
    }

    /// <summary>Creates the network of <paramref name="options"/>' variant on the CPU, initialised from its seed.</summary>
    public static SequentialVaeNetwork Create(int itemCount, SequentialVaeTrainer.Options options) => options.Variant switch
    {
        SequentialVaeVariant.GlobalLatent => new GlobalLatentVaeNetwork(itemCount, options),
        SequentialVaeVariant.LatentInRecurrence => new LatentInRecurrenceVaeNetwork(itemCount, options),
        SequentialVaeVariant.LearnedPrior => new LearnedPriorVaeNetwork(itemCount, options),
        SequentialVaeVariant.GlobalRecurrence => new GlobalRecurrenceVaeNetwork(itemCount, options),
        _ => throw new ArgumentOutOfRangeException(nameof(options), options.Variant, "Unknown sequential VAE variant."),
    };

    /// <summary>The variant.</summary>
    public abstract SequentialVaeVariant Variant { get; }

    /// <summary>N, the number of items.</summary>
    public int ItemCount { get; }

    /// <summary>The item embedding size.</summary>
    public int EmbeddingSize { get; }

    /// <summary>H, the number of GRU cells.</summary>
    public int RecurrentSize { get; }

    /// <summary>K, the latent size.</summary>
    public int LatentSize { get; }

    /// <summary>The dropout rate of the embeddings that feed the recurrences, in training mode.</summary>
    public double EmbeddingDropout { get; }

    /// <summary>The source of ε and of the dropout masks in training mode, on the network's device (null: the global generator).</summary>
    public Generator? NoiseGenerator { get; set; }

    /// <summary>
    /// The training terms of a batch: the item logits <c>[P, N]</c> of its loss units (<paramref name="units"/>, flat
    /// indices into the <c>B·T</c> positions; <paramref name="unitMask"/> the same as <c>bool [B, T]</c>) with the latent
    /// variables sampled from the approximate posterior, and the batch's KL divergence of posterior from prior (a scalar,
    /// summed over its latent variables). Called in training mode.
    /// </summary>
    public abstract (Tensor Logits, Tensor Kl) Terms(SequenceBatch batch, Tensor units, Tensor unitMask);

    /// <summary>
    /// Each user's item logits <c>[B, N]</c> after the last valid item of right-padded <paramref name="items"/>
    /// (<paramref name="lengths"/> <c>[B]</c>) from the history alone, every latent variable at its mean; this is what
    /// the ONNX graph computes. Rows of length 0 get finite scores that callers replace.
    /// </summary>
    public abstract Tensor ScoreLast(Tensor items, Tensor lengths);

    /// <summary>The inference weights (what <see cref="ScoreLast"/> uses), copied to managed memory for the ONNX graph.</summary>
    public abstract SequentialVaeWeights ExportWeights(float[] emptyHistoryScores);

    /// <summary>The item embeddings <c>[B, T, E]</c> of <paramref name="items"/>, with seeded dropout in training mode.</summary>
    private protected Tensor Embedded(Tensor items)
    {
        using var scope = NewDisposeScope();
        var embedded = itemEmbedding.call(items);
        if (training)
            embedded = SeededDropout.Apply(embedded, EmbeddingDropout, NoiseGenerator);
        return embedded.MoveToOuterDisposeScope();
    }

    /// <summary>The outputs h_t <c>[B, T, H]</c> of a deterministic <paramref name="gru"/> over the embedded items (zero initial state).</summary>
    private protected Tensor States(GRU gru, Tensor items)
    {
        using var scope = NewDisposeScope();
        return GruSequence.Forward(gru, Embedded(items)).MoveToOuterDisposeScope();
    }

    /// <summary>μ and log σ² from a Gaussian perceptron's output <c>[..., 2K]</c>.</summary>
    private protected (Tensor Mean, Tensor LogVariance) Gaussian(Tensor parameters) => GaussianLatent.Split(parameters, LatentSize);

    /// <summary>z = μ + σ·ε in training mode, μ in eval mode.</summary>
    private protected Tensor Sample(Tensor mean, Tensor logVariance) => GaussianLatent.Sample(mean, logVariance, NoiseGenerator, training);

    /// <summary>The copy of the item embedding and the shared sizes every variant's weights start with.</summary>
    private protected float[] EmbeddingValues() => Onnx.TorchWeights.Values(itemEmbedding.weight!);

    /// <summary>
    /// Initialises the embedding N(0, 1) and then, in the order <paramref name="resetRest"/> gives, the variant's own
    /// layers, all from one generator seeded by <paramref name="seed"/>.
    /// </summary>
    private protected void ResetParameters(long seed, Action<Generator> resetRest)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        using var generator = new Generator(unchecked((ulong)seed), CPU);
        itemEmbedding.weight!.copy_(randn(itemEmbedding.weight!.shape, generator: generator));
        resetRest(generator);
    }
}
