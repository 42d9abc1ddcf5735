namespace Microsoft.ML.Svae;

/// <summary>
/// A recommender trained epoch by epoch (every model here but POP): the fitted transformer also carries
/// its learning curve and the epoch whose weights it holds.
/// </summary>
public abstract class TrainedRecommendationTransformer : RecommendationTransformer
{
    private protected TrainedRecommendationTransformer(IHostEnvironment env, RecommendationModelDescription description, byte[] onnxModel,
        IReadOnlyList<TrainingEpoch> trainingHistory, int bestEpoch)
        : base(env, description, onnxModel)
    {
        TrainingHistory = trainingHistory;
        BestEpoch = bestEpoch;
    }

    /// <summary>The learning curve: training loss, β where the model has one, validation metrics and seconds of every epoch.</summary>
    public IReadOnlyList<TrainingEpoch> TrainingHistory { get; }

    /// <summary>The epoch whose weights the model holds (the best validation epoch, or the last without validation data).</summary>
    public int BestEpoch { get; }
}
