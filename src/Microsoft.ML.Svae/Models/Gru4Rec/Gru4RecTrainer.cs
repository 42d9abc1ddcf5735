using static TorchSharp.torch;

namespace Microsoft.ML.Svae;

/// <summary>
/// GRU4Rec: the session-based recurrent recommender of Hidasi, Karatzoglou, Baltrunas and Tikk, "Session-based
/// Recommendations with Recurrent Neural Networks", ICLR 2016, in the full-softmax cross-entropy form RecBole
/// benchmarks, trained with TorchSharp. Reached through <c>mlContext.Recommendation().Trainers.Gru4Rec(...)</c>.
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
/// | Machine learning task | Recommendation (next item, top-N ranking) |
/// | Is normalization required? | No |
/// | Is caching required? | No |
/// | Required NuGet in addition to Microsoft.ML | Microsoft.ML.Svae, TorchSharp and a libtorch backend for training; Microsoft.ML.OnnxTransformer + Microsoft.ML.OnnxRuntime for scoring |
/// | Exportable to ONNX | Yes (the fitted model is an ONNX graph) |
///
/// ### Training Algorithm Details
/// Item embedding (64) → dropout (0.3) → GRU (128) → dense layer to 64 → dot product with every item's embedding
/// (tied input and output item vectors) → softmax over all items. Every position of every training sequence
/// predicts the next item (full cross-entropy); Adam. Each epoch, validation NDCG@100 selects the best weights
/// (early stopping with patience). A user is scored from the whole history alone (no per-user parameters), so
/// held-out users are scored from their fold-in, as SVAE's are.
///
/// ### Deviations from the paper and from RecBole
/// * The paper's session-parallel mini-batches with sampled (BPR/TOP1) losses are replaced by RecBole's
///   full-softmax cross-entropy, which is what its MovieLens-1M sequential benchmark reports.
/// * Whole user sequences per batch (right-padded, a loss term at every position) instead of one example per
///   prefix truncated to 50 items: the same terms, since the GRU is causal; `MaxHistoryLength` truncates long
///   training histories.
/// * A history with no known item is ranked by training popularity.
///
/// ### References
/// * Hidasi, Karatzoglou, Baltrunas, Tikk. Session-based Recommendations with Recurrent Neural Networks. ICLR 2016.
/// * Zhao et al. RecBole: Towards a Unified, Comprehensive and Efficient Framework for Recommendation Algorithms. CIKM 2021.
/// ]]></format>
/// </remarks>
/// <seealso cref="SequenceRecommendationTrainers.Gru4Rec(string, int, double)"/>
/// <seealso cref="SequenceRecommendationTrainers.Gru4Rec(Options)"/>
public sealed partial class Gru4RecTrainer : SequenceTrainerBase<Gru4RecTransformer>
{
    /// <summary>The default of every GRU4Rec option that is not a shared default (the options and the catalog read them here).</summary>
    /// <remarks>RecBole's <c>GRU4Rec.yaml</c>: embedding 64, hidden 128, dropout 0.3; learning rate 1e-3.</remarks>
    internal static class Defaults
    {
        public const int NumberOfEpochs = 100;
        public const double LearningRate = SequenceTrainerDefaults.LearningRate;
        public const int BatchSize = 16;
        public const int EmbeddingSize = 64;
        public const int RecurrentSize = 128;
        public const double DropoutRate = 0.3;
    }

    private readonly Options _options;

    internal Gru4RecTrainer(IHostEnvironment env, Options options)
        : base(env, options, nameof(Gru4RecTrainer), "GRU4Rec")
    {
        _options = options;
    }

    private protected override ISequenceModel CreateModel(TrainingData data, Device device) => new Gru4RecModel(data.Train, _options, device);

    private protected override Gru4RecTransformer CreateTransformer(RecommendationModelDescription description, byte[] onnxModel, SequenceTrainingResult training)
        => new(Host, description, onnxModel, training, weights: null);

    private protected override Gru4RecTransformer CreateTransformer(RecommendationModelDescription description, ISequenceModel model, SequenceTrainingResult training)
    {
        var weights = ((Gru4RecModel)model).ExportWeights();
        return new(Host, description, Gru4RecOnnxGraph.Write(description, weights), training, weights);
    }
}

/// <summary>The fitted GRU4Rec model: scores a user from the history column alone; <see cref="RecurrentRecommendationTransformer.CreateIncrementalModel"/> gives its one-event-at-a-time serving model.</summary>
public sealed class Gru4RecTransformer : RecurrentRecommendationTransformer
{
    internal Gru4RecTransformer(IHostEnvironment env, RecommendationModelDescription description, byte[] onnx, SequenceTrainingResult training,
        Gru4RecWeights? weights)
        : base(env, description, onnx, training, weights?.Gru.Hidden,
            weights is null ? null : () => Gru4RecOnnxGraph.WriteIncremental(description, weights), "GRU4Rec", "Gru4Rec")
    {
    }
}
