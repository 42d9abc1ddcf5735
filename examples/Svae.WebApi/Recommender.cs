using System.Globalization;
using Microsoft.Extensions.ObjectPool;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Svae.WebApi;

/// <summary>Recommendations: item ids best first (of the model's id type: <see cref="string"/>, <see cref="long"/> or <see cref="uint"/>) and their scores.</summary>
/// <param name="Items">The recommended item ids, best first; never an item of the history.</param>
/// <param name="Scores">The model's score of each item, in the same order.</param>
public sealed record Recommendations(IReadOnlyList<object> Items, IReadOnlyList<float> Scores);

/// <summary>Scores a history of item ids. Implementations are thread-safe.</summary>
public interface IRecommender
{
    /// <summary>The type of the item ids the model reads and writes: <c>String</c>, <c>Int64</c> or <c>UInt32</c>.</summary>
    string ItemIdType { get; }

    /// <summary>The type of the user ids the model reads (models with per-user parameters: BPR, FPMC, Caser), or null.</summary>
    string? UserIdType { get; }

    /// <summary>The largest number of recommendations the model gives (its K).</summary>
    int MaxK { get; }

    /// <summary>The number of item ids the model knows (the key count of its <c>History</c> column), or null when its schema does not tell.</summary>
    ulong? ItemCount { get; }

    /// <summary>Null when <paramref name="text"/> is an item id of the model's type, else why it is not.</summary>
    string? CheckItemId(string text);

    /// <summary>Null when <paramref name="text"/> is a user id of the model's type (or the model reads no user), else why it is not.</summary>
    string? CheckUserId(string text);

    /// <summary>
    /// The top <paramref name="k"/> items for a history of item ids (oldest first; ids the model does not know are
    /// ignored), excluding the history's items; fewer than <paramref name="k"/> when fewer items are unseen.
    /// </summary>
    Recommendations Recommend(IReadOnlyList<string> history, string? userId, int k);
}

/// <summary>
/// Loads a model zip with public ML.NET (no reference to MLNet.Svae) and scores with a pool of prediction engines:
/// a <see cref="PredictionEngine{TSrc, TDst}"/> is not thread-safe, so each request borrows one from an
/// <see cref="ObjectPool{T}"/> and returns it.
/// </summary>
public static class ModelRecommender
{
    /// <summary>Loads the zip at <paramref name="path"/>; a missing or damaged file is a <see cref="ModelStartupException"/> naming the configuration key.</summary>
    public static IRecommender Load(MLContext mlContext, string? path)
    {
        if (string.IsNullOrWhiteSpace(path))
            throw new ModelStartupException(
                $"Configuration key '{ServingOptions.ModelPathKey}' is not set: set it to the path of a model zip written by MLNet.Svae " +
                "(e.g. --Svae:ModelPath=model.zip, or the environment variable Svae__ModelPath).");
        string fullPath = Path.GetFullPath(path);
        if (!File.Exists(fullPath))
            throw new ModelStartupException($"Configuration key '{ServingOptions.ModelPathKey}': the model file '{fullPath}' does not exist.");
        ITransformer model;
        try
        {
            model = mlContext.Model.Load(fullPath, out _);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new ModelStartupException(
                $"Configuration key '{ServingOptions.ModelPathKey}': the file '{fullPath}' is not a model zip ML.NET can load ({e.Message}).", e);
        }
        var recommender = TryCreate<uint>(mlContext, model) ?? TryCreate<long>(mlContext, model) ?? TryCreate<string>(mlContext, model);
        if (recommender is null)
        {
            (model as IDisposable)?.Dispose();
            throw new ModelStartupException(
                $"Configuration key '{ServingOptions.ModelPathKey}': the model '{fullPath}' does not read a 'History' column of UInt32, Int64 or String item ids " +
                "and write 'TopItems' and 'TopScores'; is it a recommender zip written by MLNet.Svae?");
        }
        return recommender;
    }

    private static IRecommender? TryCreate<TItem>(MLContext mlContext, ITransformer model)
        where TItem : notnull
        => TryCreate<TItem, uint>(mlContext, model) ?? TryCreate<TItem, long>(mlContext, model) ?? TryCreate<TItem, string>(mlContext, model);

    private static IRecommender? TryCreate<TItem, TUser>(MLContext mlContext, ITransformer model)
        where TItem : notnull
        where TUser : notnull
    {
        var output = OutputSchema(mlContext, model, Array.Empty<ModelInput<TItem, TUser>>());
        if (output?.GetColumnOrNull("TopItems") is not { Type: VectorDataViewType { ItemType: var itemType } topItems }
            || itemType.RawType != (typeof(TItem) == typeof(string) ? typeof(ReadOnlyMemory<char>) : typeof(TItem))
            || output.GetColumnOrNull("TopScores") is null)
            return null;
        // A model that also scores without a user column reads none: TUser is then irrelevant.
        bool readsUser = OutputSchema(mlContext, model, Array.Empty<HistoryOnlyInput<TItem>>()) is null;
        var recommender = new PooledRecommender<TItem, TUser>(mlContext, model, readsUser);
        recommender.MaxK = topItems.Size > 0 ? topItems.Size : recommender.PlacesForEmptyHistory();
        recommender.ItemCount = ModelRecommender.HistoryKeyCount(output);
        return recommender;
    }

    private static DataViewSchema? OutputSchema<T>(MLContext mlContext, ITransformer model, T[] rows)
        where T : class
    {
        try
        {
            return model.GetOutputSchema(mlContext.Data.LoadFromEnumerable(rows).Schema);
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException)
        {
            return null; // the model reads other types or columns
        }
    }

    /// <summary>
    /// The number of item ids a model knows: the key count of the item keys its <c>History</c> column becomes inside
    /// the model (a hidden column of <paramref name="output"/> when the ids are copied back); null when there is none.
    /// </summary>
    internal static ulong? HistoryKeyCount(DataViewSchema output)
    {
        foreach (var column in output)
        {
            if (column.Name == "History" && column.Type is VectorDataViewType { ItemType: KeyDataViewType key })
                return key.Count;
        }
        return null;
    }

    internal static string TypeName<T>() => typeof(T) == typeof(string) ? "String" : typeof(T) == typeof(long) ? "Int64" : "UInt32";

    internal static bool TryParse<T>(string text, out T value)
    {
        object? parsed = typeof(T) == typeof(string) ? text
            : typeof(T) == typeof(long) ? (long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long l) ? l : null)
            : uint.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out uint u) ? u : null;
        value = parsed is null ? default! : (T)parsed;
        return parsed is not null;
    }
}

/// <summary>The model's input: the user's item ids in time order, and the user's id for models that read one.</summary>
/// <typeparam name="TItem">The item id type.</typeparam>
/// <typeparam name="TUser">The user id type.</typeparam>
public sealed class ModelInput<TItem, TUser>
{
    /// <summary>The item ids, oldest first.</summary>
    public TItem[] History { get; set; } = [];

    /// <summary>The user id (read only by models with per-user parameters).</summary>
    public TUser UserId { get; set; } = default!;
}

/// <summary>The model's input without a user column (to find out whether a model reads one).</summary>
/// <typeparam name="TItem">The item id type.</typeparam>
public sealed class HistoryOnlyInput<TItem>
{
    /// <summary>The item ids, oldest first.</summary>
    public TItem[] History { get; set; } = [];
}

/// <summary>The model's output: K item ids best first and their scores (negative infinity: no recommendation).</summary>
/// <typeparam name="TItem">The item id type.</typeparam>
public sealed class ModelOutput<TItem>
{
    /// <summary>The top-K item ids, best first.</summary>
    public TItem[] TopItems { get; set; } = [];

    /// <summary>Their scores.</summary>
    public float[] TopScores { get; set; } = [];
}

internal sealed class PooledRecommender<TItem, TUser> : IRecommender, IDisposable
    where TItem : notnull
    where TUser : notnull
{
    private readonly ITransformer _model;
    private readonly ObjectPool<PredictionEngine<ModelInput<TItem, TUser>, ModelOutput<TItem>>> _engines;
    private readonly bool _readsUser;

    public PooledRecommender(MLContext mlContext, ITransformer model, bool readsUser)
    {
        _model = model;
        _readsUser = readsUser;
        // Engines are never disposed: PredictionEngine.Dispose also disposes the model's transformers (the ONNX session
        // every engine shares; dotnet/machinelearning#5945), so the pool is DefaultObjectPool, which drops engines it
        // does not retain, rather than the disposing pool DefaultObjectPoolProvider creates for IDisposable objects.
        // Engines beyond the retained ones (more requests at once than that) are created for the request and dropped.
        _engines = new DefaultObjectPool<PredictionEngine<ModelInput<TItem, TUser>, ModelOutput<TItem>>>(
            new EnginePolicy(mlContext, model), maximumRetained: Math.Max(16, 4 * Environment.ProcessorCount));
    }

    public string ItemIdType => ModelRecommender.TypeName<TItem>();

    public string? UserIdType => _readsUser ? ModelRecommender.TypeName<TUser>() : null;

    public int MaxK { get; set; }

    public ulong? ItemCount { get; set; }

    public string? CheckItemId(string text) => ModelRecommender.TryParse<TItem>(text, out _)
        ? null
        : $"'{text}' is not an item id of this model, which reads {ItemIdType} ids.";

    public string? CheckUserId(string text) => !_readsUser || ModelRecommender.TryParse<TUser>(text, out _)
        ? null
        : $"'{text}' is not a user id of this model, which reads {UserIdType} user ids.";

    public Recommendations Recommend(IReadOnlyList<string> history, string? userId, int k)
    {
        var input = new ModelInput<TItem, TUser> { History = new TItem[history.Count] };
        for (int i = 0; i < history.Count; i++)
        {
            if (!ModelRecommender.TryParse(history[i], out input.History[i]))
                throw new ArgumentException(CheckItemId(history[i]), nameof(history));
        }
        // No user, or an id the model does not know: an unknown user (the model's default for it).
        input.UserId = userId is not null && _readsUser && ModelRecommender.TryParse(userId, out TUser user) ? user
            : typeof(TUser) == typeof(string) ? (TUser)(object)"" : default!;
        var output = Predict(input);
        var items = new List<object>(k);
        var scores = new List<float>(k);
        for (int i = 0; i < output.TopItems.Length && items.Count < k; i++)
        {
            if (float.IsNegativeInfinity(output.TopScores[i]))
                break; // fewer than K items unseen: the rest are no recommendations
            items.Add(output.TopItems[i]);
            scores.Add(output.TopScores[i]);
        }
        return new Recommendations(items, scores);
    }

    /// <summary>The number of places the model writes (its K), from a prediction for an empty history.</summary>
    public int PlacesForEmptyHistory() => Predict(new ModelInput<TItem, TUser>
    {
        UserId = typeof(TUser) == typeof(string) ? (TUser)(object)"" : default!,
    }).TopItems.Length;

    private ModelOutput<TItem> Predict(ModelInput<TItem, TUser> input)
    {
        var engine = _engines.Get();
        try
        {
            return engine.Predict(input);
        }
        finally
        {
            _engines.Return(engine);
        }
    }

    public void Dispose()
    {
        // The loaded OnnxTransformer keeps a temporary copy of the graph until it is disposed.
        (_model as IDisposable)?.Dispose();
    }

    private sealed class EnginePolicy(MLContext mlContext, ITransformer model) : IPooledObjectPolicy<PredictionEngine<ModelInput<TItem, TUser>, ModelOutput<TItem>>>
    {
        public PredictionEngine<ModelInput<TItem, TUser>, ModelOutput<TItem>> Create()
            => mlContext.Model.CreatePredictionEngine<ModelInput<TItem, TUser>, ModelOutput<TItem>>(model);

        public bool Return(PredictionEngine<ModelInput<TItem, TUser>, ModelOutput<TItem>> engine) => true;
    }
}
