using static TorchSharp.torch;

namespace Microsoft.ML.Svae;

/// <summary>
/// Caser: the convolutional sequence embedding recommender of Tang and Wang (WSDM 2018), the CASER competitor
/// of Table 2 of Sachdeva et al. (WSDM 2019), trained with TorchSharp. Reached through
/// <c>mlContext.Recommendation().Trainers.Caser(...)</c>.
/// </summary>
/// <remarks>
/// <format type="text/markdown"><![CDATA[
/// ### Input and Output Columns
/// | Column | Type | Description |
/// | -- | -- | -- |
/// | `History` (input) | variable `Vector<Key<UInt32>>` | the user's items in time order (fold-in for held-out users): the last L feed the convolutions; all are masked from the ranking |
/// | `UserId` (input) | `Key<UInt32>` | the user, whose learned embedding joins the sequence features |
/// | `TopItems` | `Vector<Key<UInt32>>` of length K | the K best items the user has not seen, best first |
/// | `TopScores` | `Vector<Single>` of length K | their logits |
/// | `Scores` (optional) | `Vector<Single>` of length N | every item's logit, seen items at -∞ |
///
/// ### Protocol: train on the held-out users' fold-in
/// Caser learns one embedding per user. As in section 5.3 of the paper, train on
/// `SequenceDataset.TrainWithHeldOutFoldIn()` — the training users plus the fold-in of every validation
/// and test user, under their own user keys — and evaluate on the held-out users' fold-out only.
/// Validation data for early stopping (`Fit(train, validation)`, or `Options.ValidationSet` inside a pipeline) needs the user column too. A user key
/// of 0, a key above the training data's key count, or a user without training windows is scored with a
/// zero user embedding. A history with fewer than L items is left padded with a learned padding item
/// (an empty history is all padding).
///
/// ### Trainer Characteristics
/// | | |
/// | -- | -- |
/// | Machine learning task | Recommendation (next items, top-N ranking) |
/// | Is normalization required? | No |
/// | Is caching required? | No |
/// | Required NuGet in addition to Microsoft.ML | Microsoft.ML.Svae, TorchSharp and a libtorch backend (TorchSharp-cpu or a CUDA package) for training; Microsoft.ML.OnnxTransformer + Microsoft.ML.OnnxRuntime for scoring |
/// | Exportable to ONNX | Yes (the fitted model is an ONNX graph) |
///
/// ### Training Algorithm Details
/// The embeddings (d = 50) of the last L = 5 items form an L × d image. 16 horizontal filters of each
/// height 1..L (ReLU, max-pooling over time) and 4 vertical filters (L × 1) are concatenated, dropped
/// out (0.5) and mapped to d with a ReLU layer; with the user embedding this gives x (2d), and item i
/// scores `⟨W2_i, x⟩ + b2_i`. Training windows slide over each history: L previous items → the next
/// T = 3 items, each target with 3 negatives drawn uniformly among the items the user has not
/// interacted with (seeded); the loss is the binary cross-entropy of the authors' code (mean
/// `−log σ` of the targets plus mean `−log(1 − σ)` of the negatives, per window). Adam, learning rate
/// 1e-3, L2 1e-6. Validation NDCG@100 selects the best epoch (early stopping with patience).
///
/// ### Deviations from the paper and from the authors' public code
/// * Mini-batches are groups of users (all their windows), through the shared training loop; the
///   authors shuffle windows in batches of 512. Negatives are drawn for every step instead of once per
///   epoch.
/// * A history shorter than L + T gives one window whose targets are its last min(T, n − 1) items; the
///   authors pad the whole window, so that the padding item can become a target.
/// * The padding item (left padding of short windows) has its own learned embedding row but no output
///   row: it is never scored.
/// * Scoring reads the user's whole fold-in (its last L items); validation-based early stopping on
///   NDCG@100 replaces the fixed 50 epochs (50 is the maximum).
/// * Protocol: as in the paper, the held-out users' fold-in is part of the training data.
///
/// ### References
/// * Tang, Wang. Personalized Top-N Sequential Recommendation via Convolutional Sequence Embedding. WSDM 2018.
/// * Sachdeva, Manco, Ritacco, Pudi. Sequential Variational Autoencoders for Collaborative Filtering. WSDM 2019.
/// ]]></format>
/// </remarks>
/// <seealso cref="SequenceRecommendationTrainers.Caser(string, string, int, int, int, double)"/>
/// <seealso cref="SequenceRecommendationTrainers.Caser(Options)"/>
public sealed partial class CaserTrainer : UserKeyedTrainerBase<CaserTransformer>
{
    /// <summary>The default of every Caser option that is not a shared default (the options and the catalog read them here).</summary>
    internal static class Defaults
    {
        public const int NumberOfEpochs = 50;
        public const int BatchSize = 8;
        public const double LearningRate = 1e-3;
        public const double WeightDecay = 1e-6;
        public const int EmbeddingSize = 50;
        public const int SequenceLength = 5;
        public const int TargetLength = 3;
        public const int HorizontalFilters = 16;
        public const int VerticalFilters = 4;
        public const double DropoutRate = 0.5;
        public const int NegativesPerPositive = 3;
    }

    private readonly Options _options;

    internal CaserTrainer(IHostEnvironment env, Options options)
        : base(env, options, nameof(CaserTrainer), "Caser")
    {
        _options = options;
    }

    private protected override IUserKeyedModel CreateUserModel(UserKeyedData data, Device device) => new CaserModel(data, _options, device);

    private protected override CaserTransformer CreateTransformer(RecommendationModelDescription description, byte[] onnxModel, SequenceTrainingResult training)
        => new(Host, description, onnxModel, training);
}

/// <summary>The fitted Caser model: scores the items for the user of the user column from the history's last L items.</summary>
public sealed class CaserTransformer : UserKeyedRecommendationTransformer
{
    internal CaserTransformer(IHostEnvironment env, RecommendationModelDescription description, byte[] onnx, SequenceTrainingResult training)
        : base(env, description, onnx, training)
    {
    }
}
