using Microsoft.ML.Data;
using Microsoft.ML.Svae.Onnx;
using Microsoft.ML.Transforms.Onnx;

namespace Microsoft.ML.Svae;

/// <summary>The columns of an incremental scoring model (<see cref="IncrementalRecommendationTransformer"/>).</summary>
public static class IncrementalColumns
{
    /// <summary>
    /// Input: the user's recurrent state as the previous call returned it in <see cref="NextState"/>
    /// (<c>Vector&lt;Single&gt;</c> of <see cref="IncrementalRecommendationTransformer.StateSize"/> floats), or an
    /// empty vector for a new user.
    /// </summary>
    public const string State = "State";

    /// <summary>
    /// Input: the item ids the user saw before the new items (a vector of the model's item ids), excluded from
    /// <see cref="SequenceColumns.TopItems"/>. It may be empty: then only the new items are excluded.
    /// </summary>
    public const string Seen = "Seen";

    /// <summary>
    /// Output: the state after the new items (<c>Vector&lt;Single&gt;</c> of
    /// <see cref="IncrementalRecommendationTransformer.StateSize"/> floats), to keep for the user's next call; empty
    /// while a new user has no known item yet.
    /// </summary>
    public const string NextState = "NextState";
}

/// <summary>
/// A small scoring model for serving a recurrent recommender one event at a time: it reads a user's previous
/// state and the new items, and writes the next state with the top-K recommendations after the new items — one
/// recurrent step per new item instead of the whole history. Created by
/// <see cref="RecurrentRecommendationTransformer.CreateIncrementalModel"/>.
/// </summary>
/// <remarks>
/// <para>Columns:</para>
/// <list type="table">
/// <item><term><see cref="IncrementalColumns.State"/> (input)</term><description><c>Vector&lt;Single&gt;</c>: the previous
/// <see cref="IncrementalColumns.NextState"/>, or empty for a new user. A non-empty state of another length than
/// <see cref="StateSize"/> fails with ONNX Runtime's error naming the node
/// "The State column must hold H floats (the model's recurrent state size) or be empty for a new user".</description></item>
/// <item><term>the history column (input, <see cref="HistoryColumnName"/>)</term><description>the new items, in time order:
/// a vector of the model's item ids (<see cref="ItemIdType"/>). Ids the model does not know are ignored; with no known
/// new item the state is kept as it is and the recommendations are those of that state.</description></item>
/// <item><term><see cref="IncrementalColumns.Seen"/> (input)</term><description>a vector of item ids seen before the new
/// items, excluded from the recommendations with the new items. It may be empty (the column itself is required): then
/// only the new items are excluded, and earlier items can be recommended again.</description></item>
/// <item><term><see cref="IncrementalColumns.NextState"/></term><description><c>Vector&lt;Single&gt;</c> of <see cref="StateSize"/>
/// floats, to store for the user; empty while a new user has no known item (such a user is ranked by training
/// popularity, as the full model ranks an empty history).</description></item>
/// <item><term><see cref="SequenceColumns.TopItems"/>, <see cref="SequenceColumns.TopScores"/></term><description>as the full
/// model's: the same items and scores as scoring the whole history (all earlier items in <c>Seen</c>).</description></item>
/// </list>
/// <para>
/// Inside, it is a chain of ML.NET's own transformers (<c>MapValueToKey</c>, <c>OnnxTransformer</c>, <c>MapValue</c>):
/// <c>mlContext.Model.Save</c> writes a zip that loads with Microsoft.ML, Microsoft.ML.OnnxTransformer and
/// Microsoft.ML.OnnxRuntime alone. It writes its graph to a temporary file, deleted on <see cref="Dispose()"/>.
/// </para>
/// </remarks>
public sealed class IncrementalRecommendationTransformer : ITransformer, IDisposable
{
    // Internal columns of the chain, dropped from its output: the id inputs as given.
    private const string SavedHistoryColumn = "Svae.History";
    private const string SavedSeenColumn = "Svae.Seen";

    private readonly byte[] _onnxModel;
    private readonly string _onnxPath;
    private readonly TransformerChain<ITransformer> _chain;
    private readonly RecommendationModelDescription _description;
    private bool _disposed;

    internal IncrementalRecommendationTransformer(IHostEnvironment env, RecommendationModelDescription description, byte[] onnxModel, int stateSize)
    {
        ArgumentNullException.ThrowIfNull(env);
        _description = description;
        _onnxModel = onnxModel;
        StateSize = stateSize;
        _onnxPath = TemporaryFiles.Write(onnxModel, ".onnx");
        try
        {
            var mlContext = env as MLContext ?? new MLContext();
            var fitted = BuildEstimator(mlContext, description, _onnxPath).Fit(EmptyInputView(description));
            _chain = new TransformerChain<ITransformer>(fitted.Select(t => (ITransformer)t).ToArray());
        }
        catch
        {
            TemporaryFiles.Delete(_onnxPath);
            throw;
        }
    }

    /// <summary>The number of floats H of a state (<see cref="IncrementalColumns.State"/>, <see cref="IncrementalColumns.NextState"/>).</summary>
    public int StateSize { get; }

    /// <summary>The name of the column holding the new items (the full model's history column).</summary>
    public string HistoryColumnName => _description.HistoryColumnName;

    /// <summary>The number of items N the model ranks.</summary>
    public int ItemCount => _description.ItemCount;

    /// <summary>The length K of <see cref="SequenceColumns.TopItems"/>.</summary>
    public int TopK => Math.Min(_description.TopK, _description.ItemCount);

    /// <summary>The type of one item id of the history and seen columns and of <see cref="SequenceColumns.TopItems"/>.</summary>
    public DataViewType ItemIdType => _description.Items.ItemType;

    /// <summary>Writes the incremental ONNX graph (opset 17; it reads and writes item keys, format in the model's metadata).</summary>
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
        ArgumentNullException.ThrowIfNull(inputSchema);
        return Checked(inputSchema).GetOutputSchema(inputSchema);
    }

    /// <inheritdoc/>
    public IDataView Transform(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return Checked(input.Schema).Transform(input);
    }

    /// <inheritdoc/>
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        return ((ITransformer)Checked(inputSchema)).GetRowToRowMapper(inputSchema);
    }

    /// <summary>Saves the inner chain of built-in transformers: the zip loads with public ML.NET alone.</summary>
    void ICanSaveModel.Save(ModelSaveContext ctx)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!File.Exists(_onnxPath))
        {
            Directory.CreateDirectory(Path.GetDirectoryName(_onnxPath)!);
            File.WriteAllBytes(_onnxPath, _onnxModel);
        }
        ((ICanSaveModel)_chain).Save(ctx);
    }

    private TransformerChain<ITransformer> Checked(DataViewSchema schema)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var state = SchemaChecks.Column(schema, IncrementalColumns.State, "state");
        if (state.Type is not VectorDataViewType { ItemType: NumberDataViewType stateItem } || stateItem != NumberDataViewType.Single)
            throw new ArgumentOutOfRangeException(IncrementalColumns.State,
                $"The state column '{IncrementalColumns.State}' must be a Vector<Single> (the previous {IncrementalColumns.NextState}, or empty for a new user), " +
                $"but its type is {SchemaChecks.Describe(state.Type)}.");
        var idType = new VectorDataViewType(_description.Items.ItemType);
        foreach (var (name, role) in new[] { (HistoryColumnName, "history"), (IncrementalColumns.Seen, "seen-items") })
        {
            var column = SchemaChecks.Column(schema, name, role);
            if (column.Type is not VectorDataViewType vector || !vector.ItemType.Equals(_description.Items.ItemType))
                throw new ArgumentOutOfRangeException(name,
                    $"The {role} column '{name}' must be a vector of the model's item ids ({SchemaChecks.Describe(idType)}), " +
                    $"but its type is {SchemaChecks.Describe(column.Type)}.");
        }
        return _chain;
    }

    private static EstimatorChain<ITransformer> BuildEstimator(MLContext mlContext, RecommendationModelDescription d, string onnxPath)
    {
        const Transforms.ValueToKeyMappingEstimator.KeyOrdinality inKeyOrder = Transforms.ValueToKeyMappingEstimator.KeyOrdinality.ByOccurrence;
        var conversion = mlContext.Transforms.Conversion;
        string history = d.HistoryColumnName;
        var saved = new[] { (Copy: SavedHistoryColumn, Column: history), (Copy: SavedSeenColumn, Column: IncrementalColumns.Seen) };
        var chain = new EstimatorChain<ITransformer>();
        foreach (var (copy, column) in saved)
            chain = chain.Append<ITransformer>(mlContext.Transforms.CopyColumns(copy, column));
        // Ids become the model's keys in place (unknown ids the missing key 0, which the graph drops).
        foreach (var (_, column) in saved)
            chain = chain.Append<ITransformer>(conversion.MapValueToKey(column, column, keyOrdinality: inKeyOrder, keyData: d.Items.KeyData()));
        var outputs = new List<string> { IncrementalGraph.NextStateOutput, RecommendationGraph.TopItemKeysOutput, RecommendationGraph.TopScoresOutput };
        if (d.IncludeScores) outputs.Add(RecommendationGraph.ScoresOutput);
        chain = chain.Append<ITransformer>(mlContext.Transforms.ApplyOnnxModel(new OnnxOptions
        {
            ModelFile = onnxPath,
            InputColumns = new[] { IncrementalGraph.StateInput, history, IncrementalGraph.SeenInput },
            OutputColumns = outputs.ToArray(),
            GpuDeviceId = null,
            FallbackToCpu = true,
            // One intra-op thread: one user's step is small, and threading overhead dominates.
            IntraOpNumThreads = 1,
            InterOpNumThreads = 1,
        }));
        // Keys back to ids; the key 0 of the places beyond the unseen items is not in the map: the default id.
        var lookup = d.Items.IndexLookup(missingId: false);
        chain = chain.Append<ITransformer>(conversion.MapValue(SequenceColumns.TopItems, lookup,
            lookup.Schema[IdVocabulary.IndexColumn], lookup.Schema[IdVocabulary.ValueColumn], RecommendationGraph.TopItemKeysOutput));
        var drop = new List<string> { RecommendationGraph.TopItemKeysOutput };
        foreach (var (copy, column) in saved)
        {
            chain = chain.Append<ITransformer>(mlContext.Transforms.CopyColumns(column, copy));
            drop.Add(copy);
        }
        return chain.Append<ITransformer>(mlContext.Transforms.DropColumns(drop.ToArray()));
    }

    /// <summary>An empty view with the model's input columns, to fit the chain (no estimator in it reads rows).</summary>
    private static IDataView EmptyInputView(RecommendationModelDescription d)
        => new ArrayDataView(0,
            new RaggedArrayColumn<float>(IncrementalColumns.State, NumberDataViewType.Single, new int[1], Array.Empty<float>()),
            d.Items.EmptyVectorColumn(d.HistoryColumnName),
            d.Items.EmptyVectorColumn(IncrementalColumns.Seen));

    /// <summary>Releases the ONNX session and deletes the temporary graph file.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var t in _chain)
            (t as IDisposable)?.Dispose();
        TemporaryFiles.Delete(_onnxPath);
    }
}
