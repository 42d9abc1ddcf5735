using System.Text.Json.Serialization;
using Microsoft.ML.SearchSpace;

namespace Microsoft.ML.Svae;

/// <summary>
/// The four sequential VAEs of section 4.3.2 and fig. 2 of Sachdeva et al. (WSDM 2019), which the paper describes and
/// leaves to future work.
/// </summary>
/// <remarks>Serialized by name, as the sweep's <see cref="ChoiceAttribute"/> proposes it.</remarks>
[JsonConverter(typeof(JsonStringEnumConverter<SequentialVaeVariant>))]
public enum SequentialVaeVariant
{
    /// <summary>Fig. 2a: one Gaussian z per user and a deterministic GRU; the next items from <c>f(z, h_t)</c> (eq. 4.7).</summary>
    GlobalLatent = 0,

    /// <summary>Fig. 2b: a z_t per item inside the recurrence, <c>h_t = GRU(h_{t−1}, x_t, z_t)</c> (eq. 4.8), as in the VRNN of Chung et al. (2015); the next items from <c>f(h_t)</c>.</summary>
    LatentInRecurrence = 1,

    /// <summary>Fig. 2c: a learned prior <c>P(z_{t+1} | x_{1:t})</c> from the GRU state h_t; the next items from <c>f(z_{t+1})</c> alone.</summary>
    LearnedPrior = 2,

    /// <summary>Fig. 2d: <c>P(z_{t+1} | z_{1:t}, x_{1:t})</c> and <c>P(x_{t+1} | z_{1:t+1}, x_{1:t})</c> through the recurrence of eq. 4.8, as in the SRNN of Fraccaro et al. (2016).</summary>
    GlobalRecurrence = 3,
}

public sealed partial class SequentialVaeTrainer
{
    /// <summary>
    /// Options of the sequential-VAE trainer: the variant of fig. 2, SVAE's sizes and next-k likelihood, the KL annealing
    /// and the shared training options.
    /// </summary>
    /// <remarks>
    /// Sizes default to SVAE's (embedding 256, GRU 200, tanh layers of 150 in every Gaussian perceptron and in the
    /// decoder, K = 64, k = 4) so that the variants compare with SVAE at the same capacity.
    /// </remarks>
    public sealed class Options : VariationalTrainerOptions
    {
        /// <summary>Which of the four sequential VAEs of fig. 2 to train.</summary>
        [Choice(new object[]
        {
            nameof(SequentialVaeVariant.GlobalLatent), nameof(SequentialVaeVariant.LatentInRecurrence),
            nameof(SequentialVaeVariant.LearnedPrior), nameof(SequentialVaeVariant.GlobalRecurrence),
        }, nameof(SequentialVaeVariant.GlobalLatent))]
        public SequentialVaeVariant Variant { get; set; } = Defaults.Variant;

        /// <summary>The size of the item embedding that feeds the recurrences (SVAE's 256).</summary>
        [Range(16, 1024, Defaults.EmbeddingSize, true)]
        public int EmbeddingSize { get; set; } = Defaults.EmbeddingSize;

        /// <summary>The size of the GRU states, forward and (2d) backward (SVAE's 200).</summary>
        [Range(16, 1024, Defaults.RecurrentSize, true)]
        public int RecurrentSize { get; set; } = Defaults.RecurrentSize;

        /// <summary>The size of the tanh layer of every Gaussian perceptron (encoders, posteriors, priors; SVAE's 150).</summary>
        [Range(16, 1024, Defaults.EncoderSize, true)]
        public int EncoderSize { get; set; } = Defaults.EncoderSize;

        /// <summary>K, the size of each latent variable (SVAE's 64).</summary>
        [Range(4, 512, Defaults.LatentSize, true)]
        public int LatentSize { get; set; } = Defaults.LatentSize;

        /// <summary>The size of the decoder's tanh layer before the item logits (SVAE's 150).</summary>
        [Range(16, 1024, Defaults.DecoderSize, true)]
        public int DecoderSize { get; set; } = Defaults.DecoderSize;

        /// <summary>k, the number of next items each step explains (eq. 4.9, the multi-set likelihood; SVAE's 4).</summary>
        [Range(1, 32, Defaults.NextK, true)]
        public int NextK { get; set; } = Defaults.NextK;

        /// <summary>The dropout rate of the item embeddings that feed the recurrences, during training only (SVAE's 0.2).</summary>
        [Range(0.0, 0.8, Defaults.DropoutRate)]
        public double DropoutRate { get; set; } = Defaults.DropoutRate;

        /// <summary>Creates options with the sequential-VAE defaults.</summary>
        /// <remarks>
        /// The shared training defaults are SVAE's (8 users per step, no weight decay). β is annealed over 2,000 updates
        /// instead of 200,000: three variants learn their prior only through the KL term, which a β near zero leaves
        /// untrained while scoring reads it (not tuned; see the trainer's remarks).
        /// </remarks>
        public Options()
        {
            NumberOfEpochs = Defaults.NumberOfEpochs;
            LearningRate = Defaults.LearningRate;
            BatchSize = Defaults.BatchSize;
            WeightDecay = Defaults.WeightDecay;
            KlAnnealingSteps = Defaults.KlAnnealingSteps;
        }

        /// <inheritdoc/>
        public override void Validate()
        {
            base.Validate();
            if (!Enum.IsDefined(Variant))
                throw new ArgumentOutOfRangeException(nameof(Variant), Variant,
                    "Variant must be GlobalLatent, LatentInRecurrence, LearnedPrior or GlobalRecurrence.");
            CheckInRange(nameof(DropoutRate), DropoutRate, 0, 0.95);
            CheckAtLeast(nameof(EmbeddingSize), EmbeddingSize, 1);
            CheckAtLeast(nameof(RecurrentSize), RecurrentSize, 1);
            CheckAtLeast(nameof(EncoderSize), EncoderSize, 1);
            CheckAtLeast(nameof(LatentSize), LatentSize, 1);
            CheckAtLeast(nameof(DecoderSize), DecoderSize, 1);
            CheckAtLeast(nameof(NextK), NextK, 1);
        }
    }
}
