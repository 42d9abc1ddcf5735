using static TorchSharp.torch;

namespace Microsoft.ML.Svae;

/// <summary>
/// SASRec: the self-attentive sequential recommender of Kang and McAuley, "Self-Attentive Sequential
/// Recommendation", ICDM 2018, trained with TorchSharp (by default with the full cross-entropy over all items of
/// Klenitskiy and Vasilev, RecSys 2023). Reached through <c>mlContext.Recommendation().Trainers.Sasrec(...)</c>.
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
/// The most recent `MaxHistoryLength` (200) items: item embedding (d = 50) · √d plus a learned positional embedding →
/// dropout → 2 blocks of [layer norm → causal self-attention (1 head) → residual → layer norm → point-wise
/// feed-forward (ReLU) → residual] → layer norm → dot product with every item's embedding. Every position of every
/// training sequence predicts the next item; Adam. Each epoch, validation NDCG@100 selects the best weights. A user
/// is scored from the history alone, so held-out users are scored from their fold-in, as SVAE's are.
///
/// ### Deviations from the paper
/// * Full cross-entropy over all items by default (`Loss = CrossEntropy`); the paper's binary cross-entropy with one
///   sampled negative per position is `Loss = SampledBinaryCrossEntropy`.
/// * Right-padded sequences with positions counted from the first item of the window (the paper left-pads to n, so
///   its positions count back from the last item); the causal mask makes padding irrelevant either way.
/// * The attention has an output projection, as PyTorch's multi-head attention (the PyTorch port's).
/// * A history with no known item is ranked by training popularity.
///
/// ### References
/// * Kang, McAuley. Self-Attentive Sequential Recommendation. ICDM 2018.
/// * Klenitskiy, Vasilev. Turning Dross Into Gold Loss: is BERT4Rec really better than SASRec? RecSys 2023.
/// ]]></format>
/// </remarks>
/// <seealso cref="SequenceRecommendationTrainers.Sasrec(string, int, int, double)"/>
/// <seealso cref="SequenceRecommendationTrainers.Sasrec(Options)"/>
public sealed partial class SasrecTrainer : SequenceTrainerBase<SasrecTransformer>
{
    /// <summary>The default of every SASRec option that is not a shared default (the options and the catalog read them here).</summary>
    /// <remarks>Kang and McAuley's MovieLens-1M setting: d = 50, 2 blocks, 1 head, dropout 0.2, n = 200, batch 128, Adam at 1e-3.</remarks>
    internal static class Defaults
    {
        public const int NumberOfEpochs = 200;
        public const double LearningRate = SequenceTrainerDefaults.LearningRate;
        public const int BatchSize = 128;
        public const int MaxHistoryLength = 200;
        public const int EmbeddingSize = 50;
        public const int NumberOfBlocks = 2;
        public const int NumberOfHeads = 1;
        public const double DropoutRate = 0.2;
        public const NextItemLoss Loss = NextItemLoss.CrossEntropy;
        public const int NegativesPerPositive = 1;
    }

    private readonly Options _options;

    internal SasrecTrainer(IHostEnvironment env, Options options)
        : base(env, options, nameof(SasrecTrainer), "SASRec")
    {
        _options = options;
    }

    private protected override ISequenceModel CreateModel(TrainingData data, Device device) => new SasrecModel(data.Train, _options, device);

    private protected override SasrecTransformer CreateTransformer(RecommendationModelDescription description, byte[] onnxModel, SequenceTrainingResult training)
        => new(Host, description, onnxModel, training);
}

/// <summary>The fitted SASRec model: scores a user from the history column alone.</summary>
public sealed class SasrecTransformer : TrainedRecommendationTransformer
{
    internal SasrecTransformer(IHostEnvironment env, RecommendationModelDescription description, byte[] onnx, SequenceTrainingResult training)
        : base(env, description, onnx, training)
    {
    }
}
