using Microsoft.ML.Data;

namespace Microsoft.ML.Svae;

/// <summary>Options every recommender shares: the history column it reads and the outputs it writes.</summary>
public abstract class RecommendationTrainerOptions
{
    /// <summary>
    /// The input column: a variable-length <c>Vector&lt;Key&lt;UInt32&gt;&gt;</c> of item keys in time order
    /// (the whole history of a training user; the fold-in of a held-out user). Its <c>KeyValues</c> annotation, if
    /// any, gives the item ids the fitted model reads and writes (see <see cref="RecommendationTransformer"/>).
    /// </summary>
    public string HistoryColumnName { get; set; } = SequenceColumns.History;

    /// <summary>The length K of the <see cref="SequenceColumns.TopItems"/> output (at most the number of items).</summary>
    public int TopK { get; set; } = 100;

    /// <summary>Also output <see cref="SequenceColumns.Scores"/>, the score of every item (seen items at negative infinity).</summary>
    public bool OutputScores { get; set; }

    /// <summary>Checks the options; throws <see cref="ArgumentOutOfRangeException"/> naming the bad option.</summary>
    public virtual void Validate()
    {
        if (string.IsNullOrWhiteSpace(HistoryColumnName))
            throw new ArgumentOutOfRangeException(nameof(HistoryColumnName), "HistoryColumnName must name the history column.");
        if (TopK < 1)
            throw new ArgumentOutOfRangeException(nameof(TopK), TopK, "TopK must be at least 1.");
    }
}

/// <summary>
/// The estimator side shared by every recommender: schema propagation and checks, reading the
/// history column, and the <c>Fit(train, validation)</c> overload.
/// </summary>
/// <typeparam name="TTransformer">The fitted recommender.</typeparam>
public abstract class RecommendationTrainerBase<TTransformer> : IEstimator<TTransformer>
    where TTransformer : RecommendationTransformer
{
    private protected RecommendationTrainerBase(IHostEnvironment env, RecommendationTrainerOptions options, string name)
    {
        ArgumentNullException.ThrowIfNull(env);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Host = env.Register(name);
        BaseOptions = options;
    }

    private protected IHost Host { get; }

    private protected RecommendationTrainerOptions BaseOptions { get; }

    /// <summary>Trains on the histories in <paramref name="input"/>.</summary>
    public TTransformer Fit(IDataView input) => Fit(input, null);

    /// <summary>
    /// Trains on <paramref name="trainData"/>; where the model uses it, <paramref name="validationData"/>
    /// (held-out users with the history column as fold-in and <see cref="SequenceColumns.FoldOut"/>)
    /// drives early stopping.
    /// </summary>
    public TTransformer Fit(IDataView trainData, IDataView? validationData)
    {
        ArgumentNullException.ThrowIfNull(trainData);
        var train = UserSequences.ReadTrainingHistories(Host, trainData, BaseOptions.HistoryColumnName, nameof(trainData));
        return Train(trainData, train, validationData);
    }

    private protected abstract TTransformer Train(IDataView trainData, UserSequences train, IDataView? validationData);

    /// <summary>
    /// The model's description. The graph outputs item keys; the raw item ids behind them (what the fitted model reads
    /// and writes) come from the history column's <c>KeyValues</c> annotation, or are the keys themselves without one.
    /// </summary>
    private protected RecommendationModelDescription Describe(IDataView trainData, string modelName, int itemCount)
        => new(modelName, BaseOptions.HistoryColumnName, itemCount, BaseOptions.TopK, BaseOptions.OutputScores, Keys(itemCount))
        {
            Items = IdVocabulary.FromKeyColumn(trainData.Schema[BaseOptions.HistoryColumnName], itemCount),
        };

    /// <summary>The keys 1..<paramref name="count"/>: what the graph outputs for each item.</summary>
    private static long[] Keys(int count) => Enumerable.Range(1, count).Select(i => (long)i).ToArray();

    /// <summary>Checks the input columns other than the history (e.g. a user key column); called by <see cref="GetOutputSchema"/>.</summary>
    private protected virtual void CheckInputShape(SchemaShape inputSchema)
    {
    }

    /// <inheritdoc/>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        ArgumentNullException.ThrowIfNull(inputSchema);
        string name = BaseOptions.HistoryColumnName;
        var found = inputSchema.Where(c => c.Name == name).ToList();
        if (found.Count == 0)
            throw new ArgumentOutOfRangeException(name, $"The history column '{name}' was not found in the input schema.");
        var column = found[^1];
        if (column.Kind == SchemaShape.Column.VectorKind.Scalar || !column.IsKey || column.ItemType.RawType != typeof(uint))
            throw new ArgumentOutOfRangeException(name,
                $"The history column '{name}' must be a vector of Key<UInt32> item keys, but is a {column.Kind} of {SchemaChecks.Describe(column.ItemType)}{(column.IsKey ? " keys" : "")}.");
        CheckInputShape(inputSchema);
        // A schema shape does not carry the key count; a placeholder vocabulary of TopK items gives the same column shapes.
        int items = BaseOptions.TopK;
        var description = new RecommendationModelDescription(GetType().Name, name, items, BaseOptions.TopK, BaseOptions.OutputScores, Keys(items));
        return RecommendationTransformer.OutputShape(Host, inputSchema, description);
    }
}
