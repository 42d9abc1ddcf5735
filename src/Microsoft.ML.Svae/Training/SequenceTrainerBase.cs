using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Svae;

/// <summary>
/// The estimator side of every neural recommender (SVAE, MVAE, RVAE, BPR, FPMC, Caser, GRU4Rec, SASRec and the four sequential VAEs of section 4.3.2), written once: reading the
/// training and validation data, choosing the device, training with the shared loop, and turning the trained model
/// into its fitted transformer (the ONNX graph with the weights, the learning curve). A model supplies only its model
/// adapter (<see cref="ISequenceModel"/>: network, loss, scoring, ONNX graph) and its transformer type.
/// </summary>
/// <remarks>
/// The shape follows ML.NET's <c>TorchSharpBaseTrainer</c>: the base owns <c>Fit</c> and the epoch loop, a model
/// exposes small hooks. Validation data comes from <c>Fit(train, validation)</c>, else from
/// <see cref="SequenceTrainerOptions.ValidationSet"/> (so that early stopping also works inside an
/// <c>EstimatorChain</c>).
/// </remarks>
/// <typeparam name="TTransformer">The fitted recommender.</typeparam>
public abstract class SequenceTrainerBase<TTransformer> : RecommendationTrainerBase<TTransformer>
    where TTransformer : TrainedRecommendationTransformer
{
    private protected SequenceTrainerBase(IHostEnvironment env, SequenceTrainerOptions options, string name, string modelName)
        : base(env, options, name)
    {
        SequenceOptions = options;
        ModelName = modelName;
    }

    /// <summary>The options (validated once, by the base constructor).</summary>
    private protected SequenceTrainerOptions SequenceOptions { get; }

    /// <summary>The model's name in its description, log and progress messages (e.g. <c>SVAE</c>).</summary>
    private protected string ModelName { get; }

    private protected sealed override TTransformer Train(IDataView trainData, UserSequences train, IDataView? validationData)
    {
        var data = ReadData(trainData, train, validationData ?? SequenceOptions.ValidationSet);
        using var trained = TrainModel(data);
        return CreateTransformer(Describe(trainData, data), trained);
    }

    /// <summary>The training data and the validation users (fold-in and fold-out) when validation data is given.</summary>
    private protected virtual TrainingData ReadData(IDataView trainData, UserSequences train, IDataView? validationData)
    {
        var (foldIn, foldOut) = ValidationData.Read(validationData, SequenceOptions, train.ItemCount);
        return new TrainingData(train, foldIn, foldOut);
    }

    /// <summary>The description of the fitted model (columns, items, output shape).</summary>
    private protected virtual RecommendationModelDescription Describe(IDataView trainData, TrainingData data)
        => Describe(trainData, ModelName, data.Train.ItemCount);

    /// <summary>
    /// The model adapter with a new network (initialized from the options' seed), its module on
    /// <paramref name="device"/>. The adapter owns the network.
    /// </summary>
    private protected abstract ISequenceModel CreateModel(TrainingData data, Device device);

    /// <summary>The fitted transformer of the model's type.</summary>
    private protected abstract TTransformer CreateTransformer(RecommendationModelDescription description, byte[] onnxModel, SequenceTrainingResult training);

    /// <summary>β per update: the options' annealing for variational models, none for the others.</summary>
    private KlAnnealingSchedule KlSchedule()
        => SequenceOptions is VariationalTrainerOptions variational ? variational.KlSchedule() : KlAnnealingSchedule.None;

    /// <summary>
    /// Trains a new model on <paramref name="data"/> with the shared loop; the model is returned on the CPU, in eval
    /// mode, holding the best epoch's weights. The caller disposes it.
    /// </summary>
    internal TrainedSequenceModel TrainModel(TrainingData data)
    {
        ArgumentNullException.ThrowIfNull(data);
        var device = TrainingDevice.Resolve(Host, SequenceOptions);
        var model = CreateModel(data, device);
        try
        {
            var result = SequenceTrainingLoop.Train(Host, model, data.Train, data.ValidationFoldIn, data.ValidationFoldOut,
                SequenceOptions, KlSchedule(), device, ModelName);
            if (device.type != DeviceType.CPU)
                model.Module.to(CPU);
            model.Module.eval();
            return new TrainedSequenceModel(model, result);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>The fitted transformer of a trained model: its ONNX graph under <paramref name="description"/>.</summary>
    internal TTransformer CreateTransformer(RecommendationModelDescription description, TrainedSequenceModel trained)
        => CreateTransformer(description, trained.Model, trained.Result);

    /// <summary>
    /// The fitted transformer of a trained model adapter: by default its ONNX graph under <paramref name="description"/>.
    /// Models whose transformer keeps more of the trained weights (e.g. SVAE's incremental scoring graph) override it.
    /// </summary>
    private protected virtual TTransformer CreateTransformer(RecommendationModelDescription description, ISequenceModel model, SequenceTrainingResult training)
        => CreateTransformer(description, model.WriteOnnx(description), training);
}

/// <summary>A trained model adapter (owned) and its learning curve.</summary>
internal sealed class TrainedSequenceModel : IDisposable
{
    public TrainedSequenceModel(ISequenceModel model, SequenceTrainingResult result)
    {
        Model = model;
        Result = result;
    }

    /// <summary>The model, on the CPU, in eval mode.</summary>
    public ISequenceModel Model { get; }

    /// <summary>The learning curve, the best epoch and whether training stopped early.</summary>
    public SequenceTrainingResult Result { get; }

    /// <inheritdoc/>
    public void Dispose() => Model.Dispose();
}
