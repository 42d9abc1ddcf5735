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
    public sealed class Options : VariationalTrainerOptions
    {
        /// <summary>The size of the item embedding that feeds the GRU (256 in the paper).</summary>
        [Range(16, 1024, Defaults.EmbeddingSize, true)]
        public int EmbeddingSize { get; set; } = Defaults.EmbeddingSize;

        /// <summary>The size of the GRU's hidden state, its number of cells (200 in the paper).</summary>
        [Range(16, 1024, Defaults.RecurrentSize, true)]
        public int RecurrentSize { get; set; } = Defaults.RecurrentSize;

        /// <summary>The size of the encoder's tanh layer between the GRU state and the latent parameters (150 in the paper).</summary>
        [Range(16, 1024, Defaults.EncoderSize, true)]
        public int EncoderSize { get; set; } = Defaults.EncoderSize;

        /// <summary>K, the number of latent factors (64 in the paper).</summary>
        [Range(4, 512, Defaults.LatentSize, true)]
        public int LatentSize { get; set; } = Defaults.LatentSize;

        /// <summary>The size of the decoder's tanh layer between the latent code and the item logits (150 in the paper).</summary>
        [Range(16, 1024, Defaults.DecoderSize, true)]
        public int DecoderSize { get; set; } = Defaults.DecoderSize;

        /// <summary>
        /// k, the number of next items each step predicts (section 4.3.3; 1 is the next-item model of eq. 4.5).
        /// The authors' code uses 4.
        /// </summary>
        [Range(1, 32, Defaults.NextK, true)]
        public int NextK { get; set; } = Defaults.NextK;

        /// <summary>How the next k items enter the likelihood: eq. 4.9 (<see cref="NextKLikelihood.MultiSet"/>) or eq. 4.10 (<see cref="NextKLikelihood.Mixture"/>).</summary>
        [Choice(new object[] { nameof(NextKLikelihood.MultiSet), nameof(NextKLikelihood.Mixture) }, nameof(NextKLikelihood.MultiSet))]
        public NextKLikelihood Likelihood { get; set; } = Defaults.Likelihood;

        /// <summary>
        /// The dropout rate of the item embeddings that feed the GRU, during training only (0 = none). Not in the
        /// paper or the authors' code: a regulariser, default 0.2 chosen by validation NDCG@100 on
        /// MovieLens-100K (docs/BENCHMARKS.md). Set 0 for the paper's network.
        /// </summary>
        [Range(0.0, 0.8, Defaults.DropoutRate)]
        public double DropoutRate { get; set; } = Defaults.DropoutRate;

        /// <summary>
        /// The number format of the large matrix products of training on the CPU: <see cref="TrainingPrecision.Float32"/>
        /// (the default) or <see cref="TrainingPrecision.BFloat16"/>, where the GRU's input projection with its weight and
        /// input gradients, and (with the <see cref="NextKLikelihood.MultiSet"/> likelihood; the mixture keeps it float32)
        /// the decoder's output layer over all items with its two backward products, take bfloat16 inputs (accumulating in
        /// float32). Parameters, Adam's state, the softmax, the loss, the KL and the
        /// accumulated gradients stay float32; inference, scoring, validation and the ONNX model are float32 in both.
        /// </summary>
        /// <remarks>
        /// Meant for CPUs with bfloat16 hardware (measured only on one with AMX; AVX512-BF16 without AMX is untested); on others libtorch emulates
        /// bfloat16 and the products were measured 3-60 times slower than float32's, so training is much slower there
        /// (training logs a warning when the CPU's flags show no such hardware). Ignored on CUDA devices (training runs in float32 there). Not in the paper
        /// or the authors' code. Measured on a CPU with AMX, one libtorch thread (docs/BENCHMARKS.md, issue 16, "bfloat16
        /// matrix products in training" and "The glue around the products"): about 25% less time per ML-1M-shaped epoch than
        /// Float32 (0.76 and 0.74 of Float32's median epoch in two rounds of alternated runs), with test NDCG@100 on MovieLens-100K within noise of
        /// float32 (−0.31 and +0.14 points, paired over split seeds 1-5); at the defaults Recall@10 and Precision@10 were
        /// lower (−0.91 and −0.66 points, intervals excluding 0), with a shorter schedule NDCG@10 higher (+0.41).
        /// Peak memory in training at the Netflix subset's shape is lower than Float32's (2.4 against 2.8 GiB; docs/BENCHMARKS.md,
        /// issue 16, "A fused output layer and loss pass on the CPU").
        /// Seeded training is reproducible in either setting, but the two settings give different weights. Not swept by
        /// <c>svae sweep</c> or AutoML (it changes speed, not the model); set it on the options a sweep starts from.
        /// </remarks>
        public TrainingPrecision TrainingPrecision { get; set; } = Defaults.TrainingPrecision;

        /// <summary>Creates options with the SVAE defaults.</summary>
        /// <remarks>
        /// Two defaults differ from the shared ones, both chosen by validation NDCG@100 on MovieLens-100K
        /// (docs/BENCHMARKS.md): <see cref="SequenceTrainerOptions.BatchSize"/> 8 users per step (the
        /// authors' code uses 1; 32 made too few updates per epoch on small data), and
        /// <see cref="SequenceTrainerOptions.WeightDecay"/> 0: the authors' coupled L2 of 5e-3 under Adam
        /// shrank the network to a popularity ranking (validation NDCG@100 0.164 against 0.304 without it).
        /// <see cref="DropoutRate"/> is 0.2 for the same reason (mean validation NDCG@100 over three splits 0.330
        /// against 0.318 without dropout).
        /// </remarks>
        public Options()
        {
            NumberOfEpochs = Defaults.NumberOfEpochs;
            LearningRate = Defaults.LearningRate;
            BatchSize = Defaults.BatchSize;
            WeightDecay = Defaults.WeightDecay;
        }

        /// <inheritdoc/>
        internal override TrainingPrecision? TrainingPrecisionSetting => TrainingPrecision;

        /// <inheritdoc/>
        public override void Validate()
        {
            base.Validate();
            CheckInRange(nameof(DropoutRate), DropoutRate, 0, 0.95);
            CheckAtLeast(nameof(EmbeddingSize), EmbeddingSize, 1);
            CheckAtLeast(nameof(RecurrentSize), RecurrentSize, 1);
            CheckAtLeast(nameof(EncoderSize), EncoderSize, 1);
            CheckAtLeast(nameof(LatentSize), LatentSize, 1);
            CheckAtLeast(nameof(DecoderSize), DecoderSize, 1);
            CheckAtLeast(nameof(NextK), NextK, 1);
            if (!Enum.IsDefined(Likelihood))
                throw new ArgumentOutOfRangeException(nameof(Likelihood), Likelihood, "Likelihood must be MultiSet or Mixture.");
            if (!Enum.IsDefined(TrainingPrecision))
                throw new ArgumentOutOfRangeException(nameof(TrainingPrecision), TrainingPrecision, "TrainingPrecision must be Float32 or BFloat16.");
        }
    }
}
