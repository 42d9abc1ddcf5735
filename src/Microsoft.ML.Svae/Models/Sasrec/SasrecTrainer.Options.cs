using System.Text.Json.Serialization;
using Microsoft.ML.SearchSpace;

namespace Microsoft.ML.Svae;

/// <summary>The loss of a next-item model (SASRec).</summary>
/// <remarks>Serialized by name (<c>"CrossEntropy"</c>, <c>"SampledBinaryCrossEntropy"</c>), as the sweep's <see cref="ChoiceAttribute"/> proposes it.</remarks>
[JsonConverter(typeof(JsonStringEnumConverter<NextItemLoss>))]
public enum NextItemLoss
{
    /// <summary>Softmax cross-entropy of the next item over all items (Klenitskiy and Vasilev, RecSys 2023).</summary>
    CrossEntropy = 0,

    /// <summary>
    /// Binary cross-entropy of the next item against <c>NegativesPerPositive</c> items the user never interacted
    /// with, drawn uniformly (Kang and McAuley, ICDM 2018).
    /// </summary>
    SampledBinaryCrossEntropy = 1,
}

public sealed partial class SasrecTrainer
{
    /// <summary>
    /// Options of the SASRec trainer: the architecture of Kang and McAuley (ICDM 2018), the loss, and the shared
    /// training options.
    /// </summary>
    /// <remarks>
    /// Defaults are the paper's MovieLens-1M setting (d = 50, 2 blocks, 1 head, dropout 0.2, n = 200 most recent
    /// items, 128 users per step, Adam at 1e-3), with the full cross-entropy loss.
    /// </remarks>
    public sealed class Options : SequenceTrainerOptions
    {
        /// <summary>d, the size of the item and positional embeddings and of every block (50 in the paper); a multiple of <see cref="NumberOfHeads"/>.</summary>
        [Range(8, 1024, Defaults.EmbeddingSize, true)]
        public int EmbeddingSize { get; set; } = Defaults.EmbeddingSize;

        /// <summary>The number of self-attention blocks (2 in the paper).</summary>
        [Range(1, 8, Defaults.NumberOfBlocks, true)]
        public int NumberOfBlocks { get; set; } = Defaults.NumberOfBlocks;

        /// <summary>The number of attention heads (1 in the paper).</summary>
        [Range(1, 8, Defaults.NumberOfHeads, true)]
        public int NumberOfHeads { get; set; } = Defaults.NumberOfHeads;

        /// <summary>The dropout rate of the embeddings, the attention weights and the feed-forward layers, during training only (0.2 on MovieLens-1M in the paper).</summary>
        [Range(0.0, 0.8, Defaults.DropoutRate)]
        public double DropoutRate { get; set; } = Defaults.DropoutRate;

        /// <summary>The loss: full cross-entropy (default) or the paper's sampled binary cross-entropy.</summary>
        [Choice(new object[] { nameof(NextItemLoss.CrossEntropy), nameof(NextItemLoss.SampledBinaryCrossEntropy) }, nameof(NextItemLoss.CrossEntropy))]
        public NextItemLoss Loss { get; set; } = Defaults.Loss;

        /// <summary>Sampled negative items per next item, with <see cref="NextItemLoss.SampledBinaryCrossEntropy"/> only (1 in the paper).</summary>
        [Range(1, 100, Defaults.NegativesPerPositive, true)]
        public int NegativesPerPositive { get; set; } = Defaults.NegativesPerPositive;

        /// <summary>Creates options with the SASRec defaults.</summary>
        /// <remarks>
        /// <see cref="SequenceTrainerOptions.MaxHistoryLength"/> is n = 200, the number of positional embeddings: SASRec
        /// trains on, and scores from, each user's most recent n items, so it cannot be null.
        /// </remarks>
        public Options()
        {
            NumberOfEpochs = Defaults.NumberOfEpochs;
            LearningRate = Defaults.LearningRate;
            BatchSize = Defaults.BatchSize;
            MaxHistoryLength = Defaults.MaxHistoryLength;
        }

        /// <inheritdoc/>
        public override void Validate()
        {
            base.Validate();
            if (MaxHistoryLength is null)
                throw new ArgumentOutOfRangeException(nameof(MaxHistoryLength), MaxHistoryLength,
                    "SASRec needs MaxHistoryLength, the number of positional embeddings (the most recent items it reads); it cannot be null.");
            CheckInRange(nameof(DropoutRate), DropoutRate, 0, 0.95);
            CheckAtLeast(nameof(EmbeddingSize), EmbeddingSize, 1);
            CheckAtLeast(nameof(NumberOfBlocks), NumberOfBlocks, 1);
            CheckAtLeast(nameof(NumberOfHeads), NumberOfHeads, 1);
            CheckAtLeast(nameof(NegativesPerPositive), NegativesPerPositive, 1);
            if (EmbeddingSize % NumberOfHeads != 0)
                throw new ArgumentOutOfRangeException(nameof(NumberOfHeads), NumberOfHeads,
                    $"EmbeddingSize ({EmbeddingSize}) must be a multiple of NumberOfHeads ({NumberOfHeads}).");
            if (!Enum.IsDefined(Loss))
                throw new ArgumentOutOfRangeException(nameof(Loss), Loss, "Loss must be CrossEntropy or SampledBinaryCrossEntropy.");
        }
    }
}
