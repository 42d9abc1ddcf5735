using Microsoft.ML.SearchSpace;

namespace Microsoft.ML.Svae;

public sealed partial class MvaeTrainer
{
    /// <summary>
    /// Options of the MVAE trainer: the Mult-VAE architecture and training settings of Liang et al. (WWW 2018),
    /// the model of section 4.1 of Sachdeva et al. (WSDM 2019), and the shared training options.
    /// </summary>
    /// <remarks>
    /// <para>
    /// Defaults follow Liang et al.'s published code (<c>dawenl/vae_cf</c>): layers N → 600 → 200 → 600 → N with tanh,
    /// input dropout 0.5, Adam with learning rate 1e-3, 500 users per batch, 200 epochs, β annealed linearly over
    /// 200,000 updates and capped at 0.2, and no L2 penalty (their Mult-VAE run passes <c>lam=0.0</c>; the class
    /// default <c>lam=0.01</c> is that of Mult-DAE and corresponds to <see cref="SequenceTrainerOptions.WeightDecay"/> = 0.02).
    /// </para>
    /// <para>
    /// <see cref="SequenceTrainerOptions.MaxPositionsPerBatch"/> defaults to <see cref="int.MaxValue"/> here: MVAE's
    /// memory per batch is <c>users × N</c>, whatever the history lengths, so only
    /// <see cref="SequenceTrainerOptions.BatchSize"/> limits a batch.
    /// </para>
    /// </remarks>
    public sealed class Options : SequenceTrainerOptions
    {
        /// <summary>The size of the encoder's and the decoder's tanh layers (600 in Liang et al.).</summary>
        [Range(16, 2048, 600, true)]
        public int HiddenSize { get; set; } = 600;

        /// <summary>K, the number of latent factors (200 in Liang et al.).</summary>
        [Range(4, 1024, 200, true)]
        public int LatentSize { get; set; } = 200;

        /// <summary>
        /// The dropout rate of the L2-normalized input during training (0.5 in Liang et al., whose keep probability is
        /// 0.5); 0 disables it. Never applied when scoring.
        /// </summary>
        [Range(0.0, 0.9, 0.5)]
        public double InputDropout { get; set; } = 0.5;

        /// <summary>The largest KL weight β (0.2 in Liang et al.); 0 trains a plain (denoising) autoencoder.</summary>
        [Range(0.0, 1.0, 0.2)]
        public double KlWeightCap { get; set; } = 0.2;

        /// <summary>
        /// The number of updates over which β grows linearly from 0 to 1 before the cap stops it
        /// (<c>β = min(KlWeightCap, updates / KlAnnealingSteps)</c>; <c>total_anneal_steps</c> = 200,000 in Liang et al.).
        /// </summary>
        [Range(100, 1_000_000, 200_000, true)]
        public int KlAnnealingSteps { get; set; } = 200_000;

        /// <summary>Creates options with Liang et al.'s defaults.</summary>
        public Options()
        {
            NumberOfEpochs = Defaults.NumberOfEpochs;
            BatchSize = 500;
            LearningRate = Defaults.LearningRate;
            WeightDecay = 0;
            MaxPositionsPerBatch = int.MaxValue;
            // Liang et al. train all 200 epochs and keep the best validation epoch; with two updates per
            // epoch on small data, patience-based stopping ends far too early (docs/BENCHMARKS.md).
            EarlyStoppingPatience = 0;
        }

        /// <inheritdoc/>
        public override void Validate()
        {
            base.Validate();
            CheckAtLeast(nameof(HiddenSize), HiddenSize, 1);
            CheckAtLeast(nameof(LatentSize), LatentSize, 1);
            if (!(InputDropout >= 0 && InputDropout < 1))
                throw new ArgumentOutOfRangeException(nameof(InputDropout), InputDropout, "InputDropout must be at least 0 and less than 1 (0.5 in Liang et al.).");
            CheckInRange(nameof(KlWeightCap), KlWeightCap, 0, 1000);
            CheckAtLeast(nameof(KlAnnealingSteps), KlAnnealingSteps, 1);
        }
    }
}
