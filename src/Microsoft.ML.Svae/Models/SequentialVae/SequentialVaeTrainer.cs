using static TorchSharp.torch;

namespace Microsoft.ML.Svae;

/// <summary>
/// The four sequential variational autoencoders of section 4.3.2 and fig. 2 of Sachdeva, Manco, Ritacco and Pudi,
/// "Sequential Variational Autoencoders for Collaborative Filtering" (WSDM 2019), which the paper lays out and leaves
/// to future work, trained with TorchSharp with SVAE's sizes and next-k likelihood. Reached through
/// <c>mlContext.Recommendation().Trainers.SequentialVae(...)</c>; the options' <c>Variant</c> picks the model.
/// </summary>
/// <remarks>
/// <format type="text/markdown"><![CDATA[
/// ### Input and Output Columns
/// | Column | Type | Description |
/// | -- | -- | -- |
/// | `History` (input) | variable `Vector<Key<UInt32>>` | the user's items in time order (fold-in for held-out users) |
/// | `TopItems` | `Vector<Key<UInt32>>` of length K | the K best items the user has not seen, best first |
/// | `TopScores` | `Vector<Single>` of length K | their logits |
/// | `Scores` (optional) | `Vector<Single>` of length N | every item's logit, seen items at -∞ |
///
/// Validation data for early stopping (`Fit(train, validation)`, or `Options.ValidationSet` inside a pipeline): the
/// history column holds the held-out users' fold-in and `FoldOut` their fold-out.
///
/// ### Trainer Characteristics
/// | | |
/// | -- | -- |
/// | Machine learning task | Recommendation (next items, top-N ranking) |
/// | Is normalization required? | No |
/// | Is caching required? | No |
/// | Required NuGet in addition to Microsoft.ML | Microsoft.ML.Svae, TorchSharp and a libtorch backend for training; Microsoft.ML.OnnxTransformer + Microsoft.ML.OnnxRuntime for scoring |
/// | Exportable to ONNX | Yes (the fitted model is an ONNX graph) |
///
/// ### The variants (0-based: the state after items 0..s explains items s+1..s+k, SVAE's indexing)
/// | `Variant` | Fig. | Generative model | Approximate posterior | Scoring (history alone) |
/// | -- | -- | -- | -- | -- |
/// | `GlobalLatent` | 2a | z ~ N(0, I) per user; h_s = GRU(h_{s−1}, x_s); next items ~ f([z, h_s]) | q(z \| x) from the GRU state after the user's last item | z = μ(h_last); f([μ, h_last]) |
/// | `LatentInRecurrence` | 2b (VRNN) | z_s ~ p(z_s \| h_{s−1}); h_s = GRU(h_{s−1}, [x_s, z_s]); next items ~ f(h_s) | q(z_s \| x_s, h_{s−1}) | z_s = posterior mean in the recurrence; f(h_last) |
/// | `LearnedPrior` | 2c | h_s = GRU(h_{s−1}, x_s); z_{s+1} ~ p(z_{s+1} \| h_s), learned; next items ~ f(z_{s+1}) | q(z_{s+1} \| h_{s+1}) | z = prior mean μ_p(h_last); f(μ_p) |
/// | `GlobalRecurrence` | 2d (SRNN) | h_s = GRU(h_{s−1}, [x_s, z_s]); z_{s+1} ~ p(z_{s+1} \| h_s); next items ~ f([z_{s+1}, h_s]) | q(z_{s+1} \| h_s, a_{s+1}), a a backward GRU over items s+1.. (SRNN's smoother, residual mean) | z_s = posterior mean over the history; z = μ_p(h_last); f([μ_p, h_last]) |
///
/// Every Gaussian is diagonal, parameterised by μ and log σ² from a perceptron `Linear → tanh (EncoderSize) → Linear (2K)`;
/// f is `Linear → tanh (DecoderSize) → Linear (N)` followed by a softmax over all items. The loss is SVAE's: for each state
/// s = 0..L−2, minus the mean log-probability of the next k items (eq. 4.9), plus β times the KL terms of the variant
/// (KL(q ‖ N(0, I)) once per user for 2a; KL(q ‖ p) of two Gaussians per unit otherwise), summed over the batch and
/// divided by the expected units of a full batch. Adam, β annealed linearly to its cap, validation NDCG@100 selects the
/// best epoch (early stopping with patience). A history with no known item is ranked by training popularity.
///
/// ### Choices where the paper is silent, and deviations
/// * Sizes are SVAE's (embedding 256, GRU 200, tanh layers 150, K = 64, k = 4, embedding dropout 0.2) and the shared
///   training defaults are SVAE's (8 users per step, Adam at 1e-3, no weight decay); none was tuned per variant.
/// * 2a: the paper does not say how z is inferred; it is a Gaussian perceptron of the same GRU's last state (in
///   training the whole sequence, so z also sees the items it explains, as MVAE's z does).
/// * 2b: the VRNN's prior and posterior forms (from h_{s−1}, and from x_s with h_{s−1}) with the paper's likelihood
///   f(h_s) of the next items, where the VRNN decodes x_s from [z_s, h_{s−1}]; φ_x is the item embedding, φ_z the identity.
/// * 2c: the paper leaves the posterior open; it reads the state after the first predicted item (filtering).
/// * 2d: the recurrence is the paper's (z feeds the GRU, eq. 4.8) rather than SRNN's deterministic layer below a
///   separate stochastic chain; the posterior is SRNN's backward smoother with its residual mean; the first item has
///   no latent variable (z_0 = 0).
/// * Only the multi-set next-k likelihood (eq. 4.9); SVAE's mixture (eq. 4.10) is not offered here.
/// * β: annealed over 2,000 updates (`KlAnnealingSteps`) instead of SVAE's 200,000, capped at 0.2. 2b, 2c and 2d learn
///   their prior only through the KL term and score with it (2c, 2d) or with a posterior trained against it (2b).
/// * 2b and 2d run one GRU-cell step per position in training (z feeds the recurrence), so they train slower than SVAE
///   on long histories; `MaxHistoryLength` bounds it.
///
/// ### References
/// * Sachdeva, Manco, Ritacco, Pudi. Sequential Variational Autoencoders for Collaborative Filtering. WSDM 2019.
/// * Chung, Kastner, Dinh, Goel, Courville, Bengio. A Recurrent Latent Variable Model for Sequential Data. NIPS 2015.
/// * Fraccaro, Sønderby, Paquet, Winther. Sequential Neural Models with Stochastic Layers. NIPS 2016.
/// ]]></format>
/// </remarks>
/// <seealso cref="SequenceRecommendationTrainers.SequentialVae(SequentialVaeVariant, string, int, double)"/>
/// <seealso cref="SequenceRecommendationTrainers.SequentialVae(Options)"/>
public sealed partial class SequentialVaeTrainer : SequenceTrainerBase<SequentialVaeTransformer>
{
    /// <summary>The default of every option that is not a shared default (the options and the catalog read them here).</summary>
    internal static class Defaults
    {
        public const SequentialVaeVariant Variant = SequentialVaeVariant.GlobalLatent;
        public const int NumberOfEpochs = SequenceTrainerDefaults.NumberOfEpochs;
        public const double LearningRate = SequenceTrainerDefaults.LearningRate;
        public const int BatchSize = 8;
        public const double WeightDecay = 0;
        public const int KlAnnealingSteps = 2_000;
        public const int EmbeddingSize = 256;
        public const int RecurrentSize = 200;
        public const int EncoderSize = 150;
        public const int LatentSize = 64;
        public const int DecoderSize = 150;
        public const int NextK = 4;
        public const double DropoutRate = 0.2;
    }

    private readonly Options _options;

    internal SequentialVaeTrainer(IHostEnvironment env, Options options)
        : base(env, options, nameof(SequentialVaeTrainer), ModelNameOf(options))
    {
        _options = options;
    }

    /// <summary>
    /// The name of a variant's model in descriptions, logs, checkpoints and the CLI: <c>SeqVAE-</c> and the variant
    /// (e.g. <c>SeqVAE-LearnedPrior</c>).
    /// </summary>
    public static string ModelNameOf(SequentialVaeVariant variant) => "SeqVAE-" + variant;

    private static string ModelNameOf(Options options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return ModelNameOf(options.Variant);
    }

    private protected override ISequenceModel CreateModel(TrainingData data, Device device) => new SequentialVaeModel(data.Train, _options, device);

    private protected override SequentialVaeTransformer CreateTransformer(RecommendationModelDescription description, byte[] onnxModel, SequenceTrainingResult training)
        => new(Host, description, onnxModel, training);
}

/// <summary>A fitted sequential VAE (any variant): scores a user from the history column alone.</summary>
public sealed class SequentialVaeTransformer : TrainedRecommendationTransformer
{
    internal SequentialVaeTransformer(IHostEnvironment env, RecommendationModelDescription description, byte[] onnx, SequenceTrainingResult training)
        : base(env, description, onnx, training)
    {
    }
}
