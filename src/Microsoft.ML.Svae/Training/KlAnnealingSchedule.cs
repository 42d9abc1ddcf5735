namespace Microsoft.ML.Svae;

/// <summary>
/// The KL weight β of variational models, annealed linearly with the number of optimization steps and capped
/// (Liang et al., WWW 2018; the SVAE authors' code): <c>β = min(cap, updates / steps)</c>, where the first
/// update sees β = 0.
/// </summary>
/// <remarks>
/// With <see cref="ResetsEachEpoch"/> the update counter restarts at every epoch, as in the SVAE authors'
/// public code (the counter is local to the epoch function), so β never exceeds
/// <c>updates per epoch / steps</c>.
/// </remarks>
internal sealed class KlAnnealingSchedule
{
    /// <summary>A schedule that always gives β = 0 (for models without a KL term).</summary>
    public static KlAnnealingSchedule None { get; } = new(0, 1, false);

    /// <summary>Creates a schedule.</summary>
    public KlAnnealingSchedule(double cap, long steps, bool resetsEachEpoch)
    {
        if (!(cap >= 0) || double.IsInfinity(cap))
            throw new ArgumentOutOfRangeException(nameof(cap), cap, "The KL weight cap must be a finite number of at least 0.");
        if (steps < 1)
            throw new ArgumentOutOfRangeException(nameof(steps), steps, "The number of KL annealing steps must be at least 1.");
        Cap = cap;
        Steps = steps;
        ResetsEachEpoch = resetsEachEpoch;
    }

    /// <summary>The largest β.</summary>
    public double Cap { get; }

    /// <summary>The number of updates over which β grows from 0 to 1 (it stops at <see cref="Cap"/>).</summary>
    public long Steps { get; }

    /// <summary>Whether the update counter restarts at every epoch.</summary>
    public bool ResetsEachEpoch { get; }

    /// <summary>β for an update, given the updates done before it in all epochs and in the current epoch.</summary>
    public double Weight(long updatesSoFar, long updatesThisEpoch)
    {
        long counter = ResetsEachEpoch ? updatesThisEpoch : updatesSoFar;
        return Math.Min(Cap, (double)counter / Steps);
    }
}
