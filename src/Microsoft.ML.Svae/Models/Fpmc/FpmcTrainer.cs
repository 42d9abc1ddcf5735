using static TorchSharp.torch;

namespace Microsoft.ML.Svae;

/// <summary>
/// FPMC: the factorised personalised Markov chain of Rendle, Freudenthaler and Schmidt-Thieme (WWW 2010), a
/// competitor of Table 2 of Sachdeva et al. (WSDM 2019), trained with TorchSharp. Reached through
/// <c>mlContext.Recommendation().Trainers.Fpmc(...)</c>.
/// </summary>
/// <remarks>
/// <format type="text/markdown"><![CDATA[
/// ### Input and Output Columns
/// | Column | Type | Description |
/// | -- | -- | -- |
/// | `History` (input) | variable `Vector<Key<UInt32>>` | the user's items in time order (fold-in for held-out users): the last one is the previous item; all are masked from the ranking |
/// | `UserId` (input) | `Key<UInt32>` | the user, whose learned vector scores the items |
/// | `TopItems` | `Vector<Key<UInt32>>` of length K | the K best items the user has not seen, best first |
/// | `TopScores` | `Vector<Single>` of length K | their scores |
/// | `Scores` (optional) | `Vector<Single>` of length N | every item's score, seen items at -∞ |
///
/// ### Protocol: train on the held-out users' fold-in
/// FPMC learns one vector per user, so it can only personalise for users it was trained on. As in section
/// 5.3 of the paper, train on `SequenceDataset.TrainWithHeldOutFoldIn()` — the training users plus the
/// fold-in of every validation and test user, under their own user keys — and evaluate on the held-out
/// users' fold-out only. Validation data for early stopping (`Fit(train, validation)`, or `Options.ValidationSet` inside a pipeline) needs the user
/// column too. A user key of 0, a key above the training data's key count, or a user without training
/// transitions is scored with a zero user vector (by the transition term alone); an empty history has no
/// previous item and is scored by the user term alone.
///
/// ### Trainer Characteristics
/// | | |
/// | -- | -- |
/// | Machine learning task | Recommendation (next item, top-N ranking) |
/// | Is normalization required? | No |
/// | Is caching required? | No |
/// | Required NuGet in addition to Microsoft.ML | Microsoft.ML.Svae, TorchSharp and a libtorch backend (TorchSharp-cpu or a CUDA package) for training; Microsoft.ML.OnnxTransformer + Microsoft.ML.OnnxRuntime for scoring |
/// | Exportable to ONNX | Yes (the fitted model is an ONNX graph) |
///
/// ### Training Algorithm Details
/// `x(u, l, i) = ⟨V_U,I[u], V_I,U[i]⟩ + ⟨V_I,L[i], V_L,I[l]⟩` for the previous item l and the next item i
/// (64 factors). Every pair of consecutive events (l, i) of a training history is a positive transition;
/// each is paired with an item j drawn uniformly among the items the user has not interacted with
/// (seeded), and the loss is `−log σ(x(u, l, i) − x(u, l, j)) + λ·(squared norms of the six factor
/// vectors)`. All the transitions of a batch of users form one optimisation step. Validation NDCG@100
/// selects the best epoch (early stopping with patience). Scoring uses the user and the LAST item of the
/// history.
///
/// ### Deviations from the paper and from the original FPMC
/// * Sequences of single items: each "basket" is one event, so the transition term is a first-order
///   item-to-item chain and the basket average of the original disappears.
/// * Adam on mini-batches of transitions (the shared training loop) instead of SGD on single
///   bootstrap-sampled quadruples; an epoch visits every transition once.
/// * Negatives are drawn among the items the user has not interacted with in the training data (the
///   original excludes only the current basket).
/// * Protocol: as in the paper, the held-out users' fold-in is part of the training data.
///
/// ### References
/// * Rendle, Freudenthaler, Schmidt-Thieme. Factorizing Personalized Markov Chains for Next-Basket Recommendation. WWW 2010.
/// * Sachdeva, Manco, Ritacco, Pudi. Sequential Variational Autoencoders for Collaborative Filtering. WSDM 2019.
/// ]]></format>
/// </remarks>
/// <seealso cref="SequenceRecommendationTrainers.Fpmc(string, string, int, int, double)"/>
/// <seealso cref="SequenceRecommendationTrainers.Fpmc(Options)"/>
public sealed partial class FpmcTrainer : UserKeyedTrainerBase<FpmcTransformer>
{
    /// <summary>The default of every FPMC option that is not a shared default (the options and the catalog read them here).</summary>
    internal static class Defaults
    {
        public const int NumberOfEpochs = FactorizationTrainerDefaults.NumberOfEpochs;
        public const double LearningRate = FactorizationTrainerDefaults.LearningRate;
        public const int EmbeddingSize = FactorizationTrainerDefaults.EmbeddingSize;
    }

    private readonly Options _options;

    internal FpmcTrainer(IHostEnvironment env, Options options)
        : base(env, options, nameof(FpmcTrainer), "FPMC")
    {
        _options = options;
    }

    private protected override IUserKeyedModel CreateUserModel(UserKeyedData data, Device device) => new FpmcModel(data, _options);

    private protected override FpmcTransformer CreateTransformer(RecommendationModelDescription description, byte[] onnxModel, SequenceTrainingResult training)
        => new(Host, description, onnxModel, training);
}

/// <summary>The fitted FPMC model: scores the items for the user of the user column after the history's last item.</summary>
public sealed class FpmcTransformer : UserKeyedRecommendationTransformer
{
    internal FpmcTransformer(IHostEnvironment env, RecommendationModelDescription description, byte[] onnx, SequenceTrainingResult training)
        : base(env, description, onnx, training)
    {
    }
}
