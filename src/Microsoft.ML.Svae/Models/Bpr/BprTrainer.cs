using static TorchSharp.torch;

namespace Microsoft.ML.Svae;

/// <summary>
/// BPR: matrix factorisation trained with Bayesian Personalized Ranking (Rendle, Freudenthaler, Gantner and
/// Schmidt-Thieme, UAI 2009), the BPR* competitor of Table 2 of Sachdeva et al. (WSDM 2019), trained with
/// TorchSharp. Reached through <c>mlContext.Recommendation().Trainers.Bpr(...)</c>.
/// </summary>
/// <remarks>
/// <format type="text/markdown"><![CDATA[
/// ### Input and Output Columns
/// | Column | Type | Description |
/// | -- | -- | -- |
/// | `History` (input) | variable `Vector<Key<UInt32>>` | the user's items (fold-in for held-out users); masked from the ranking |
/// | `UserId` (input) | `Key<UInt32>` | the user, whose learned vector scores the items |
/// | `TopItems` | `Vector<Key<UInt32>>` of length K | the K best items the user has not seen, best first |
/// | `TopScores` | `Vector<Single>` of length K | their scores |
/// | `Scores` (optional) | `Vector<Single>` of length N | every item's score, seen items at -∞ |
///
/// ### Protocol: train on the held-out users' fold-in (BPR*)
/// BPR learns one vector per user, so it can only rank items for users it was trained on. As in section
/// 5.3 of the paper (BPR*), train on `SequenceDataset.TrainWithHeldOutFoldIn()` — the training users plus
/// the fold-in of every validation and test user, under their own user keys — and evaluate on the
/// held-out users' fold-out only. Validation data for early stopping (`Fit(train, validation)`, or `Options.ValidationSet` inside a pipeline) needs
/// the user column too. A user key of 0, a key above the training data's key count, or a user without
/// training events is scored with a zero user vector (by the item bias alone).
///
/// ### Trainer Characteristics
/// | | |
/// | -- | -- |
/// | Machine learning task | Recommendation (top-N ranking) |
/// | Is normalization required? | No |
/// | Is caching required? | No |
/// | Required NuGet in addition to Microsoft.ML | Microsoft.ML.Svae, TorchSharp and a libtorch backend (TorchSharp-cpu or a CUDA package) for training; Microsoft.ML.OnnxTransformer + Microsoft.ML.OnnxRuntime for scoring |
/// | Exportable to ONNX | Yes (the fitted model is an ONNX graph) |
///
/// ### Training Algorithm Details
/// Score `x_ui = ⟨W_u, H_i⟩ + b_i` (64 factors). Every (user, item) event of the training histories is a
/// positive pair; each is paired with an item j drawn uniformly among the items the user has not
/// interacted with (seeded), and the loss is BPR-Opt's `−log σ(x_ui − x_uj) + λ(‖W_u‖² + ‖H_i‖² + ‖H_j‖² + b_i² + b_j²)`.
/// All the events of a batch of users form one optimisation step (thousands of pairs); each epoch
/// visits every event once with a fresh negative. Validation NDCG@100 selects the best epoch (early
/// stopping with patience). Scoring ignores the order of the history and only masks its items.
///
/// ### Deviations from the paper and from the original BPR
/// * Adam on mini-batches of pairs (the shared training loop) instead of SGD on single bootstrap-sampled
///   triples; an epoch visits every positive pair once instead of drawing pairs with replacement.
/// * An item bias, on by default (`UseItemBias`); the original BPR-MF has none. It ranks unknown users.
/// * Negatives are drawn among the items the user has not interacted with in the training data.
/// * Protocol: as in the paper, the held-out users' fold-in is part of the training data (BPR*).
///
/// ### References
/// * Rendle, Freudenthaler, Gantner, Schmidt-Thieme. BPR: Bayesian Personalized Ranking from Implicit Feedback. UAI 2009.
/// * Sachdeva, Manco, Ritacco, Pudi. Sequential Variational Autoencoders for Collaborative Filtering. WSDM 2019.
/// ]]></format>
/// </remarks>
/// <seealso cref="SequenceRecommendationTrainers.Bpr(string, string, int, int, double)"/>
/// <seealso cref="SequenceRecommendationTrainers.Bpr(Options)"/>
public sealed partial class BprTrainer : UserKeyedTrainerBase<BprTransformer>
{
    /// <summary>The default of every BPR option that is not a shared default (the options and the catalog read them here).</summary>
    internal static class Defaults
    {
        public const int NumberOfEpochs = FactorizationTrainerDefaults.NumberOfEpochs;
        public const double LearningRate = FactorizationTrainerDefaults.LearningRate;
        public const int EmbeddingSize = FactorizationTrainerDefaults.EmbeddingSize;
        public const bool UseItemBias = true;
    }

    private readonly Options _options;

    internal BprTrainer(IHostEnvironment env, Options options)
        : base(env, options, nameof(BprTrainer), "BPR")
    {
        _options = options;
    }

    private protected override IUserKeyedModel CreateUserModel(UserKeyedData data, Device device) => new BprModel(data, _options);

    private protected override BprTransformer CreateTransformer(RecommendationModelDescription description, byte[] onnxModel, SequenceTrainingResult training)
        => new(Host, description, onnxModel, training);
}

/// <summary>The fitted BPR model: scores the items for the user of the user column, masking the history.</summary>
public sealed class BprTransformer : UserKeyedRecommendationTransformer
{
    internal BprTransformer(IHostEnvironment env, RecommendationModelDescription description, byte[] onnx, SequenceTrainingResult training)
        : base(env, description, onnx, training)
    {
    }
}
