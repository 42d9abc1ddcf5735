using System.Text.Json.Serialization;
using Microsoft.ML.SearchSpace;

namespace Microsoft.ML.Svae;

/// <summary>
/// How SVAE's likelihood treats the next k items of each step (section 4.3.3 of Sachdeva et al., WSDM 2019).
/// </summary>
/// <remarks>Serialized by name (<c>"MultiSet"</c>, <c>"Mixture"</c>), as the sweep's <see cref="ChoiceAttribute"/> proposes it.</remarks>
[JsonConverter(typeof(JsonStringEnumConverter<NextKLikelihood>))]
public enum NextKLikelihood
{
    /// <summary>
    /// Eq. 4.9: the state after item t explains the next k items as a time-ordered multi-set,
    /// <c>Multi(k, π(z_t))</c>; each step's log-likelihood is the mean of its targets' log-probabilities.
    /// </summary>
    MultiSet = 0,

    /// <summary>
    /// Eq. 4.10: each item x_t is explained by the mixture, with equal weights, of the (up to) k states
    /// z_{t−k} … z_{t−1} that precede it: <c>log P(x_t) = log mean_j π(z_j)[x_t]</c>.
    /// </summary>
    Mixture = 1,
}

public sealed partial class SvaeTrainer
{
    /// <summary>
    /// Options of the SVAE trainer: the architecture of section 5.4 of Sachdeva et al. (WSDM 2019), the next-k
    /// likelihood of section 4.3.3, the KL annealing of the authors' code, and the shared training options.
    /// </summary>
    /// <remarks>
    /// Defaults follow the paper (embedding 256, GRU 200, encoder 150, K = 64, decoder 150, Adam) and the
    /// authors' code where the paper is silent (k = 4 next items, β capped at 0.2 and annealed over 200,000
    /// updates, weight decay 5e-3 as coupled L2 — the paper's text says 0.01).
    /// </remarks>
    public sealed class Options : SequenceTrainerOptions
    {
        /// <summary>The size of the item embedding that feeds the GRU (256 in the paper).</summary>
        [Range(16, 1024, 256, true)]
        public int EmbeddingSize { get; set; } = 256;

        /// <summary>The number of GRU cells (200 in the paper).</summary>
        [Range(16, 1024, 200, true)]
        public int HiddenSize { get; set; } = 200;

        /// <summary>The size of the encoder's tanh layer between the GRU state and the latent parameters (150 in the paper).</summary>
        [Range(16, 1024, 150, true)]
        public int EncoderSize { get; set; } = 150;

        /// <summary>K, the number of latent factors (64 in the paper).</summary>
        [Range(4, 512, 64, true)]
        public int LatentSize { get; set; } = 64;

        /// <summary>The size of the decoder's tanh layer between the latent code and the item logits (150 in the paper).</summary>
        [Range(16, 1024, 150, true)]
        public int DecoderSize { get; set; } = 150;

        /// <summary>
        /// k, the number of next items each step predicts (section 4.3.3; 1 is the next-item model of eq. 4.5).
        /// The authors' code uses 4.
        /// </summary>
        [Range(1, 32, 4, true)]
        public int NextK { get; set; } = 4;

        /// <summary>How the next k items enter the likelihood: eq. 4.9 (<see cref="NextKLikelihood.MultiSet"/>) or eq. 4.10 (<see cref="NextKLikelihood.Mixture"/>).</summary>
        [Choice(new object[] { nameof(NextKLikelihood.MultiSet), nameof(NextKLikelihood.Mixture) }, nameof(NextKLikelihood.MultiSet))]
        public NextKLikelihood Likelihood { get; set; } = NextKLikelihood.MultiSet;

        /// <summary>The largest KL weight β (0.2, as in the authors' code and Liang et al.); 0 trains a plain autoencoder.</summary>
        [Range(0.0, 1.0, 0.2)]
        public double KlWeightCap { get; set; } = 0.2;

        /// <summary>
        /// The number of updates over which β grows linearly from 0 to 1 before the cap stops it
        /// (<c>β = min(KlWeightCap, updates / KlAnnealingSteps)</c>; 200,000 in the authors' code).
        /// </summary>
        [Range(100, 1_000_000, 200_000, true)]
        public int KlAnnealingSteps { get; set; } = 200_000;

        /// <summary>
        /// Restart the annealing counter at every epoch, as the authors' public code does (its counter is local
        /// to the epoch), which keeps β below <c>updates per epoch / KlAnnealingSteps</c>. Off by default: the
        /// counter runs over the whole training, as in Liang et al.
        /// </summary>
        [BooleanChoice(false)]
        public bool KlAnnealingResetsEachEpoch { get; set; }

        /// <summary>
        /// Dropout rate on the item embeddings that feed the GRU, during training only (0 = none). Not in the
        /// paper or the authors' code: a regulariser, default 0.2 chosen by validation NDCG@100 on
        /// MovieLens-100K (docs/BENCHMARKS.md). Set 0 for the paper's network.
        /// </summary>
        [Range(0.0, 0.8, 0.2)]
        public double Dropout { get; set; } = 0.2;

        /// <summary>Creates options with the SVAE defaults.</summary>
        /// <remarks>
        /// Two defaults differ from the shared ones, both chosen by validation NDCG@100 on MovieLens-100K
        /// (docs/BENCHMARKS.md): <see cref="SequenceTrainerOptions.BatchSize"/> 8 users per step (the
        /// authors' code uses 1; 32 made too few updates per epoch on small data), and
        /// <see cref="SequenceTrainerOptions.WeightDecay"/> 0: the authors' coupled L2 of 5e-3 under Adam
        /// shrank the network to a popularity ranking (validation NDCG@100 0.164 against 0.304 without it).
        /// <see cref="Dropout"/> is 0.2 for the same reason (mean validation NDCG@100 over three splits 0.330
        /// against 0.318 without dropout).
        /// </remarks>
        public Options()
        {
            BatchSize = 8;
            WeightDecay = 0;
        }

        /// <inheritdoc/>
        public override void Validate()
        {
            base.Validate();
            CheckInRange(nameof(Dropout), Dropout, 0, 0.95);
            CheckAtLeast(nameof(EmbeddingSize), EmbeddingSize, 1);
            CheckAtLeast(nameof(HiddenSize), HiddenSize, 1);
            CheckAtLeast(nameof(EncoderSize), EncoderSize, 1);
            CheckAtLeast(nameof(LatentSize), LatentSize, 1);
            CheckAtLeast(nameof(DecoderSize), DecoderSize, 1);
            CheckAtLeast(nameof(NextK), NextK, 1);
            if (!Enum.IsDefined(Likelihood))
                throw new ArgumentOutOfRangeException(nameof(Likelihood), Likelihood, "Likelihood must be MultiSet or Mixture.");
            CheckInRange(nameof(KlWeightCap), KlWeightCap, 0, 1000);
            CheckAtLeast(nameof(KlAnnealingSteps), KlAnnealingSteps, 1);
        }
    }
}
