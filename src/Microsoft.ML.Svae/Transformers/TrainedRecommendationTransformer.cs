namespace Microsoft.ML.Svae;

/// <summary>
/// A recommender trained epoch by epoch (every model here but POP): the fitted transformer also carries
/// its learning curve and the epoch whose weights it holds.
/// </summary>
public abstract class TrainedRecommendationTransformer : RecommendationTransformer
{
    private protected TrainedRecommendationTransformer(IHostEnvironment env, RecommendationModelDescription description, byte[] onnxModel,
        SequenceTrainingResult training)
        : base(env, description, onnxModel)
    {
        TrainingHistory = training.History;
        BestEpoch = training.BestEpoch;
        StoppedEarly = training.StoppedEarly;
    }

    /// <summary>The learning curve: training loss, β where the model has one, validation metrics and seconds of every epoch.</summary>
    public IReadOnlyList<TrainingEpoch> TrainingHistory { get; }

    /// <summary>The epoch whose weights the model holds (the best validation epoch, or the last without validation data).</summary>
    public int BestEpoch { get; }

    /// <summary>
    /// Whether early stopping ended training before the options' <c>NumberOfEpochs</c> (only possible with
    /// validation data: <c>Fit(train, validation)</c> or the options' <c>ValidationSet</c>).
    /// </summary>
    public bool StoppedEarly { get; }
}
