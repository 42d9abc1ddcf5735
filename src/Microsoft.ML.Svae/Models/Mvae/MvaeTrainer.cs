using static TorchSharp.torch;

namespace Microsoft.ML.Svae;

/// <summary>
/// MVAE: the multinomial variational autoencoder of Liang, Krishnan, Hoffman and Jebara, "Variational Autoencoders
/// for Collaborative Filtering", WWW 2018, the non-sequential reference model of section 4.1 of Sachdeva et al.,
/// "Sequential Variational Autoencoders for Collaborative Filtering", WSDM 2019 (eq. 4.1), trained with TorchSharp.
/// Reached through <c>mlContext.Recommendation().Trainers.Mvae(...)</c>.
/// </summary>
/// <remarks>
/// <format type="text/markdown"><![CDATA[
/// ### Input and Output Columns
/// | Column | Type | Description |
/// | -- | -- | -- |
/// | `History` (input) | variable `Vector<Key<UInt32>>` | the user's items, order ignored (fold-in for held-out users) |
/// | `TopItems` | `Vector<Key<UInt32>>` of length K | the K best items the user has not seen, best first |
/// | `TopScores` | `Vector<Single>` of length K | their logits |
/// | `Scores` (optional) | `Vector<Single>` of length N | every item's logit, seen items at -∞ |
///
/// Validation data for early stopping (`Fit(train, validation)`, or `Options.ValidationSet` inside a pipeline): the history column holds the held-out users'
/// fold-in and `FoldOut` their fold-out. Whether the fold-out follows the fold-in in time (Table 2's MVAE row) or is
/// drawn at random from the history (MVAE*, Liang et al.'s protocol) is decided by the data step
/// (`SequenceProtocolOptions.FoldSplit`), not by the trainer.
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
/// The binary multi-hot history x_u (N items) is L2-normalized, dropped out (rate 0.5, training only) and encoded by
/// a tanh layer (600) and a linear layer to 2K values (K = 200: mean μ and log variance log σ²); z = μ + σ·ε is
/// decoded by a tanh layer (600) and a linear layer to N item logits, π(z) = softmax. The loss of a user is
/// `β·KL(q(z_u | x_u) ‖ N(0, I)) − Σ_i x_ui log π_i(z_u)`, averaged over the users of a batch; β grows linearly with
/// the number of updates and is capped (0.2 after 200,000 updates by default). Adam, 500 users per batch. Each
/// epoch, validation NDCG@100 selects the best weights (early stopping with patience).
///
/// Scoring encodes the whole history with z = μ and no dropout, and ranks the unseen items by their logits. An empty
/// history (or one of unknown items only) is scored from the zero input.
///
/// This follows Liang et al.'s reference code (`dawenl/vae_cf`, `VAE_ML20M_WWW2018.ipynb`), which the SVAE authors
/// used with its default settings.
///
/// ### Deviations from Liang et al.'s code
/// * Batches come from the shared batcher: users are shuffled, then grouped by history length within pools of 50
///   batches; Liang draws plain random batches. A batch's loss sum is divided by `BatchSize`, so the last, smaller
///   batch of an epoch weighs less than in Liang's per-batch mean.
/// * Early stopping: training also stops after `EarlyStoppingPatience` epochs without a better validation NDCG
///   (Liang runs all 200 epochs and keeps the best; set `EarlyStoppingPatience = 0` to do the same).
/// * L2 penalty: `WeightDecay` (default 0, as Liang's Mult-VAE run with `lam=0.0`) is Adam's coupled weight decay on
///   every parameter, biases included; Liang's `lam` penalizes the weight matrices only (`WeightDecay = 2·lam`).
/// * Repeated events of an item count once (binary multi-hot), as in Liang's binarized click matrix.
/// * The normalization divides by `max(‖x‖₂, 1e-12)` (TensorFlow: `sqrt(max(‖x‖₂², 1e-12))`); both are identical on
///   a non-empty binary history and leave an empty one at zero.
/// * Random numbers (initialization, dropout masks, ε) come from seeded TorchSharp generators, so the numbers of
///   Liang's TensorFlow runs are not reproduced; the distributions are the same (Xavier-uniform weights, biases
///   from a normal of standard deviation 0.001 truncated at two standard deviations).
/// * `MaxHistoryLength` can keep only the most recent events of a training user (default: all).
///
/// ### References
/// * Liang, Krishnan, Hoffman, Jebara. Variational Autoencoders for Collaborative Filtering. WWW 2018.
/// * Sachdeva, Manco, Ritacco, Pudi. Sequential Variational Autoencoders for Collaborative Filtering. WSDM 2019.
/// ]]></format>
/// </remarks>
/// <seealso cref="SequenceRecommendationTrainers.Mvae(string, int, double)"/>
/// <seealso cref="SequenceRecommendationTrainers.Mvae(Options)"/>
public sealed partial class MvaeTrainer : SequenceTrainerBase<MvaeTransformer>
{
    /// <summary>The default of every MVAE option that is not a shared default (Liang et al.'s; the options and the catalog read them here).</summary>
    internal static class Defaults
    {
        public const int NumberOfEpochs = 200;
        public const double LearningRate = 1e-3;
        public const int BatchSize = 500;
        public const double WeightDecay = 0;
        public const int MaxPositionsPerBatch = int.MaxValue;
        public const int EarlyStoppingPatience = 0;
        public const int EncoderSize = 600;
        public const int LatentSize = 200;
        public const int DecoderSize = 600;
        public const double DropoutRate = 0.5;
    }

    private readonly Options _options;

    internal MvaeTrainer(IHostEnvironment env, Options options)
        : base(env, options, nameof(MvaeTrainer), "MVAE")
    {
        _options = options;
    }

    private protected override ISequenceModel CreateModel(TrainingData data, Device device) => new MvaeModel(data.Train.ItemCount, _options, device);

    private protected override MvaeTransformer CreateTransformer(RecommendationModelDescription description, byte[] onnxModel, SequenceTrainingResult training)
        => new(Host, description, onnxModel, training);
}

/// <summary>The fitted MVAE model: scores a user from the history column alone (order ignored).</summary>
public sealed class MvaeTransformer : TrainedRecommendationTransformer
{
    internal MvaeTransformer(IHostEnvironment env, RecommendationModelDescription description, byte[] onnx, SequenceTrainingResult training)
        : base(env, description, onnx, training)
    {
    }
}
