using Microsoft.ML.SearchSpace;

namespace Microsoft.ML.Svae;

public sealed partial class BprTrainer
{
    /// <summary>
    /// Options of the BPR trainer: matrix factorisation with the pairwise BPR-Opt criterion (Rendle et al.,
    /// UAI 2009), an optional item bias, the user column, and the shared training options.
    /// </summary>
    /// <remarks>
    /// <see cref="FactorizationTrainerOptions.Lambda"/> is BPR-Opt's λ_Θ: each sampled triple (u, i, j) adds
    /// <c>λ(‖W_u‖² + ‖H_i‖² + ‖H_j‖² + b_i² + b_j²)</c> to its loss. Defaults: see
    /// <see cref="FactorizationTrainerOptions"/>, and an item bias.
    /// </remarks>
    public sealed class Options : FactorizationTrainerOptions
    {
        /// <summary>Add a learned item bias b_i to the score (unknown users are then ranked by it).</summary>
        [BooleanChoice(Defaults.UseItemBias)]
        public bool UseItemBias { get; set; } = Defaults.UseItemBias;
    }
}
