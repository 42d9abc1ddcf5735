using Microsoft.ML.SearchSpace;

namespace Microsoft.ML.Svae;

public sealed partial class BprTrainer
{
    /// <summary>
    /// Options of the BPR trainer: matrix factorisation with the pairwise BPR-Opt criterion (Rendle et al.,
    /// UAI 2009), the user column, and the shared training options.
    /// </summary>
    /// <remarks>
    /// Defaults: 64 factors, an item bias, per-pair L2 regularisation λ = 0.01 on the factors and biases of
    /// each sampled triple (BPR-Opt's λ_Θ), Adam (the shared loop's optimiser) with learning rate 0.01, 256 users
    /// per step, no weight decay and up to 100 epochs. The paper gives no settings for BPR; λ, the learning rate
    /// and the batch size were chosen on the validation users of MovieLens-100K.
    /// </remarks>
    public sealed class Options : UserKeyedTrainerOptions
    {

        /// <summary>The number of latent factors of users and items.</summary>
        [Range(4, 512, 64, true)]
        public int NumberOfFactors { get; set; } = Defaults.NumberOfFactors;

        /// <summary>
        /// λ, BPR-Opt's L2 regularisation: each sampled triple (u, i, j) adds
        /// <c>λ(‖W_u‖² + ‖H_i‖² + ‖H_j‖² + b_i² + b_j²)</c> to its loss.
        /// </summary>
        [Range(0.0, 0.1, 1e-2)]
        public double Regularization { get; set; } = Defaults.Regularization;

        /// <summary>Add a learned item bias b_i to the score (unknown users are then ranked by it).</summary>
        [BooleanChoice(true)]
        public bool UseItemBias { get; set; } = true;

        /// <summary>Creates options with the BPR defaults.</summary>
        public Options()
        {
            NumberOfEpochs = Defaults.NumberOfEpochs;
            BatchSize = Defaults.BatchSize;
            LearningRate = Defaults.LearningRate;
        }

        /// <inheritdoc/>
        public override void Validate()
        {
            base.Validate();
            CheckAtLeast(nameof(NumberOfFactors), NumberOfFactors, 1);
            CheckInRange(nameof(Regularization), Regularization, 0, 1000);
        }
    }
}
