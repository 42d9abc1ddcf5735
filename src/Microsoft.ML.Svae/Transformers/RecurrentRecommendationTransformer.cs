namespace Microsoft.ML.Svae;

/// <summary>
/// A fitted recommender whose whole state after a history is one GRU vector (SVAE, GRU4Rec): besides scoring whole
/// histories it can create an <see cref="IncrementalRecommendationTransformer"/> that serves one event at a time from a
/// kept state.
/// </summary>
public abstract class RecurrentRecommendationTransformer : TrainedRecommendationTransformer
{
    private readonly IHostEnvironment _env;
    private readonly int? _recurrentSize;
    private readonly Func<byte[]>? _writeIncrementalGraph;
    private readonly string _modelName;
    private readonly string _trainerName;

    private protected RecurrentRecommendationTransformer(IHostEnvironment env, RecommendationModelDescription description, byte[] onnxModel,
        SequenceTrainingResult training, int? recurrentSize, Func<byte[]>? writeIncrementalGraph, string modelName, string trainerName)
        : base(env, description, onnxModel, training)
    {
        _env = env;
        _recurrentSize = recurrentSize;
        _writeIncrementalGraph = writeIncrementalGraph;
        _modelName = modelName;
        _trainerName = trainerName;
    }

    /// <summary>The size H of the model's recurrent state (the options' <c>RecurrentSize</c>).</summary>
    /// <exception cref="InvalidOperationException">The model was created without its trained weights.</exception>
    public int RecurrentSize => _recurrentSize ?? throw NoWeights();

    /// <summary>
    /// A second, small model for serving one event at a time: it reads the user's previous GRU state
    /// (<see cref="IncrementalColumns.State"/>, empty for a new user), the new items (the history column, item ids)
    /// and the items seen before (<see cref="IncrementalColumns.Seen"/>), and writes the next state
    /// (<see cref="IncrementalColumns.NextState"/>, <see cref="RecurrentSize"/> floats) with the same
    /// <see cref="SequenceColumns.TopItems"/> and <see cref="SequenceColumns.TopScores"/> as this model gives for the
    /// whole history. One GRU step per new item instead of the whole history; save it with <c>mlContext.Model.Save</c>
    /// to its own zip (it loads with public ML.NET alone). See <see cref="IncrementalRecommendationTransformer"/>.
    /// </summary>
    /// <returns>A new transformer, independent of this one; dispose it when done.</returns>
    /// <exception cref="InvalidOperationException">The model was created without its trained weights.</exception>
    public IncrementalRecommendationTransformer CreateIncrementalModel()
    {
        if (_recurrentSize is not int size || _writeIncrementalGraph is null)
            throw NoWeights();
        return new IncrementalRecommendationTransformer(_env, Description, _writeIncrementalGraph(), size);
    }

    private InvalidOperationException NoWeights()
        => new($"This {_modelName} model was created without its trained weights; fit it with mlContext.Recommendation().Trainers.{_trainerName} to create an incremental model.");
}
