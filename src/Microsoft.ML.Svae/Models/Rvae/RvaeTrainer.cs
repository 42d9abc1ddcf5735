using static TorchSharp.torch;

namespace Microsoft.ML.Svae;

/// <summary>
/// RVAE: the ranking variational autoencoder of section 4.2 of Sachdeva, Manco, Ritacco and Pudi, "Sequential
/// Variational Autoencoders for Collaborative Filtering", WSDM 2019 (eq. 4.2 and the score form of eq. 4.4, with the
/// architecture of section 5.4), trained with TorchSharp. Reached through
/// <c>mlContext.Recommendation().Trainers.Rvae(...)</c>.
/// </summary>
/// <remarks>
/// <format type="text/markdown"><![CDATA[
/// ### Input and Output Columns
/// | Column | Type | Description |
/// | -- | -- | -- |
/// | `History` (input) | variable `Vector<Key<UInt32>>` | the user's items, order ignored (fold-in for held-out users) |
/// | `TopItems` | `Vector<Key<UInt32>>` of length K | the K best items the user has not seen, best first |
/// | `TopScores` | `Vector<Single>` of length K | their scores f(μ(u, i)) |
/// | `Scores` (optional) | `Vector<Single>` of length N | every item's score, seen items at -∞ |
///
/// Validation data for early stopping (`Fit(train, validation)`, or `Options.ValidationSet` inside a pipeline): the history column holds the held-out users'
/// fold-in and `FoldOut` their fold-out. There is no user id column: the user is represented by the history.
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
/// For user u and item i, z_{u,i} ~ N(μ(u, i), σ²(u, i)) and the score is f(z_{u,i}). The network (section 5.4):
/// * user embedding (128) computed FROM THE HISTORY by a neural layer: `p_u = tanh(W_user · x_u / max(|x_u|, 1) + b_user)`,
///   the tanh of the mean of the history items' columns of `W_user` (x_u is the binary multi-hot history), so that
///   users never seen in training are scored from their history, unlike BPR;
/// * item embedding q_i (128);
/// * two encoding layers: `h = tanh(W_h [p_u ; q_i] + b_h)` (100), then a linear layer to μ and log σ² (K = 64);
/// * a final linear layer to the score, `f(z) = w_s · z + b_s`.
///
/// Training triples (u, i, j): every event i of a training history (preferred) with `NegativesPerPositive` items j
/// the user never interacted with (non-preferred), drawn afresh at every step on the device (uniformly by default,
/// or by popularity), from a seeded generator. Loss per triple: `−log σ(f(z_{u,i}) − f(z_{u,j})) + β·KL`, the
/// Bernoulli likelihood of "u prefers i to j" (eq. 4.4) plus the KL divergence of both latents from N(0, I) (the
/// positive's shared by its n negatives: `KL(z_{u,j}) + KL(z_{u,i}) / n`). Sign convention: eq. 4.4 writes
/// `P(i ≺_u j) = σ(f(z_{u,j}) − f(z_{u,i}))`, where `i ≺_u j` means that u prefers j (section 4.2); with i the
/// preferred item, as here and in BPR, this is `σ(f(z_{u,i}) − f(z_{u,j}))`. The positive's latent encodes the
/// history WITHOUT item i (leave one out), the negatives' the whole history, so that both see the history as
/// scoring does. Adam (learning rate 1e-2, 32 users per batch); β grows linearly with the updates and is capped
/// (0.2 after 200,000 updates); each epoch, validation NDCG@100 selects the best weights (early stopping with
/// patience).
///
/// Scoring uses z = μ and ranks all N items at once: the user part of the first layer is broadcast against the
/// (precomputed) item part of all items. An empty history gives `p_u = tanh(b_user)`.
///
/// The structure (concatenated user and item embeddings of 128 → 100 → μ, σ of 64 → one score) follows the
/// authors' exploratory notebook `rvae_implicit.ipynb` (repository `noveens/svae_cf`, early history); the paper
/// does not publish its RVAE code.
///
/// ### Deviations from the paper and from the authors' notebook
/// * The paper does not give RVAE's activations, sampling, loss reduction or optimizer settings: the choices above
///   (tanh, one uniform negative per event drawn each step, mean over triples, Adam with learning rate 1e-2 and no
///   weight decay, SVAE's β schedule) are ours.
/// * The user embedding is a layer over the history (mean of history item columns, tanh); the notebook looks up a
///   per-user-id embedding, which cannot score a held-out user.
/// * Loss: the Bernoulli likelihood of eq. 4.4 with β·KL; the notebook uses a hinge loss, adds an item reconstruction
///   decoder and sets the KL weight to 0.
/// * The first encoding layer uses tanh (the notebook: ReLU); weights start Xavier-normal as in the notebook, biases
///   at zero; the user layer's weights start N(0, 0.01²) like the notebook's embeddings.
/// * Negatives are drawn afresh each step among the user's unseen items (the notebook draws 5 per user once); one
///   parameterization of the variance (log σ²; the notebook uses log σ).
/// * Repeated events of an item each form a triple; the multi-hot user input counts the item once.
/// * `MaxHistoryLength` can keep only the most recent events of a training user (default: all).
///
/// ### References
/// * Sachdeva, Manco, Ritacco, Pudi. Sequential Variational Autoencoders for Collaborative Filtering. WSDM 2019.
/// * Rendle, Freudenthaler, Gantner, Schmidt-Thieme. BPR: Bayesian Personalized Ranking from Implicit Feedback. UAI 2009.
/// ]]></format>
/// </remarks>
/// <seealso cref="SequenceRecommendationTrainers.Rvae(string, int, int, double)"/>
/// <seealso cref="SequenceRecommendationTrainers.Rvae(Options)"/>
public sealed partial class RvaeTrainer : SequenceTrainerBase<RvaeTransformer>
{
    /// <summary>The default of every RVAE option that is not a shared default (the options and the catalog read them here).</summary>
    internal static class Defaults
    {
        public const int NumberOfEpochs = 50;
        public const double LearningRate = 1e-2;
        public const int EmbeddingSize = 128;
        public const int EncoderSize = 100;
        public const int LatentSize = 64;
        public const int NegativesPerPositive = 1;
        public const RvaeNegativeSampling NegativeSampling = RvaeNegativeSampling.Uniform;
    }

    private readonly Options _options;

    internal RvaeTrainer(IHostEnvironment env, Options options)
        : base(env, options, nameof(RvaeTrainer), "RVAE")
    {
        _options = options;
    }

    private protected override ISequenceModel CreateModel(TrainingData data, Device device) => new RvaeModel(data.Train, _options, device);

    private protected override RvaeTransformer CreateTransformer(RecommendationModelDescription description, byte[] onnxModel, SequenceTrainingResult training)
        => new(Host, description, onnxModel, training);
}

/// <summary>The fitted RVAE model: scores a user from the history column alone (order ignored).</summary>
public sealed class RvaeTransformer : TrainedRecommendationTransformer
{
    internal RvaeTransformer(IHostEnvironment env, RecommendationModelDescription description, byte[] onnx, SequenceTrainingResult training)
        : base(env, description, onnx, training)
    {
    }
}
