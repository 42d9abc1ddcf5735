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
    public sealed class Options : VariationalTrainerOptions
    {
        /// <summary>The size of the encoder's tanh layer between the multi-hot input and the latent parameters (600 in Liang et al.).</summary>
        [Range(16, 2048, Defaults.EncoderSize, true)]
        public int EncoderSize { get; set; } = Defaults.EncoderSize;

        /// <summary>K, the number of latent factors (200 in Liang et al.).</summary>
        [Range(4, 1024, Defaults.LatentSize, true)]
        public int LatentSize { get; set; } = Defaults.LatentSize;

        /// <summary>The size of the decoder's tanh layer between the latent code and the item logits (600 in Liang et al.).</summary>
        [Range(16, 2048, Defaults.DecoderSize, true)]
        public int DecoderSize { get; set; } = Defaults.DecoderSize;

        /// <summary>
        /// The dropout rate of the L2-normalized multi-hot input during training (0.5 in Liang et al., whose keep
        /// probability is 0.5); 0 disables it. Never applied when scoring.
        /// </summary>
        [Range(0.0, 0.9, Defaults.DropoutRate)]
        public double DropoutRate { get; set; } = Defaults.DropoutRate;

        /// <summary>Creates options with Liang et al.'s defaults.</summary>
        public Options()
        {
            NumberOfEpochs = Defaults.NumberOfEpochs;
            BatchSize = Defaults.BatchSize;
            LearningRate = Defaults.LearningRate;
            WeightDecay = Defaults.WeightDecay;
            MaxPositionsPerBatch = Defaults.MaxPositionsPerBatch;
            // Liang et al. train all 200 epochs and keep the best validation epoch; with two updates per
            // epoch on small data, patience-based stopping ends far too early (docs/BENCHMARKS.md).
            EarlyStoppingPatience = Defaults.EarlyStoppingPatience;
        }

        /// <inheritdoc/>
        public override void Validate()
        {
            base.Validate();
            CheckAtLeast(nameof(EncoderSize), EncoderSize, 1);
            CheckAtLeast(nameof(LatentSize), LatentSize, 1);
            CheckAtLeast(nameof(DecoderSize), DecoderSize, 1);
            if (!(DropoutRate >= 0 && DropoutRate < 1))
                throw new ArgumentOutOfRangeException(nameof(DropoutRate), DropoutRate, "DropoutRate must be at least 0 and less than 1 (0.5 in Liang et al.).");
        }
    }
}
