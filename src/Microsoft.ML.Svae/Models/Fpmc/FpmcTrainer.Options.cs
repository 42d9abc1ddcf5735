namespace Microsoft.ML.Svae;

public sealed partial class FpmcTrainer
{
    /// <summary>
    /// Options of the FPMC trainer: the factorised personalised Markov chain of Rendle et al. (WWW 2010) with its
    /// BPR-style criterion (S-BPR), the user column, and the shared training options.
    /// </summary>
    /// <remarks>
    /// <see cref="FactorizationTrainerOptions.EmbeddingSize"/> is the size of each of the four factor tables;
    /// <see cref="FactorizationTrainerOptions.Lambda"/> regularises the six factor vectors of each sampled
    /// (u, l, i, j). Defaults: see <see cref="FactorizationTrainerOptions"/>.
    /// </remarks>
    public sealed class Options : FactorizationTrainerOptions
    {
    }
}
