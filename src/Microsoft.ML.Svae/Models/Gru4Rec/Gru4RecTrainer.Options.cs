using Microsoft.ML.SearchSpace;

namespace Microsoft.ML.Svae;

public sealed partial class Gru4RecTrainer
{
    /// <summary>
    /// Options of the GRU4Rec trainer: the network's sizes and dropout, and the shared training options.
    /// </summary>
    /// <remarks>
    /// Defaults follow RecBole's GRU4Rec configuration (embedding 64, GRU 128, embedding dropout 0.3, Adam at 1e-3,
    /// full cross-entropy), the setting of its MovieLens-1M sequential benchmark.
    /// </remarks>
    public sealed class Options : SequenceTrainerOptions
    {
        /// <summary>The size of an item's embedding, used both as the GRU's input and as the item's output vector (64 in RecBole).</summary>
        [Range(8, 1024, Defaults.EmbeddingSize, true)]
        public int EmbeddingSize { get; set; } = Defaults.EmbeddingSize;

        /// <summary>The size of the GRU's hidden state (128 in RecBole).</summary>
        [Range(8, 1024, Defaults.RecurrentSize, true)]
        public int RecurrentSize { get; set; } = Defaults.RecurrentSize;

        /// <summary>The dropout rate of the item embeddings that feed the GRU, during training only (0.3 in RecBole).</summary>
        [Range(0.0, 0.8, Defaults.DropoutRate)]
        public double DropoutRate { get; set; } = Defaults.DropoutRate;

        /// <summary>Creates options with the GRU4Rec defaults.</summary>
        /// <remarks>
        /// <see cref="SequenceTrainerOptions.BatchSize"/> is 16 users per step: RecBole's 2,048 examples per step are
        /// prefixes, and a user contributes a loss term at every position here.
        /// </remarks>
        public Options()
        {
            NumberOfEpochs = Defaults.NumberOfEpochs;
            LearningRate = Defaults.LearningRate;
            BatchSize = Defaults.BatchSize;
        }

        /// <inheritdoc/>
        public override void Validate()
        {
            base.Validate();
            CheckInRange(nameof(DropoutRate), DropoutRate, 0, 0.95);
            CheckAtLeast(nameof(EmbeddingSize), EmbeddingSize, 1);
            CheckAtLeast(nameof(RecurrentSize), RecurrentSize, 1);
        }
    }
}
