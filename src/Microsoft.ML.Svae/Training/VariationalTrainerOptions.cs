using Microsoft.ML.SearchSpace;

namespace Microsoft.ML.Svae;

/// <summary>The defaults of the KL annealing every variational model shares (the authors' code and Liang et al.'s).</summary>
internal static class VariationalTrainerDefaults
{
    public const double KlWeightCap = 0.2;
    public const int KlAnnealingSteps = 200_000;
    public const bool KlAnnealingResetsEachEpoch = false;
}

/// <summary>
/// Options shared by the variational models (SVAE, MVAE, RVAE): the KL annealing of β, the weight of the KL term
/// <c>β·KL(q(z) ‖ N(0, I))</c> of their objectives, on top of the shared training options.
/// </summary>
public abstract class VariationalTrainerOptions : SequenceTrainerOptions
{
    /// <summary>The largest KL weight β (0.2, as in the SVAE authors' code and Liang et al.); 0 trains without the KL term.</summary>
    [Range(0.0, 1.0, 0.2)]
    public double KlWeightCap { get; set; } = VariationalTrainerDefaults.KlWeightCap;

    /// <summary>
    /// The number of updates over which β grows linearly from 0 to 1 before the cap stops it
    /// (<c>β = min(KlWeightCap, updates / KlAnnealingSteps)</c>; 200,000 in the authors' code and Liang et al.'s
    /// <c>total_anneal_steps</c>).
    /// </summary>
    [Range(100, 1_000_000, 200_000, true)]
    public int KlAnnealingSteps { get; set; } = VariationalTrainerDefaults.KlAnnealingSteps;

    /// <summary>
    /// Restart the annealing counter at every epoch, as the SVAE authors' public code does (its counter is local
    /// to the epoch), which keeps β below <c>updates per epoch / KlAnnealingSteps</c>. Off by default: the
    /// counter runs over the whole training, as in Liang et al.
    /// </summary>
    [BooleanChoice(VariationalTrainerDefaults.KlAnnealingResetsEachEpoch)]
    public bool KlAnnealingResetsEachEpoch { get; set; } = VariationalTrainerDefaults.KlAnnealingResetsEachEpoch;

    /// <summary>β per update, as these options define it.</summary>
    internal KlAnnealingSchedule KlSchedule() => new(KlWeightCap, KlAnnealingSteps, KlAnnealingResetsEachEpoch);

    /// <inheritdoc/>
    public override void Validate()
    {
        base.Validate();
        CheckInRange(nameof(KlWeightCap), KlWeightCap, 0, 1000);
        CheckAtLeast(nameof(KlAnnealingSteps), KlAnnealingSteps, 1);
    }
}
