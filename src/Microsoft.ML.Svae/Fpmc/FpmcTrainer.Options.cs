using Microsoft.ML.SearchSpace;

namespace Microsoft.ML.Svae;

public sealed partial class FpmcTrainer
{
    /// <summary>
    /// Options of the FPMC trainer: the factorised personalised Markov chain of Rendle et al. (WWW 2010) with
    /// its BPR-style criterion, the user column, and the shared training options.
    /// </summary>
    /// <remarks>
    /// Defaults: 64 factors for each of the four factor tables, per-transition L2 regularisation λ = 0.01,
    /// Adam (the shared loop's optimiser) with learning rate 0.01, 256 users per step, no weight decay and up to
    /// 100 epochs. The paper gives no settings for FPMC; λ and the learning rate were chosen on the validation
    /// users of MovieLens-100K.
    /// </remarks>
    public sealed class Options : UserKeyedTrainerOptions
    {

        /// <summary>The number of factors of the user–item and item–item factorisations.</summary>
        [Range(4, 512, 64, true)]
        public int NumberOfFactors { get; set; } = Defaults.NumberOfFactors;

        /// <summary>
        /// λ, the L2 regularisation of each sampled (u, l, i, j): the squared norms of the six factor vectors
        /// involved are added to its loss.
        /// </summary>
        [Range(0.0, 0.1, 1e-2)]
        public double Regularization { get; set; } = Defaults.Regularization;

        /// <summary>Creates options with the FPMC defaults.</summary>
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
