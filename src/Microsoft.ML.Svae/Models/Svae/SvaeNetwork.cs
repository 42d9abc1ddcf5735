using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Microsoft.ML.Svae;

/// <summary>
/// The SVAE network of section 4.3.1 of Sachdeva et al. (WSDM 2019): item embedding → GRU → encoder
/// (tanh layer, then the Gaussian parameters of q(z_t | x_1..t)) → z_t → decoder (tanh layer, then one logit
/// per item: π(z_t) = softmax).
/// </summary>
/// <remarks>
/// <para>
/// Inputs are 0-based item indices <c>[B, T]</c>, right-padded. The GRU is causal, so the output at position t
/// depends only on items 0..t and padding after a user's last item changes nothing before it; the loss and the
/// scorer only read valid positions.
/// </para>
/// <para>
/// <c>encoderOut</c> yields 2K values per position: the first K are the mean μ, the last K the log variance
/// log σ² (one parameterization throughout: z = μ + exp(½ log σ²)·ε, KL = ½ Σ (σ² − 1 − log σ² + μ²)).
/// In training mode z is sampled with ε from <see cref="NoiseGenerator"/>; in eval mode z = μ.
/// </para>
/// <para>
/// Initialization, from a generator seeded by the constructor's seed (never the global one): item embedding
/// N(0, 1) and GRU weights and biases U(−1/√H, 1/√H), PyTorch's defaults, which the authors' code keeps;
/// Xavier-normal weights for the four linear layers, as in the authors' code; linear biases zero (the authors'
/// code keeps PyTorch's default uniform biases).
/// </para>
/// </remarks>
internal sealed class SvaeNetwork : Module<Tensor, (Tensor logits, Tensor mean, Tensor logVariance)>
{
    // Field names are read by the ONNX exporter and are the state-dict prefixes: keep them.
#pragma warning disable IDE1006 // Naming: PyTorch-style module names
    internal readonly Embedding itemEmbedding;
    internal readonly GRU gru;
    internal readonly Linear encoderHidden;
    internal readonly Linear encoderOut;
    internal readonly Linear decoderHidden;
    internal readonly Linear decoderOut;
#pragma warning restore IDE1006

    /// <summary>Creates the network on the CPU, initialized from <paramref name="seed"/>.</summary>
    public SvaeNetwork(int itemCount, int embeddingSize, int recurrentSize, int encoderSize, int latentSize, int decoderSize, long seed,
        double dropout = 0)
        : base(nameof(SvaeNetwork))
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(itemCount, 1);
        ItemCount = itemCount;
        EmbeddingSize = embeddingSize;
        RecurrentSize = recurrentSize;
        LatentSize = latentSize;
        itemEmbedding = Embedding(itemCount, embeddingSize);
        gru = GRU(embeddingSize, recurrentSize, numLayers: 1, batchFirst: true);
        encoderHidden = Linear(recurrentSize, encoderSize);
        encoderOut = Linear(encoderSize, 2L * latentSize);
        decoderHidden = Linear(latentSize, decoderSize);
        decoderOut = Linear(decoderSize, itemCount);
        EmbeddingDropout = dropout;
        RegisterComponents();
        ResetParameters(seed);
    }

    /// <summary>N, the number of items.</summary>
    public int ItemCount { get; }

    /// <summary>The item embedding size.</summary>
    public int EmbeddingSize { get; }

    /// <summary>H, the number of GRU cells.</summary>
    public int RecurrentSize { get; }

    /// <summary>K, the latent size.</summary>
    public int LatentSize { get; }

    /// <summary>The dropout rate on the GRU's input embeddings in training mode.</summary>
    public double EmbeddingDropout { get; }

    /// <summary>
    /// The source of ε and of the dropout masks in training mode; must be on the network's device.
    /// <see langword="null"/> uses the global generator (not reproducible when several trainings run at once).
    /// </summary>
    public Generator? NoiseGenerator { get; set; }

    /// <summary>
    /// The whole network at every position: <c>[B, T]</c> items → logits <c>[B, T, N]</c>, μ and log σ²
    /// <c>[B, T, K]</c>. Position t's outputs condition on items 0..t (the state after item t), so they model the
    /// items after t. z is sampled in training mode, z = μ in eval mode.
    /// </summary>
    public override (Tensor logits, Tensor mean, Tensor logVariance) forward(Tensor items)
    {
        var (mean, logVariance) = Encode(Recurrent(items));
        return (Decode(Sample(mean, logVariance)), mean, logVariance);
    }

    /// <summary>The GRU outputs h_t <c>[B, T, H]</c> of right-padded items <c>[B, T]</c> (initial state zero).</summary>
    /// <param name="items"><c>[B, T]</c> int64 item indices, right-padded.</param>
    /// <param name="precision">
    /// The number format of the fused training GRU's products over all positions (<see cref="GruSequence"/>); without
    /// autograd or off the CPU the GRU runs in float32 whatever this says.
    /// </param>
    public Tensor Recurrent(Tensor items, TrainingPrecision precision = TrainingPrecision.Float32)
    {
        using var scope = NewDisposeScope();
        // Dropout (training mode only) on the GRU's input embeddings; an identity at inference.
        var embedded = itemEmbedding.call(items);
        if (training)
            embedded = SeededDropout.Apply(embedded, EmbeddingDropout, NoiseGenerator);
        return GruSequence.Forward(gru, embedded, precision).MoveToOuterDisposeScope();
    }

    /// <summary>The encoder: states <c>[..., H]</c> → (μ, log σ²), each <c>[..., K]</c>.</summary>
    public (Tensor mean, Tensor logVariance) Encode(Tensor states)
    {
        using var scope = NewDisposeScope();
        var (mean, logVariance) = GaussianLatent.Split(EncoderParameters(states), LatentSize);
        return (mean.MoveToOuterDisposeScope(), logVariance.MoveToOuterDisposeScope());
    }

    /// <summary>The encoder's outputs <c>[..., 2K]</c>: μ, then log σ².</summary>
    private Tensor EncoderParameters(Tensor states)
    {
        using var scope = NewDisposeScope();
        return encoderOut.call(tanh(encoderHidden.call(states))).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The encoder and the latent in one: z <c>[P, K]</c> and the KL divergence summed over all rows (a scalar) from
    /// states <c>[P, H]</c>. In training mode z is sampled (<see cref="GaussianLatent.SampleWithKl"/>: one fused function
    /// on the CPU); in eval mode z = μ.
    /// </summary>
    public (Tensor Sample, Tensor KlSum) SampleWithKl(Tensor states)
    {
        using var scope = NewDisposeScope();
        if (!training)
        {
            var (mean, logVariance) = Encode(states);
            var kl = GaussianLatent.KlDivergence(mean, logVariance).sum();
            return (mean.MoveToOuterDisposeScope(), kl.MoveToOuterDisposeScope());
        }
        var (z, klSum) = GaussianLatent.SampleWithKl(EncoderParameters(states), LatentSize, NoiseGenerator);
        return (z.MoveToOuterDisposeScope(), klSum.MoveToOuterDisposeScope());
    }

    /// <summary>z = μ + exp(½ log σ²)·ε with ε ~ N(0, I) in training mode; z = μ in eval mode.</summary>
    public Tensor Sample(Tensor mean, Tensor logVariance)
        => GaussianLatent.Sample(mean, logVariance, NoiseGenerator, training);

    /// <summary>The decoder: latent codes <c>[..., K]</c> → item logits <c>[..., N]</c> (π = softmax of the logits).</summary>
    public Tensor Decode(Tensor z)
    {
        using var scope = NewDisposeScope();
        return decoderOut.call(DecodeHidden(z)).MoveToOuterDisposeScope();
    }

    /// <summary>The decoder's tanh layer: latent codes <c>[..., K]</c> → the activations <c>[..., D]</c> that feed its output layer.</summary>
    public Tensor DecodeHidden(Tensor z)
    {
        using var scope = NewDisposeScope();
        return tanh(decoderHidden.call(z)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Each user's item logits <c>[B, N]</c> from the state after the LAST valid item (position length − 1) of
    /// right-padded <paramref name="items"/>, with z = μ whatever the mode. This is what an ONNX graph computes from
    /// the whole unpadded history. A row of length 0 is scored from the zero state (the GRU's initial state);
    /// callers may substitute a fallback for such rows.
    /// </summary>
    /// <param name="items"><c>[B, T]</c> int64 item indices, right-padded.</param>
    /// <param name="lengths"><c>[B]</c> int64 valid lengths.</param>
    public Tensor ScoreLast(Tensor items, Tensor lengths)
    {
        using var scope = NewDisposeScope();
        var states = Recurrent(items);
        long batch = states.shape[0];
        var last = lengths.sub(TorchScalars.One).clamp_min(TorchScalars.Zero).view(batch, 1, 1).expand(batch, 1, RecurrentSize);
        var state = states.gather(1, last).squeeze(1);
        state = where(lengths.gt(TorchScalars.Zero).unsqueeze(1), state, zeros_like(state));
        var (mean, _) = Encode(state);
        return Decode(mean).MoveToOuterDisposeScope();
    }

    /// <summary>Re-initializes every parameter from <paramref name="seed"/> (see the class remarks).</summary>
    public void ResetParameters(long seed)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        using var generator = new Generator(unchecked((ulong)seed), CPU);
        Fill(itemEmbedding.weight!, randn(itemEmbedding.weight!.shape, generator: generator));
        double bound = 1.0 / Math.Sqrt(RecurrentSize);
        foreach (var (_, parameter) in gru.named_parameters())
            Fill(parameter, rand(parameter.shape, generator: generator).ToSymmetric(bound));
        foreach (var linear in new[] { encoderHidden, encoderOut, decoderHidden, decoderOut })
        {
            var weight = linear.weight!;
            long fanOut = weight.shape[0], fanIn = weight.shape[1];
            double std = Math.Sqrt(2.0 / (fanIn + fanOut));
            Fill(weight, randn(weight.shape, generator: generator).Times(std));
            linear.bias!.zero_();
        }
    }

    private static void Fill(Tensor parameter, Tensor values) => parameter.copy_(values);
}
