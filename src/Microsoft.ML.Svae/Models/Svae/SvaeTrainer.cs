using static TorchSharp.torch;

namespace Microsoft.ML.Svae;

/// <summary>
/// SVAE: the sequential variational autoencoder of Sachdeva, Manco, Ritacco and Pudi, "Sequential
/// Variational Autoencoders for Collaborative Filtering", WSDM 2019 (section 4.3, eq. 4.5-4.10),
/// trained with TorchSharp. Reached through <c>mlContext.Recommendation().Trainers.Svae(...)</c>.
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
/// Validation data for early stopping (`Fit(train, validation)`, or `Options.ValidationSet` inside a pipeline): the history column holds the
/// held-out users' fold-in and `FoldOut` their fold-out.
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
/// Item embedding (256) → GRU (200) → tanh layer (150) → linear layer to 2K (K = 64: mean μ and log
/// variance log σ²) → z = μ + σ·ε → tanh layer (150) → linear layer to N item logits. For each user
/// and step t, the state after items 1..t parameterises q(z_t), and the loss is β·KL(q(z_t) ‖ N(0, I))
/// minus the multinomial log-likelihood of the next k items (eq. 4.9, or the mixture of eq. 4.10),
/// summed over the valid steps and divided by the expected number of steps of a full batch (every step of every user
/// weighs the same, as in eq. 4.6). Adam with coupled L2 weight decay, β annealed linearly to its cap.
/// Many users are trained per step (right-padded, masked). Each epoch, validation NDCG@100 selects
/// the best weights (early stopping with patience).
///
/// Scoring runs the WHOLE history through the network and decodes the last step with z = μ; seen items
/// are excluded. A history with no known item is ranked by training popularity.
///
/// ### Deviations from the paper and from the authors' public code
/// * One parameterisation of the variance (log σ²) throughout; the public code mixes log σ and log σ².
/// * Many users per optimisation step (padded and masked); the public code uses one user per step.
/// * Scoring feeds the whole fold-in and uses z = μ; the public code feeds the fold-in minus its last
///   item and samples z.
/// * Long histories: `MaxHistoryLength` keeps the most recent events of a training user (default: all);
///   the public code drops users with more than 1,000 events.
/// * β annealing: by default a global counter over all updates reaches the cap after
///   `KlAnnealingSteps` updates; `KlAnnealingResetsEachEpoch` reproduces the public code, whose counter
///   restarts each epoch so β stays near zero.
/// * Empty histories are scored by training popularity (the model has no state before the first item).
/// * Linear biases start at zero; the public code keeps PyTorch's default uniform biases.
/// * Dropout on the GRU's input embeddings during training (`DropoutRate`, default 0.2; not in the paper or the
///   public code; 0 restores their network).
/// * `TrainingPrecision = BFloat16` (opt-in; the default is float32 as in the paper and the public code) runs the
///   large matrix products of training with bfloat16 inputs; the parameters, optimizer, softmax, loss and the model
///   stay float32.
/// * Defaults chosen by validation NDCG@100 on MovieLens-100K: 8 users per step, no weight decay (the
///   public code's coupled L2 of 5e-3 under Adam reduced the model to a popularity ranking here) and
///   embedding dropout 0.2.
///
/// To train as the authors' public code does: `BatchSize = 1`, `DropoutRate = 0`, `KlAnnealingResetsEachEpoch = true`
/// and `WeightDecay = 5e-3 / (mean number of loss steps per training user)` (their loss sums a user's steps; ours
/// averages over the steps of a batch). On MovieLens-100K that recipe is on a par with the defaults on
/// validation and trains about 3.4 times slower (docs/BENCHMARKS.md).
///
/// ### References
/// * Sachdeva, Manco, Ritacco, Pudi. Sequential Variational Autoencoders for Collaborative Filtering. WSDM 2019.
/// * Liang, Krishnan, Hoffman, Jebara. Variational Autoencoders for Collaborative Filtering. WWW 2018.
/// ]]></format>
/// </remarks>
/// <seealso cref="SequenceRecommendationTrainers.Svae(string, int, int, double)"/>
/// <seealso cref="SequenceRecommendationTrainers.Svae(Options)"/>
public sealed partial class SvaeTrainer : SequenceTrainerBase<SvaeTransformer>
{
    /// <summary>The default of every SVAE option that is not a shared default (the options and the catalog read them here).</summary>
    internal static class Defaults
    {
        public const int NumberOfEpochs = SequenceTrainerDefaults.NumberOfEpochs;
        public const double LearningRate = SequenceTrainerDefaults.LearningRate;
        public const int BatchSize = 8;
        public const double WeightDecay = 0;
        public const int EmbeddingSize = 256;
        public const int RecurrentSize = 200;
        public const int EncoderSize = 150;
        public const int LatentSize = 64;
        public const int DecoderSize = 150;
        public const int NextK = 4;
        public const NextKLikelihood Likelihood = NextKLikelihood.MultiSet;
        public const double DropoutRate = 0.2;
        public const TrainingPrecision TrainingPrecision = Svae.TrainingPrecision.Float32;
    }

    private readonly Options _options;

    internal SvaeTrainer(IHostEnvironment env, Options options)
        : base(env, options, nameof(SvaeTrainer), "SVAE")
    {
        _options = options;
    }

    private protected override ISequenceModel CreateModel(TrainingData data, Device device) => new SvaeModel(data.Train, _options, device);

    private protected override SvaeTransformer CreateTransformer(RecommendationModelDescription description, byte[] onnxModel, SequenceTrainingResult training)
        => new(Host, description, onnxModel, training, weights: null);

    private protected override SvaeTransformer CreateTransformer(RecommendationModelDescription description, ISequenceModel model, SequenceTrainingResult training)
    {
        var svae = (SvaeModel)model;
        var weights = SvaeModel.ExportWeights(svae.Network, svae.EmptyHistoryScores);
        return new(Host, description, SvaeOnnxGraph.Write(description, weights), training, weights);
    }
}

/// <summary>The fitted SVAE model: scores a user from the history column alone; <see cref="RecurrentRecommendationTransformer.CreateIncrementalModel"/> gives its one-event-at-a-time serving model.</summary>
public sealed class SvaeTransformer : RecurrentRecommendationTransformer
{
    internal SvaeTransformer(IHostEnvironment env, RecommendationModelDescription description, byte[] onnx, SequenceTrainingResult training,
        SvaeWeights? weights)
        : base(env, description, onnx, training, weights?.Gru.Hidden,
            weights is null ? null : () => SvaeOnnxGraph.WriteIncremental(description, weights), "SVAE", "Svae")
    {
    }
}
