using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Microsoft.ML.Svae;

/// <summary>
/// The Mult-VAE network of Liang et al. (WWW 2018), section 4.1 of Sachdeva et al. (WSDM 2019): multi-hot history
/// x_u → L2 normalization → dropout (training only) → tanh layer → linear layer to (μ, log σ²) → z → tanh layer →
/// one logit per item (π(z) = softmax).
/// </summary>
/// <remarks>
/// <para>
/// Input: the binary multi-hot <c>[B, N]</c> (<see cref="MultiHotInput.Dense"/>). <c>encoderOut</c> yields 2K values:
/// the first K are μ, the last K log σ² (z = μ + exp(½ log σ²)·ε, KL = ½ Σ (σ² − 1 − log σ² + μ²)), as in Liang's
/// code. In training mode the input is dropped out (each entry kept with probability 1 − p and scaled by
/// 1/(1 − p)) and z is sampled, both with noise from <see cref="NoiseGenerator"/>; in eval mode there is no dropout
/// and z = μ.
/// </para>
/// <para>
/// Initialization, from a generator seeded by the constructor's seed: Xavier-uniform weights and biases from a normal
/// of standard deviation 0.001 truncated at two standard deviations, as Liang's TensorFlow code
/// (<c>xavier_initializer</c>, <c>truncated_normal_initializer(stddev=0.001)</c>).
/// </para>
/// </remarks>
internal sealed class MvaeNetwork : Module<Tensor, (Tensor logits, Tensor mean, Tensor logVariance)>
{
    /// <summary>The ε of the L2 normalization: an empty history (norm 0) stays all zeros.</summary>
    public const float NormEpsilon = 1e-12f;

    // Field names are the state-dict prefixes: keep them.
#pragma warning disable IDE1006 // Naming: PyTorch-style module names
    internal readonly Linear encoderHidden;
    internal readonly Linear encoderOut;
    internal readonly Linear decoderHidden;
    internal readonly Linear decoderOut;
#pragma warning restore IDE1006

    /// <summary>Creates the network on the CPU, initialized from <paramref name="seed"/>.</summary>
    public MvaeNetwork(int itemCount, int encoderSize, int latentSize, int decoderSize, double dropoutRate, long seed)
        : base(nameof(MvaeNetwork))
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(itemCount, 1);
        if (!(dropoutRate >= 0 && dropoutRate < 1))
            throw new ArgumentOutOfRangeException(nameof(dropoutRate), dropoutRate, "The input dropout rate must be in [0, 1).");
        ItemCount = itemCount;
        EncoderSize = encoderSize;
        LatentSize = latentSize;
        DecoderSize = decoderSize;
        DropoutRate = dropoutRate;
        encoderHidden = Linear(itemCount, encoderSize);
        encoderOut = Linear(encoderSize, 2L * latentSize);
        decoderHidden = Linear(latentSize, decoderSize);
        decoderOut = Linear(decoderSize, itemCount);
        RegisterComponents();
        ResetParameters(seed);
    }

    /// <summary>N, the number of items.</summary>
    public int ItemCount { get; }

    /// <summary>The size of the encoder's tanh layer (600 in Liang et al.).</summary>
    public int EncoderSize { get; }

    /// <summary>The size of the decoder's tanh layer (600 in Liang et al.).</summary>
    public int DecoderSize { get; }

    /// <summary>K, the latent size (200 in Liang et al.).</summary>
    public int LatentSize { get; }

    /// <summary>The dropout rate of the normalized input in training mode.</summary>
    public double DropoutRate { get; }

    /// <summary>
    /// The source of the dropout masks and of ε in training mode; must be on the network's device.
    /// <see langword="null"/> uses the global generator.
    /// </summary>
    public Generator? NoiseGenerator { get; set; }

    /// <summary>
    /// Multi-hot <c>[B, N]</c> → item logits <c>[B, N]</c>, μ and log σ² <c>[B, K]</c>. Training mode: dropout and a
    /// sampled z; eval mode: z = μ.
    /// </summary>
    public override (Tensor logits, Tensor mean, Tensor logVariance) forward(Tensor multiHot)
    {
        using var scope = NewDisposeScope();
        var input = Normalize(multiHot);
        if (training)
            input = SeededDropout.Apply(input, DropoutRate, NoiseGenerator);
        var (mean, logVariance) = Encode(input);
        var z = GaussianLatent.Sample(mean, logVariance, NoiseGenerator, training);
        return (Decode(z).MoveToOuterDisposeScope(), mean.MoveToOuterDisposeScope(), logVariance.MoveToOuterDisposeScope());
    }

    /// <summary><c>x / max(‖x‖₂, ε)</c> per row: the L2 normalization of Liang's code (an empty row stays zero).</summary>
    public static Tensor Normalize(Tensor multiHot)
    {
        using var scope = NewDisposeScope();
        using var epsilon = NormEpsilon.ToScalar();
        var norm = multiHot.square().sum(1, keepdim: true).sqrt().clamp_min(epsilon);
        return (multiHot / norm).MoveToOuterDisposeScope();
    }

    /// <summary>The encoder: normalized input <c>[B, N]</c> → (μ, log σ²), each <c>[B, K]</c>.</summary>
    public (Tensor mean, Tensor logVariance) Encode(Tensor input)
    {
        using var scope = NewDisposeScope();
        var parameters = encoderOut.call(tanh(encoderHidden.call(input)));
        var (mean, logVariance) = GaussianLatent.Split(parameters, LatentSize);
        return (mean.MoveToOuterDisposeScope(), logVariance.MoveToOuterDisposeScope());
    }

    /// <summary>The decoder: latent codes <c>[B, K]</c> → item logits <c>[B, N]</c>.</summary>
    public Tensor Decode(Tensor z)
    {
        using var scope = NewDisposeScope();
        return decoderOut.call(tanh(decoderHidden.call(z))).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The inference scores whatever the mode: multi-hot <c>[B, N]</c> → logits <c>[B, N]</c> with no dropout and
    /// z = μ. This is what the ONNX graph computes; an empty history is scored from the zero input.
    /// </summary>
    public Tensor Score(Tensor multiHot)
    {
        using var scope = NewDisposeScope();
        var (mean, _) = Encode(Normalize(multiHot));
        return Decode(mean).MoveToOuterDisposeScope();
    }

    /// <summary>Re-initializes every parameter from <paramref name="seed"/> (see the class remarks).</summary>
    public void ResetParameters(long seed)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        using var generator = new Generator(unchecked((ulong)seed), CPU);
        foreach (var linear in new[] { encoderHidden, encoderOut, decoderHidden, decoderOut })
        {
            var weight = linear.weight!;
            long fanOut = weight.shape[0], fanIn = weight.shape[1];
            double bound = Math.Sqrt(6.0 / (fanIn + fanOut));
            weight.copy_(rand(weight.shape, generator: generator).ToSymmetric(bound));
            init.trunc_normal_(linear.bias!, 0, 0.001, -0.002, 0.002, generator);
        }
    }
}
