namespace Microsoft.ML.Svae;

/// <summary>One epoch of a neural recommender's training: the learning-curve point the trainer records.</summary>
public sealed class TrainingEpoch
{
    internal TrainingEpoch(int epoch, long updates, double trainingLoss, double klWeight, double? validationNdcg,
        IReadOnlyDictionary<string, double> validationMetrics, double seconds)
    {
        Epoch = epoch;
        Updates = updates;
        TrainingLoss = trainingLoss;
        KlWeight = klWeight;
        ValidationNdcg = validationNdcg;
        ValidationMetrics = validationMetrics;
        Seconds = seconds;
    }

    /// <summary>The epoch number, from 1.</summary>
    public int Epoch { get; }

    /// <summary>The number of optimization steps done so far, this epoch's included.</summary>
    public long Updates { get; }

    /// <summary>
    /// The mean training loss per loss unit over the epoch, as the weights changed during it (for SVAE: per
    /// step, <c>β·KL − log-likelihood of the next items</c>).
    /// </summary>
    public double TrainingLoss { get; }

    /// <summary>The KL weight β of the epoch's last update (0 for models without a KL term).</summary>
    public double KlWeight { get; }

    /// <summary>
    /// The validation <c>NDCG@n</c> at the trainer's validation cutoff n after the epoch; <see langword="null"/>
    /// without validation data.
    /// </summary>
    public double? ValidationNdcg { get; }

    /// <summary>
    /// All validation metrics after the epoch, keyed as <see cref="RecommendationMetrics.Means"/>
    /// (<c>"NDCG@10"</c>, <c>"Recall@100"</c>, ...); empty without validation data.
    /// </summary>
    public IReadOnlyDictionary<string, double> ValidationMetrics { get; }

    /// <summary>Wall-clock seconds of the epoch, training and validation.</summary>
    public double Seconds { get; }

    /// <inheritdoc/>
    public override string ToString() => FormattableString.Invariant(
        $"epoch {Epoch}: loss {TrainingLoss:F4}, β {KlWeight:G3}{(ValidationNdcg is double n ? $", validation NDCG {n:F4}" : "")}, {Seconds:F1} s");
}
