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
    public sealed class Options : SequenceTrainerOptions
    {
        /// <summary>
        /// The user key column (a scalar <c>Key&lt;UInt32&gt;</c>): the training rows' users, whose vectors are
        /// learned, and the user of each scored row. A key of 0 or above the training data's key count is an
        /// unknown user, scored with a zero user vector.
        /// </summary>
        public string UserIdColumnName { get; set; } = SequenceColumns.UserId;

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
            if (string.IsNullOrWhiteSpace(UserIdColumnName))
                throw new ArgumentOutOfRangeException(nameof(UserIdColumnName), "UserIdColumnName must name the user key column.");
            CheckAtLeast(nameof(NumberOfFactors), NumberOfFactors, 1);
            CheckInRange(nameof(Regularization), Regularization, 0, 1000);
        }
    }
}
