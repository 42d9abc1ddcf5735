using Microsoft.ML.Data;
using Microsoft.ML.Svae.Onnx;
using Microsoft.ML.Transforms.Onnx;

namespace Microsoft.ML.Svae;

/// <summary>
/// The fitted form of every recommender in this library: it reads the history column and adds
/// <see cref="SequenceColumns.TopItems"/> (the top-K items, best first, seen items excluded),
/// <see cref="SequenceColumns.TopScores"/> and, on request, <see cref="SequenceColumns.Scores"/>.
/// </summary>
/// <remarks>
/// <para>
/// The history column may hold either form of the items:
/// </para>
/// <list type="bullet">
/// <item><description>the user's own item ids (<c>Vector&lt;T&gt;</c>, T the type of the ids the model was trained on:
/// <see cref="ItemIdType"/>, e.g. UInt32, Int64 or String); <see cref="SequenceColumns.TopItems"/> is then a
/// <c>Vector&lt;T&gt;</c> of item ids too. Ids the model does not know are ignored. Where fewer than K items are
/// unseen, the remaining places hold the default value (0, or the empty string) and <see cref="SequenceColumns.TopScores"/>
/// holds negative infinity: a place with a score of negative infinity is no recommendation.</description></item>
/// <item><description>item keys (<c>Vector&lt;Key&lt;UInt32&gt;&gt;</c> with the key count <see cref="ItemCount"/> of the
/// training data, as in a <see cref="SequenceDataset"/>); <see cref="SequenceColumns.TopItems"/> is then a
/// <c>Vector&lt;Key&lt;UInt32&gt;&gt;</c> of the same key type with the same <c>KeyValues</c> annotation (so
/// <c>MapKeyToValue</c> turns it into ids), and the missing key 0 fills the places beyond the unseen items.
/// Keys of another key count (another vocabulary) are an error.</description></item>
/// </list>
/// <para>
/// The item ids the model knows come from the <c>KeyValues</c> annotation of the training data's history column
/// (written by <c>MapValueToKey</c> and by <c>mlContext.Recommendation().Data</c>); without one, the ids are the
/// keys 1..N themselves (UInt32). Models with a user column (BPR, FPMC, Caser) read the user the same way: a
/// user id (of <see cref="UserKeyedRecommendationTransformer.UserIdType"/>) with item ids, a user key with item keys.
/// </para>
/// <para>
/// Inside, it is a chain of ML.NET's own transformers: <c>MapValueToKey</c> (ids to the model's keys), an
/// <c>OnnxTransformer</c> running the ONNX graph written by the trainer (format described in the model's metadata),
/// <c>MapValue</c> (the top keys back to ids) and a column drop. <see cref="ICanSaveModel.Save(ModelSaveContext)"/>
/// saves the id form of that chain, so <c>mlContext.Model.Save</c> writes an ordinary ML.NET zip that takes and
/// returns item ids, and <c>mlContext.Model.Load</c> returns a <see cref="TransformerChain{TLastTransformer}"/>
/// that needs only Microsoft.ML, Microsoft.ML.OnnxTransformer and Microsoft.ML.OnnxRuntime — not this assembly,
/// not TorchSharp. <see cref="AsKeyInputModel"/> gives the key form for pipelines that hold keys (they can also
/// prepend <c>MapKeyToValue</c> to the id form).
/// </para>
/// <para>
/// Temporary files: the transformer writes its graph to <c>&lt;temp&gt;/mlnet-svae/&lt;process id&gt;/</c> and deletes
/// it on <see cref="Dispose()"/>; the folder is deleted when the process exits, and folders of processes that no
/// longer run are deleted the next time a model is created. A model loaded from a zip is ML.NET's own
/// <c>OnnxTransformer</c>, which copies the graph to a file in <c>MLContext.TempFilePath</c> (the system temporary
/// folder by default) and deletes it when the loaded model is disposed: dispose loaded models.
/// </para>
/// </remarks>
public abstract class RecommendationTransformer : ITransformer, IDisposable
{
    // Internal columns of the chain, dropped from its output: the input columns as given, and the top item ids
    // on their way back to keys.
    private const string SavedHistoryColumn = "Svae.History";
    private const string SavedUserColumn = "Svae.UserId";
    private const string TopItemIdsColumn = "Svae.TopItemIds";

    private readonly IHostEnvironment _env;
    private readonly string _onnxPath;
    private readonly byte[] _onnxModel;
    private readonly object _chainLock = new();
    private readonly TransformerChain<ITransformer> _keyChain;
    private TransformerChain<ITransformer>? _idChain;
    private bool _disposed;

    private protected RecommendationTransformer(IHostEnvironment env, RecommendationModelDescription description, byte[] onnxModel)
    {
        ArgumentNullException.ThrowIfNull(env);
        _env = env;
        Description = description;
        _onnxModel = onnxModel;
        _onnxPath = TemporaryFiles.Write(onnxModel, ".onnx");
        try
        {
            _keyChain = BuildChain(env, description, _onnxPath, InputForm.Keys);
        }
        catch
        {
            TemporaryFiles.Delete(_onnxPath);
            throw;
        }
    }

    /// <summary>The two forms of the history (and user) input.</summary>
    private enum InputForm
    {
        /// <summary>Item keys of the model's key type.</summary>
        Keys,

        /// <summary>The user's own item ids.</summary>
        Ids,
    }

    /// <summary>The temporary file holding the graph the ONNX transformers read (deleted on <see cref="Dispose()"/>).</summary>
    internal string TemporaryGraphPath => _onnxPath;

    /// <summary>What the model reads and writes: column names, item count, list length, vocabularies.</summary>
    internal RecommendationModelDescription Description { get; }

    /// <summary>The name of the history column the model reads.</summary>
    public string HistoryColumnName => Description.HistoryColumnName;

    /// <summary>The number of items N the model ranks (keys 1..N of the history column).</summary>
    public int ItemCount => Description.ItemCount;

    /// <summary>The length K of <see cref="SequenceColumns.TopItems"/>.</summary>
    public int TopK => Math.Min(Description.TopK, Description.ItemCount);

    /// <summary>
    /// The type of one item id the model reads and writes (e.g. <c>UInt32</c>, <c>Int64</c> or <c>String</c>):
    /// the type of the training history's <c>KeyValues</c>, or <c>UInt32</c> (the keys themselves) without them.
    /// </summary>
    public DataViewType ItemIdType => Description.Items.ItemType;

    /// <summary>Writes the model's ONNX graph (opset 17) to <paramref name="stream"/>, e.g. to serve it with ONNX Runtime directly (it reads and writes item keys).</summary>
    public void ExportOnnx(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        stream.Write(_onnxModel);
    }

    /// <summary>
    /// The model in its key form, as a transformer to save with <c>mlContext.Model.Save</c> for pipelines that hold
    /// item keys: the saved zip reads <c>Vector&lt;Key&lt;UInt32&gt;&gt;</c> item keys of the model's key type (and
    /// user keys) and writes <see cref="SequenceColumns.TopItems"/> as keys; keys of another key count are rejected
    /// ("Could not apply a map over type 'Key&lt;UInt32, 0-N&gt;' ..."). It shares this transformer's ONNX session and
    /// graph file (it has no resources of its own): use it while this transformer is not disposed.
    /// </summary>
    public ITransformer AsKeyInputModel()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return new KeyInputModel(this);
    }

    /// <summary>
    /// <paramref name="given"/> with the history column (and the user column, for models that read one) typed as the
    /// saved zip reads them: vectors of item ids of <see cref="ItemIdType"/> (and scalar user ids) instead of keys.
    /// <see cref="SequenceRecommendationCatalog.SaveModel"/> stores this schema in the zip, so that
    /// <c>mlContext.Model.Load(path, out inputSchema)</c> reports the input the zip really takes.
    /// </summary>
    internal DataViewSchema IdInputSchema(DataViewSchema given)
    {
        var builder = new DataViewSchema.Builder();
        foreach (var column in given)
        {
            if (column.Name == Description.HistoryColumnName)
                builder.AddColumn(column.Name, new VectorDataViewType(Description.Items.ItemType));
            else if (column.Name == Description.UserIdColumnName && Description.Users is { } users)
                builder.AddColumn(column.Name, users.ItemType);
            else
                builder.AddColumn(column.Name, column.Type, column.Annotations);
        }
        return builder.ToSchema();
    }

    /// <inheritdoc/>
    public bool IsRowToRowMapper => true;

    /// <inheritdoc/>
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        return Chain(CheckInput(inputSchema)).GetOutputSchema(inputSchema);
    }

    /// <inheritdoc/>
    public IDataView Transform(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        return Chain(CheckInput(input.Schema)).Transform(input);
    }

    /// <inheritdoc/>
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        return ((ITransformer)Chain(CheckInput(inputSchema))).GetRowToRowMapper(inputSchema);
    }

    /// <summary>Saves the id form of the inner chain of built-in transformers: the zip loads with public ML.NET alone.</summary>
    void ICanSaveModel.Save(ModelSaveContext ctx)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var chain = Chain(InputForm.Ids);
        EnsureGraphFile();
        ((ICanSaveModel)chain).Save(ctx);
    }

    /// <summary>
    /// Writes the graph file again if something deleted it (e.g. a temporary-folder cleanup): the ONNX transformers
    /// read it when they are created and when they are saved.
    /// </summary>
    private void EnsureGraphFile()
    {
        if (!File.Exists(_onnxPath))
        {
            Directory.CreateDirectory(Path.GetDirectoryName(_onnxPath)!);
            File.WriteAllBytes(_onnxPath, _onnxModel);
        }
    }

    private TransformerChain<ITransformer> Chain(InputForm form)
    {
        if (form == InputForm.Keys)
            return _keyChain;
        lock (_chainLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_idChain is null)
            {
                EnsureGraphFile();
                _idChain = BuildChain(_env, Description, _onnxPath, InputForm.Ids);
            }
            return _idChain;
        }
    }

    private InputForm CheckInput(DataViewSchema schema)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var d = Description;
        string name = d.HistoryColumnName;
        var column = SchemaChecks.Column(schema, name, "history");
        string keyType = $"Vector<Key<UInt32>> with {d.ItemCount} keys";
        string idType = SchemaChecks.Describe(new VectorDataViewType(d.Items.ItemType));
        InputForm form;
        if (column.Type is VectorDataViewType { ItemType: KeyDataViewType key } && key.RawType == typeof(uint))
        {
            if (key.Count != (ulong)d.ItemCount)
                throw new ArgumentOutOfRangeException(name,
                    $"The history column '{name}' has {key.Count} item keys, but the model was trained on {d.ItemCount} items. " +
                    $"Map item ids with the same vocabulary (key type) as the training data, or pass the item ids themselves ({idType}).");
            form = InputForm.Keys;
        }
        else if (column.Type is VectorDataViewType vector && vector.ItemType.Equals(d.Items.ItemType))
        {
            form = InputForm.Ids;
        }
        else
        {
            throw new ArgumentOutOfRangeException(name,
                $"The history column '{name}' must be a vector of the model's item ids ({idType}) or of its item keys ({keyType}), " +
                $"but its type is {SchemaChecks.Describe(column.Type)}.");
        }
        if (d.UserIdColumnName is string user)
        {
            var userColumn = SchemaChecks.Column(schema, user, "user id");
            if (form == InputForm.Keys && (userColumn.Type is not KeyDataViewType userKey || userKey.RawType != typeof(uint)))
                throw new ArgumentOutOfRangeException(user,
                    $"The user id column '{user}' must be a Key<UInt32> (the user keys of the training data) when the history holds item keys, but its type is {SchemaChecks.Describe(userColumn.Type)}.");
            if (form == InputForm.Ids && !userColumn.Type.Equals(d.Users!.ItemType))
                throw new ArgumentOutOfRangeException(user,
                    $"The user id column '{user}' must hold the model's user ids ({SchemaChecks.Describe(d.Users.ItemType)}) when the history holds item ids, but its type is {SchemaChecks.Describe(userColumn.Type)}.");
        }
        return form;
    }

    private static TransformerChain<ITransformer> BuildChain(IHostEnvironment env, RecommendationModelDescription d, string onnxPath, InputForm form)
    {
        var mlContext = env as MLContext ?? new MLContext();
        var fitted = BuildEstimator(mlContext, d, onnxPath, form).Fit(EmptyInputView(d, form));
        return new TransformerChain<ITransformer>(fitted.Select(t => (ITransformer)t).ToArray());
    }

    private static EstimatorChain<ITransformer> BuildEstimator(MLContext mlContext, RecommendationModelDescription d, string onnxPath, InputForm form)
    {
        const Transforms.ValueToKeyMappingEstimator.KeyOrdinality inKeyOrder = Transforms.ValueToKeyMappingEstimator.KeyOrdinality.ByOccurrence;
        var conversion = mlContext.Transforms.Conversion;
        string history = d.HistoryColumnName;
        string? user = d.UserIdColumnName;
        bool mapsUser = user is not null && form == InputForm.Ids;
        // The input columns are mapped in place (so ML.NET's type errors name them) and restored at the end.
        var saved = new List<(string Copy, string Column)> { (SavedHistoryColumn, history) };
        if (mapsUser) saved.Add((SavedUserColumn, user!));
        var chain = new EstimatorChain<ITransformer>();
        foreach (var (copy, column) in saved)
            chain = chain.Append<ITransformer>(mlContext.Transforms.CopyColumns(copy, column));
        // Ids become the model's keys (unknown ids the missing key 0, which the graph drops); keys pass through a
        // mapping of the model's own key type onto itself, which rejects keys of another key count.
        chain = chain.Append<ITransformer>(conversion.MapValueToKey(history, history, keyOrdinality: inKeyOrder,
            keyData: form == InputForm.Ids ? d.Items.KeyData() : KeyIdentity(d.Items.KeyType)));
        if (mapsUser)
            chain = chain.Append<ITransformer>(conversion.MapValueToKey(user!, user!, keyOrdinality: inKeyOrder, keyData: d.Users!.KeyData()));
        var outputs = new List<string> { RecommendationGraph.TopItemKeysOutput, RecommendationGraph.TopScoresOutput };
        if (d.IncludeScores) outputs.Add(RecommendationGraph.ScoresOutput);
        var onnxOptions = new OnnxOptions
        {
            ModelFile = onnxPath,
            InputColumns = user is null ? new[] { history } : new[] { history, user },
            OutputColumns = outputs.ToArray(),
            GpuDeviceId = null,
            FallbackToCpu = true,
            // One intra-op thread: a single user's graph is small, and threading overhead dominates.
            IntraOpNumThreads = 1,
            InterOpNumThreads = 1,
        };
        chain = chain.Append<ITransformer>(mlContext.Transforms.ApplyOnnxModel(onnxOptions));
        var drop = new List<string> { RecommendationGraph.TopItemKeysOutput };
        if (form == InputForm.Ids)
        {
            // Keys back to ids; the key 0 of the places beyond the unseen items is not in the map: the default id.
            var lookup = d.Items.IndexLookup(missingId: false);
            chain = chain.Append<ITransformer>(conversion.MapValue(SequenceColumns.TopItems, lookup,
                lookup.Schema[IdVocabulary.IndexColumn], lookup.Schema[IdVocabulary.ValueColumn], RecommendationGraph.TopItemKeysOutput));
        }
        else
        {
            // Keys to ids and back to keys of the history's key type, which gives TopItems the KeyValues annotation;
            // the key 0 maps to an id outside the vocabulary, which maps back to the missing key 0.
            var lookup = d.Items.IndexLookup(missingId: true);
            chain = chain
                .Append<ITransformer>(conversion.MapValue(TopItemIdsColumn, lookup,
                    lookup.Schema[IdVocabulary.IndexColumn], lookup.Schema[IdVocabulary.ValueColumn], RecommendationGraph.TopItemKeysOutput))
                .Append<ITransformer>(conversion.MapValueToKey(SequenceColumns.TopItems, TopItemIdsColumn, keyOrdinality: inKeyOrder, keyData: d.Items.KeyData()));
            drop.Add(TopItemIdsColumn);
        }
        foreach (var (copy, column) in saved)
        {
            chain = chain.Append<ITransformer>(mlContext.Transforms.CopyColumns(column, copy));
            drop.Add(copy);
        }
        return chain.Append<ITransformer>(mlContext.Transforms.DropColumns(drop.ToArray()));
    }

    /// <summary>The keys 1..N of <paramref name="keyType"/> as a one-column view: key data mapping those keys onto themselves.</summary>
    private static IDataView KeyIdentity(KeyDataViewType keyType)
    {
        var keys = new uint[keyType.Count];
        for (int i = 0; i < keys.Length; i++)
            keys[i] = (uint)(i + 1);
        return new ArrayDataView(keys.Length, new ScalarArrayColumn<uint>(IdVocabulary.ValueColumn, keyType, keys));
    }

    /// <summary>
    /// The output schema shape of a model with description <paramref name="d"/> reading item keys, computed by the same
    /// chain of built-in estimators over a placeholder graph (ML.NET keeps <see cref="SchemaShape"/>'s constructors internal).
    /// </summary>
    internal static SchemaShape OutputShape(IHostEnvironment env, SchemaShape input, RecommendationModelDescription d)
    {
        var mlContext = env as MLContext ?? new MLContext();
        byte[] placeholder = PopularityGraph.Write(d, new float[d.ItemCount]);
        string path = TemporaryFiles.Write(placeholder, ".onnx");
        try
        {
            return BuildEstimator(mlContext, d, path, InputForm.Keys).GetOutputSchema(input);
        }
        finally
        {
            TemporaryFiles.Delete(path);
        }
    }

    /// <summary>An empty view with the model's input columns in the given form, to fit a chain (no estimator in it reads rows).</summary>
    private static IDataView EmptyInputView(RecommendationModelDescription d, InputForm form)
    {
        var columns = new List<ArrayColumn>
        {
            form == InputForm.Ids
                ? d.Items.EmptyVectorColumn(d.HistoryColumnName)
                : new RaggedArrayColumn<uint>(d.HistoryColumnName, d.Items.KeyType, new int[1], Array.Empty<uint>()),
        };
        if (d.UserIdColumnName is string user)
            columns.Add(form == InputForm.Ids
                ? d.Users!.EmptyScalarColumn(user)
                : new ScalarArrayColumn<uint>(user, d.Users!.KeyType, Array.Empty<uint>()));
        return new ArrayDataView(0, columns.ToArray());
    }

    /// <summary>Releases the ONNX sessions and deletes the temporary graph file.</summary>
    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Releases resources; derived classes call the base.</summary>
    protected virtual void Dispose(bool disposing)
    {
        lock (_chainLock)
        {
            if (_disposed) return;
            _disposed = true;
        }
        if (disposing)
        {
            foreach (var t in _keyChain)
                (t as IDisposable)?.Dispose();
            foreach (var t in _idChain ?? Enumerable.Empty<ITransformer>())
                (t as IDisposable)?.Dispose();
        }
        TemporaryFiles.Delete(_onnxPath);
    }

    /// <summary>The key form of a model (<see cref="AsKeyInputModel"/>): reads and writes keys only; saves the key chain.</summary>
    private sealed class KeyInputModel : ITransformer
    {
        private readonly RecommendationTransformer _model;

        public KeyInputModel(RecommendationTransformer model) => _model = model;

        public bool IsRowToRowMapper => true;

        public DataViewSchema GetOutputSchema(DataViewSchema inputSchema) => Checked(inputSchema).GetOutputSchema(inputSchema);

        public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema) => ((ITransformer)Checked(inputSchema)).GetRowToRowMapper(inputSchema);

        public IDataView Transform(IDataView input)
        {
            ArgumentNullException.ThrowIfNull(input);
            return Checked(input.Schema).Transform(input);
        }

        void ICanSaveModel.Save(ModelSaveContext ctx)
        {
            ObjectDisposedException.ThrowIf(_model._disposed, _model);
            _model.EnsureGraphFile();
            ((ICanSaveModel)_model._keyChain).Save(ctx);
        }

        private TransformerChain<ITransformer> Checked(DataViewSchema schema)
        {
            ArgumentNullException.ThrowIfNull(schema);
            if (_model.CheckInput(schema) != InputForm.Keys)
                throw new ArgumentOutOfRangeException(_model.HistoryColumnName,
                    $"The key form of the model reads item keys: the history column '{_model.HistoryColumnName}' must be a Vector<Key<UInt32>> with {_model.ItemCount} keys.");
            return _model._keyChain;
        }
    }
}

/// <summary>What a fitted recommender reads and writes; shared by every model's transformer.</summary>
/// <remarks>
/// <para><see cref="ItemValues"/> are what the graph outputs for each item: its key (1..N). <see cref="Items"/> holds
/// the raw item ids behind the keys (the training history's <c>KeyValues</c>; the keys themselves by default).</para>
/// <para>Models with per-user parameters (BPR, FPMC, Caser) also read a user column: <see cref="UserIdColumnName"/>
/// (a scalar <c>Key&lt;UInt32&gt;</c>, or a raw user id of <see cref="Users"/>' type), fed to the graph as a second
/// input <c>uint32 [1, 1]</c>; a user key of 0 or above <see cref="UserCount"/> is an unknown user.</para>
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

    /// <summary>The number of user keys of <see cref="UserIdColumnName"/> with parameters.</summary>
    public int UserCount { get; init; }

    private IdVocabulary? _items;

    /// <summary>The raw item ids of the keys 1..<see cref="ItemCount"/> (by default the keys themselves).</summary>
    public IdVocabulary Items
    {
        get => _items ??= IdVocabulary.Keys(ItemCount);
        init => _items = value.Count == ItemCount ? value
            : throw new ArgumentException($"The item vocabulary has {value.Count} ids for {ItemCount} items.", nameof(value));
    }

    private IdVocabulary? _users;

    /// <summary>
    /// The raw user ids of the user keys (the training user column's <c>KeyValues</c>, by default the keys
    /// 1..<see cref="UserCount"/>); <see langword="null"/> without a user column.
    /// </summary>
    public IdVocabulary? Users
    {
        get => UserIdColumnName is null ? null : _users ??= IdVocabulary.Keys(Math.Max(1, UserCount));
        init => _users = value;
    }
}
