using Microsoft.ML.SearchSpace;

namespace Microsoft.ML.Svae;

public sealed partial class CaserTrainer
{
    /// <summary>
    /// Options of the Caser trainer: the architecture and sampling of Tang and Wang (WSDM 2018) with the
    /// defaults of the authors' code (graytowne/caser_pytorch), the user column, and the shared training options.
    /// </summary>
    /// <remarks>
    /// Defaults: d = 50, L = 5, T = 3, 16 horizontal filters per height, 4 vertical filters, dropout 0.5,
    /// 3 negatives per target, Adam with learning rate 1e-3 and coupled L2 weight decay 1e-6 — the authors'
    /// defaults (the SVAE paper keeps 16 horizontal and 4 vertical filters) — and 50 epochs.
    /// </remarks>
    public sealed class Options : UserKeyedTrainerOptions
    {
        /// <summary>d, the size of the item and user embeddings and of the fully connected layer (50 in the authors' code).</summary>
        [Range(8, 512, Defaults.EmbeddingSize, true)]
        public int EmbeddingSize { get; set; } = Defaults.EmbeddingSize;

        /// <summary>L, the number of previous items the convolutions read (5 in the authors' code); shorter histories are left padded.</summary>
        [Range(1, 20, Defaults.SequenceLength)]
        public int SequenceLength { get; set; } = Defaults.SequenceLength;

        /// <summary>T, the number of next items each training window predicts (3 in the authors' code).</summary>
        [Range(1, 10, Defaults.TargetLength)]
        public int TargetLength { get; set; } = Defaults.TargetLength;

        /// <summary>The number of filters of each horizontal convolution (heights 1..L; 16 in the paper and the authors' code).</summary>
        [Range(1, 128, Defaults.HorizontalFilters, true)]
        public int HorizontalFilters { get; set; } = Defaults.HorizontalFilters;

        /// <summary>The number of vertical filters (4 in the paper and the authors' code).</summary>
        [Range(1, 64, Defaults.VerticalFilters, true)]
        public int VerticalFilters { get; set; } = Defaults.VerticalFilters;

        /// <summary>The dropout rate of the convolution features before the fully connected layer (0.5).</summary>
        [Range(0.0, 0.9, Defaults.DropoutRate)]
        public double DropoutRate { get; set; } = Defaults.DropoutRate;

        /// <summary>The number of negative items sampled per target item (3 in the authors' code).</summary>
        [Range(1, 20, Defaults.NegativesPerPositive)]
        public int NegativesPerPositive { get; set; } = Defaults.NegativesPerPositive;

        /// <summary>Creates options with the Caser defaults.</summary>
        public Options()
        {
            NumberOfEpochs = Defaults.NumberOfEpochs;
            BatchSize = Defaults.BatchSize;
            LearningRate = Defaults.LearningRate;
            WeightDecay = Defaults.WeightDecay;
        }

        /// <inheritdoc/>
        public override void Validate()
        {
            base.Validate();
            CheckAtLeast(nameof(EmbeddingSize), EmbeddingSize, 1);
            CheckAtLeast(nameof(SequenceLength), SequenceLength, 1);
            CheckAtLeast(nameof(TargetLength), TargetLength, 1);
            CheckAtLeast(nameof(HorizontalFilters), HorizontalFilters, 1);
            CheckAtLeast(nameof(VerticalFilters), VerticalFilters, 1);
            CheckAtLeast(nameof(NegativesPerPositive), NegativesPerPositive, 1);
            if (!(DropoutRate >= 0 && DropoutRate < 1))
                throw new ArgumentOutOfRangeException(nameof(DropoutRate), DropoutRate, "DropoutRate must be at least 0 and less than 1.");
        }
    }
}
