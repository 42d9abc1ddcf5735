using Microsoft.ML.SearchSpace;

namespace Microsoft.ML.Svae;

/// <summary>The defaults BPR and FPMC share (chosen on the validation users of MovieLens-100K; the paper gives none).</summary>
internal static class FactorizationTrainerDefaults
{
    public const int NumberOfEpochs = 100;
    public const int BatchSize = 256;
    public const double LearningRate = 1e-2;
    public const int EmbeddingSize = 64;
    public const double Lambda = 1e-2;
}

/// <summary>
/// Options of the factorisation models trained with a BPR criterion on sampled negatives (BPR, FPMC): the size of the
/// factor vectors and the criterion's L2 regularisation λ, on top of the user column and the shared training options.
/// </summary>
/// <remarks>
/// Defaults: 64 factors, λ = 0.01, Adam with learning rate 0.01, 256 users per step, no weight decay and up to 100
/// epochs. The paper gives no settings for BPR or FPMC; λ, the learning rate and the batch size were chosen on the
/// validation users of MovieLens-100K.
/// </remarks>
public abstract class FactorizationTrainerOptions : UserKeyedTrainerOptions
{
    /// <summary>Creates options with the shared factorisation defaults.</summary>
    private protected FactorizationTrainerOptions()
    {
        NumberOfEpochs = FactorizationTrainerDefaults.NumberOfEpochs;
        BatchSize = FactorizationTrainerDefaults.BatchSize;
        LearningRate = FactorizationTrainerDefaults.LearningRate;
    }

    /// <summary>The size of the user and item factor vectors (their number of latent factors).</summary>
    [Range(4, 512, FactorizationTrainerDefaults.EmbeddingSize, true)]
    public int EmbeddingSize { get; set; } = FactorizationTrainerDefaults.EmbeddingSize;

    /// <summary>
    /// λ, the criterion's L2 regularisation of the sampled parameters: each sampled positive and negative adds λ times
    /// the squared norms of the factor vectors (and biases) they involve to its loss, as BPR-Opt's λ_Θ and as
    /// <c>Lambda</c> of ML.NET's matrix factorisation. Unlike <see cref="SequenceTrainerOptions.WeightDecay"/>, the
    /// optimiser's decay of every parameter at every step, it only touches the parameters of the sample.
    /// </summary>
    [Range(0.0, 0.1, FactorizationTrainerDefaults.Lambda)]
    public double Lambda { get; set; } = FactorizationTrainerDefaults.Lambda;

    /// <inheritdoc/>
    public override void Validate()
    {
        base.Validate();
        CheckAtLeast(nameof(EmbeddingSize), EmbeddingSize, 1);
        CheckInRange(nameof(Lambda), Lambda, 0, 1000);
    }
}
