using Microsoft.ML.Data;
using Microsoft.ML.Svae.Onnx;
using Microsoft.ML.Transforms.Onnx;

namespace Microsoft.ML.Svae;

/// <summary>
/// The fitted form of every recommender in this library: it reads the history column and adds
/// <see cref="SequenceColumns.TopItems"/> (the top-K item keys, best first, seen items excluded),
/// <see cref="SequenceColumns.TopScores"/> and, on request, <see cref="SequenceColumns.Scores"/>.
/// </summary>
/// <remarks>
/// <para>
/// Inside, it is a chain of ML.NET's own transformers: an <c>OnnxTransformer</c> running an ONNX graph
/// written by the trainer (format described in the model's metadata), a <c>ValueToKeyMappingTransformer</c>
/// turning the graph's item values into keys of the history's key type, and a column drop.
/// <see cref="ICanSaveModel.Save(ModelSaveContext)"/> delegates to that chain, so
/// <c>mlContext.Model.Save</c> writes an ordinary ML.NET zip, and <c>mlContext.Model.Load</c> returns a
/// <see cref="TransformerChain{TLastTransformer}"/> that needs only Microsoft.ML,
/// Microsoft.ML.OnnxTransformer and Microsoft.ML.OnnxRuntime — not this assembly, not TorchSharp.
/// </para>
/// <para>
/// Dispose the transformer (and any model loaded from a zip): the ONNX transformer keeps a temporary
/// copy of the graph on disk until it is disposed.
/// </para>
/// </remarks>
public abstract class RecommendationTransformer : ITransformer, IDisposable
{
    private readonly TransformerChain<ITransformer> _chain;
    private readonly string _onnxPath;
    private readonly byte[] _onnxModel;
    private bool _disposed;

    private protected RecommendationTransformer(IHostEnvironment env, RecommendationModelDescription description, byte[] onnxModel)
    {
        ArgumentNullException.ThrowIfNull(env);
        Description = description;
        _onnxModel = onnxModel;
        _onnxPath = ModelFiles.WriteTemporary(onnxModel, ".onnx");
        try
        {
            _chain = BuildChain(env, description, _onnxPath);
        }
        catch
        {
            File.Delete(_onnxPath);
            throw;
        }
    }

    /// <summary>What the model reads and writes: column names, item count, list length.</summary>
    internal RecommendationModelDescription Description { get; }

    /// <summary>The name of the history column the model reads.</summary>
    public string HistoryColumnName => Description.HistoryColumnName;

    /// <summary>The number of items N the model ranks (keys 1..N of the history column).</summary>
    public int ItemCount => Description.ItemCount;

    /// <summary>The length K of <see cref="SequenceColumns.TopItems"/>.</summary>
    public int TopK => Math.Min(Description.TopK, Description.ItemCount);

    /// <summary>Writes the model's ONNX graph (opset 17) to <paramref name="stream"/>, e.g. to serve it with ONNX Runtime directly.</summary>
    public void ExportOnnx(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        stream.Write(_onnxModel);
    }

    /// <inheritdoc/>
    public bool IsRowToRowMapper => true;

    /// <inheritdoc/>
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema)
    {
        CheckInput(inputSchema);
        return _chain.GetOutputSchema(inputSchema);
    }

    /// <inheritdoc/>
    public IDataView Transform(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        CheckInput(input.Schema);
        return _chain.Transform(input);
    }

    /// <inheritdoc/>
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema)
    {
        CheckInput(inputSchema);
        return ((ITransformer)_chain).GetRowToRowMapper(inputSchema);
    }

    /// <summary>Saves the inner chain of built-in transformers: the zip loads with public ML.NET alone.</summary>
    void ICanSaveModel.Save(ModelSaveContext ctx) => ((ICanSaveModel)_chain).Save(ctx);

    private void CheckInput(DataViewSchema schema)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        int items = SchemaChecks.ItemKeyVectorColumn(schema, Description.HistoryColumnName, "history");
        if (items != Description.ItemCount)
            throw new ArgumentOutOfRangeException(Description.HistoryColumnName,
                $"The history column '{Description.HistoryColumnName}' has {items} item keys, but the model was trained on {Description.ItemCount} items. " +
                "Map item ids with the same vocabulary (key type) as the training data.");
        if (Description.UserIdColumnName is string user)
        {
            var column = SchemaChecks.Column(schema, user, "user id");
            if (column.Type is not KeyDataViewType key || key.RawType != typeof(uint))
                throw new ArgumentOutOfRangeException(user,
                    $"The user id column '{user}' must be a Key<UInt32> (the user keys of the training data), but its type is {SchemaChecks.Describe(column.Type)}.");
        }
    }

    private static TransformerChain<ITransformer> BuildChain(IHostEnvironment env, RecommendationModelDescription d, string onnxPath)
    {
        var mlContext = env as MLContext ?? new MLContext();
        var fitted = BuildEstimator(mlContext, d, onnxPath).Fit(EmptyInputView(mlContext, d));
        return new TransformerChain<ITransformer>(fitted.Select(t => (ITransformer)t).ToArray());
    }

    private static EstimatorChain<ITransformer> BuildEstimator(MLContext mlContext, RecommendationModelDescription d, string onnxPath)
    {
        var outputs = new List<string> { RecommendationGraph.TopItemValuesOutput, RecommendationGraph.TopScoresOutput };
        if (d.IncludeScores) outputs.Add(RecommendationGraph.ScoresOutput);
        var onnxOptions = new OnnxOptions
        {
            ModelFile = onnxPath,
            InputColumns = d.UserIdColumnName is null ? new[] { d.HistoryColumnName } : new[] { d.HistoryColumnName, d.UserIdColumnName },
            OutputColumns = outputs.ToArray(),
            GpuDeviceId = null,
            FallbackToCpu = true,
            // One intra-op thread: a single user's graph is small, and threading overhead dominates.
            IntraOpNumThreads = 1,
            InterOpNumThreads = 1,
        };
        var keyData = mlContext.Data.LoadFromEnumerable(d.ItemValues.Select(v => new ItemValueRow { Value = v }));
        return new EstimatorChain<ITransformer>()
            .Append<ITransformer>(mlContext.Transforms.ApplyOnnxModel(onnxOptions))
            .Append<ITransformer>(mlContext.Transforms.Conversion.MapValueToKey(SequenceColumns.TopItems, RecommendationGraph.TopItemValuesOutput,
                keyOrdinality: Transforms.ValueToKeyMappingEstimator.KeyOrdinality.ByOccurrence, keyData: keyData))
            .Append<ITransformer>(mlContext.Transforms.DropColumns(RecommendationGraph.TopItemValuesOutput));
    }

    /// <summary>
    /// The output schema shape of a model with description <paramref name="d"/>, computed by the same chain
    /// of built-in estimators over a placeholder graph (ML.NET keeps <see cref="SchemaShape"/>'s constructors internal).
    /// </summary>
    internal static SchemaShape OutputShape(IHostEnvironment env, SchemaShape input, RecommendationModelDescription d)
    {
        var mlContext = env as MLContext ?? new MLContext();
        byte[] placeholder = PopularityGraph.Write(d, new float[d.ItemCount]);
        string path = ModelFiles.WriteTemporary(placeholder, ".onnx");
        try
        {
            return BuildEstimator(mlContext, d, path).GetOutputSchema(input);
        }
        finally
        {
            File.Delete(path);
        }
    }

    private sealed class ItemValueRow
    {
        public long Value { get; set; }
    }

    private sealed class HistoryRow
    {
        public uint[] History { get; set; } = Array.Empty<uint>();
    }

    private sealed class UserHistoryRow
    {
        public uint[] History { get; set; } = Array.Empty<uint>();

        public uint User { get; set; }
    }

    /// <summary>An empty view with the model's input columns, to fit the chain (no estimator in it reads rows).</summary>
    private static IDataView EmptyInputView(MLContext mlContext, RecommendationModelDescription d)
    {
        var historyType = new VectorDataViewType(new KeyDataViewType(typeof(uint), d.ItemCount));
        if (d.UserIdColumnName is null)
        {
            // The indexer finds a column by its current name: set the type before renaming.
            var definition = SchemaDefinition.Create(typeof(HistoryRow));
            definition[nameof(HistoryRow.History)].ColumnType = historyType;
            definition[nameof(HistoryRow.History)].ColumnName = d.HistoryColumnName;
            return mlContext.Data.LoadFromEnumerable(Array.Empty<HistoryRow>(), definition);
        }
        var withUser = SchemaDefinition.Create(typeof(UserHistoryRow));
        withUser[nameof(UserHistoryRow.History)].ColumnType = historyType;
        withUser[nameof(UserHistoryRow.User)].ColumnType = new KeyDataViewType(typeof(uint), d.UserCount);
        withUser[nameof(UserHistoryRow.History)].ColumnName = d.HistoryColumnName;
        withUser[nameof(UserHistoryRow.User)].ColumnName = d.UserIdColumnName;
        return mlContext.Data.LoadFromEnumerable(Array.Empty<UserHistoryRow>(), withUser);
    }

    /// <summary>Releases the ONNX session and deletes the temporary graph file.</summary>
    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Releases resources; derived classes call the base.</summary>
    protected virtual void Dispose(bool disposing)
    {
        if (_disposed) return;
        _disposed = true;
        if (disposing)
            foreach (var t in _chain)
                (t as IDisposable)?.Dispose();
        try { File.Delete(_onnxPath); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}

/// <summary>What a fitted recommender reads and writes; shared by every model's transformer.</summary>
/// <remarks>
/// Models with per-user parameters (BPR, FPMC, Caser) also read a user column: <see cref="UserIdColumnName"/>
/// (a scalar <c>Key&lt;UInt32&gt;</c> with <see cref="UserCount"/> keys), fed to the graph as a second input
/// <c>uint32 [1, 1]</c>; a user key of 0 or above <see cref="UserCount"/> is an unknown user.
/// </remarks>
internal sealed record RecommendationModelDescription(
    string ModelName,
    string HistoryColumnName,
    int ItemCount,
    int TopK,
    bool IncludeScores,
    long[] ItemValues)
{
    /// <summary>The user key column, for models with per-user parameters; <see langword="null"/> otherwise.</summary>
    public string? UserIdColumnName { get; init; }

    /// <summary>The number of user keys of <see cref="UserIdColumnName"/>.</summary>
    public int UserCount { get; init; }
}
