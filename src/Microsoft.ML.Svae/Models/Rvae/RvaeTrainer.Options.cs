using System.Text.Json.Serialization;
using Microsoft.ML.SearchSpace;

namespace Microsoft.ML.Svae;

/// <summary>How RVAE draws the non-preferred items j of its training triples (u, i, j).</summary>
/// <remarks>Serialized by name (<c>"Uniform"</c>, <c>"Popularity"</c>), as the sweep's <see cref="ChoiceAttribute"/> proposes it.</remarks>
[JsonConverter(typeof(JsonStringEnumConverter<RvaeNegativeSampling>))]
public enum RvaeNegativeSampling
{
    /// <summary>Uniformly among the items the user never interacted with (BPR's sampling).</summary>
    Uniform = 0,

    /// <summary>
    /// Among the items the user never interacted with, proportionally to their number of training events (items never
    /// seen in training are never drawn).
    /// </summary>
    Popularity = 1,
}

public sealed partial class RvaeTrainer
{
    /// <summary>
    /// Options of the RVAE trainer: the architecture of section 5.4 of Sachdeva et al. (WSDM 2019), the negative
    /// sampling of the ranking triples, the KL annealing, and the shared training options.
    /// </summary>
    /// <remarks>
    /// Defaults follow section 5.4 (user and item embeddings 128, encoding layers 100 and K = 64); where the paper is
    /// silent, one uniformly drawn negative per positive (as BPR), β annealed as SVAE's (capped at 0.2 after 200,000
    /// updates), Adam with learning rate 1e-2 (the authors' notebook uses 0.05; at 1e-3 training on MovieLens-100K
    /// stays at popularity's level for many epochs), no weight decay, 32 users per batch, at most 50 epochs.
    /// </remarks>
    public sealed class Options : VariationalTrainerOptions
    {
        /// <summary>The size of the user embedding (computed from the history) and of the item embedding (128 in the paper).</summary>
        [Range(8, 1024, Defaults.EmbeddingSize, true)]
        public int EmbeddingSize { get; set; } = Defaults.EmbeddingSize;

        /// <summary>The size of the encoder's tanh layer over the user and item embeddings, the first encoding layer (100 in the paper).</summary>
        [Range(8, 1024, Defaults.EncoderSize, true)]
        public int EncoderSize { get; set; } = Defaults.EncoderSize;

        /// <summary>K, the size of the latent z_{u,i}: the second encoding layer gives its mean and log variance (64 in the paper).</summary>
        [Range(4, 512, Defaults.LatentSize, true)]
        public int LatentSize { get; set; } = Defaults.LatentSize;

        /// <summary>The number of non-preferred items j drawn for each event i of a training history: the triples per event.</summary>
        [Range(1, 32, Defaults.NegativesPerPositive, true)]
        public int NegativesPerPositive { get; set; } = Defaults.NegativesPerPositive;

        /// <summary>How the non-preferred items are drawn (uniformly by default).</summary>
        [Choice(new object[] { nameof(RvaeNegativeSampling.Uniform), nameof(RvaeNegativeSampling.Popularity) }, nameof(RvaeNegativeSampling.Uniform))]
        public RvaeNegativeSampling NegativeSampling { get; set; } = Defaults.NegativeSampling;

        /// <summary>Creates options with the RVAE defaults.</summary>
        public Options()
        {
            NumberOfEpochs = Defaults.NumberOfEpochs;
            LearningRate = Defaults.LearningRate;
        }

        /// <inheritdoc/>
        public override void Validate()
        {
            base.Validate();
            CheckAtLeast(nameof(EmbeddingSize), EmbeddingSize, 1);
            CheckAtLeast(nameof(EncoderSize), EncoderSize, 1);
            CheckAtLeast(nameof(LatentSize), LatentSize, 1);
            CheckAtLeast(nameof(NegativesPerPositive), NegativesPerPositive, 1);
            if (!Enum.IsDefined(NegativeSampling))
                throw new ArgumentOutOfRangeException(nameof(NegativeSampling), NegativeSampling, "NegativeSampling must be Uniform or Popularity.");
        }
    }
}
