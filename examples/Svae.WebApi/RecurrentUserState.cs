using Microsoft.Extensions.ObjectPool;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Svae.WebApi;

/// <summary>
/// Loads the incremental model zip (<c>CreateIncrementalModel()</c> of an SVAE or GRU4Rec model, saved with
/// <c>mlContext.Model.Save</c>) behind <see cref="ServingOptions.IncrementalModelPath"/>.
/// </summary>
public static class RecurrentUserState
{
    /// <summary>
    /// Loads the zip at <paramref name="path"/> for the item id type of <paramref name="recommender"/>; a missing,
    /// damaged or non-incremental file, or the incremental model of another model (a different K or item vocabulary),
    /// is a <see cref="ModelStartupException"/> naming the configuration keys.
    /// </summary>
    public static IUserStateRecommender Load(MLContext mlContext, string path, IRecommender recommender, ServingOptions options)
    {
        string fullPath = Path.GetFullPath(path);
        if (!File.Exists(fullPath))
            throw new ModelStartupException($"Configuration key '{ServingOptions.IncrementalModelPathKey}': the model file '{fullPath}' does not exist.");
        ITransformer model;
        try
        {
            model = mlContext.Model.Load(fullPath, out _);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new ModelStartupException(
                $"Configuration key '{ServingOptions.IncrementalModelPathKey}': the file '{fullPath}' is not a model zip ML.NET can load ({e.Message}).", e);
        }
        (IUserStateRecommender State, int K, ulong? ItemCount)? created = recommender.ItemIdType switch
        {
            "UInt32" => TryCreate<uint>(mlContext, model, options),
            "Int64" => TryCreate<long>(mlContext, model, options),
            _ => TryCreate<string>(mlContext, model, options),
        };
        // Compared where both schemas tell: a zip of another model almost always differs in K or in its item vocabulary.
        if (created is { } c && (c.K != recommender.MaxK || (c.ItemCount is not null && recommender.ItemCount is not null && c.ItemCount != recommender.ItemCount)))
        {
            (model as IDisposable)?.Dispose();
            throw new ModelStartupException(
                $"Configuration key '{ServingOptions.IncrementalModelPathKey}': the incremental model '{fullPath}' gives K = {c.K} recommendations " +
                $"over {Count(c.ItemCount)} item ids, but the model in '{ServingOptions.ModelPathKey}' gives K = {recommender.MaxK} over " +
                $"{Count(recommender.ItemCount)}; it is not that model's incremental model (CreateIncrementalModel() of an SVAE or GRU4Rec model).");
        }
        if (created is not { State: var state })
        {
            (model as IDisposable)?.Dispose();
            throw new ModelStartupException(
                $"Configuration key '{ServingOptions.IncrementalModelPathKey}': the model '{fullPath}' does not read 'State', 'History' and 'Seen' " +
                $"columns of {recommender.ItemIdType} item ids and write 'NextState', 'TopItems' and 'TopScores'; is it the incremental model " +
                $"(CreateIncrementalModel() of an SVAE or GRU4Rec model) of the model in '{ServingOptions.ModelPathKey}'?");
        }
        return state;
    }

    private static string Count(ulong? items) => items?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "an unknown number of";

    private static (IUserStateRecommender State, int K, ulong? ItemCount)? TryCreate<TItem>(MLContext mlContext, ITransformer model, ServingOptions options)
        where TItem : notnull
    {
        DataViewSchema output;
        try
        {
            output = model.GetOutputSchema(mlContext.Data.LoadFromEnumerable(Array.Empty<IncrementalInput<TItem>>()).Schema);
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException)
        {
            return null;
        }
        if (output.GetColumnOrNull("NextState") is null || output.GetColumnOrNull("TopScores") is null
            || output.GetColumnOrNull("TopItems") is not { Type: VectorDataViewType { ItemType: var itemType } topItems }
            || itemType.RawType != (typeof(TItem) == typeof(string) ? typeof(ReadOnlyMemory<char>) : typeof(TItem)))
            return null;
        var state = new RecurrentStateUserState<TItem>(mlContext, model, options);
        // K: the declared length of TopItems, else the places of a new user's first (empty) step.
        return (state, topItems.Size > 0 ? topItems.Size : state.PlacesForNewUser(), ModelRecommender.HistoryKeyCount(output));
    }
}

/// <summary>The incremental model's input.</summary>
/// <typeparam name="TItem">The item id type.</typeparam>
public sealed class IncrementalInput<TItem>
{
    /// <summary>The user's state from the previous event (empty for a new user).</summary>
    public float[] State { get; set; } = [];

    /// <summary>The new items (here: the one item of the event).</summary>
    public TItem[] History { get; set; } = [];

    /// <summary>The items the user saw before, excluded from the recommendations.</summary>
    public TItem[] Seen { get; set; } = [];
}

/// <summary>The incremental model's output.</summary>
/// <typeparam name="TItem">The item id type.</typeparam>
public sealed class IncrementalOutput<TItem>
{
    /// <summary>The state after the new items.</summary>
    public float[] NextState { get; set; } = [];

    /// <summary>The top-K item ids, best first.</summary>
    public TItem[] TopItems { get; set; } = [];

    /// <summary>Their scores (negative infinity: no recommendation).</summary>
    public float[] TopScores { get; set; } = [];
}

/// <summary>
/// The state of a user is the recurrent model's state vector (e.g. SVAE's 200 GRU floats) plus the ids of the
/// user's last <c>MaxHistoryLength</c> events (the items to exclude); each event runs one recurrent step from the
/// kept state instead of rescoring the whole history. At most <c>MaxUsers</c> users are kept (the least recently
/// active is forgotten first: its next event starts a new user; a user with an event in progress is never forgotten).
/// Events of one user are applied one at a time.
/// </summary>
/// <remarks>
/// Up to <c>MaxHistoryLength</c> events this gives the same recommendations as <see cref="HistoryRescoringUserState"/>;
/// beyond it, the state still reflects every event since the user was first seen (the rescoring state forgets the
/// oldest), while the exclusion list keeps the latest <c>MaxHistoryLength</c> items, as the rescoring state does.
/// The state is per process, as <see cref="HistoryRescoringUserState"/>'s is.
/// </remarks>
/// <typeparam name="TItem">The item id type.</typeparam>
public sealed class RecurrentStateUserState<TItem> : IUserStateRecommender, IDisposable
    where TItem : notnull
{
    private sealed class User(string id)
    {
        public string Id { get; } = id;

        public float[] State { get; set; } = [];

        public List<TItem> Seen { get; } = [];

        public int Events { get; set; }

        /// <summary>The number of events being applied or waiting (guarded by <c>_lock</c>).</summary>
        public int InUse { get; set; }
    }

    private readonly ITransformer _model;
    private readonly ServingOptions _options;
    private readonly ObjectPool<PredictionEngine<IncrementalInput<TItem>, IncrementalOutput<TItem>>> _engines;
    private readonly object _lock = new();
    private readonly Dictionary<string, LinkedListNode<User>> _users = new(StringComparer.Ordinal);
    private readonly LinkedList<User> _byRecency = new(); // most recently active first

    internal RecurrentStateUserState(MLContext mlContext, ITransformer model, ServingOptions options)
    {
        _model = model;
        _options = options;
        // Never disposed while the app runs, for the reason given in PooledRecommender.
        _engines = new DefaultObjectPool<PredictionEngine<IncrementalInput<TItem>, IncrementalOutput<TItem>>>(
            new EnginePolicy(mlContext, model), maximumRetained: Math.Max(16, 4 * Environment.ProcessorCount));
    }

    /// <summary>The number of users whose state is kept.</summary>
    public int UserCount
    {
        get
        {
            lock (_lock)
                return _users.Count;
        }
    }

    /// <inheritdoc/>
    public UserRecommendations AddEvent(string userId, string itemId, int k)
    {
        if (!ModelRecommender.TryParse(itemId, out TItem item))
            throw new ArgumentException($"'{itemId}' is not an item id of this model, which reads {ModelRecommender.TypeName<TItem>()} ids.", nameof(itemId));
        var user = Touch(userId);
        try
        {
            lock (user)
            {
                var output = Predict(new IncrementalInput<TItem> { State = user.State, History = [item], Seen = user.Seen.ToArray() });
                user.State = output.NextState;
                user.Seen.Add(item);
                if (user.Seen.Count > _options.MaxHistoryLength)
                    user.Seen.RemoveRange(0, user.Seen.Count - _options.MaxHistoryLength);
                user.Events++;
                var items = new List<object>(k);
                var scores = new List<float>(k);
                for (int i = 0; i < output.TopItems.Length && items.Count < k; i++)
                {
                    if (float.IsNegativeInfinity(output.TopScores[i]))
                        break;
                    items.Add(output.TopItems[i]);
                    scores.Add(output.TopScores[i]);
                }
                return new UserRecommendations(user.Events, new Recommendations(items, scores));
            }
        }
        finally
        {
            Release(user);
        }
    }

    /// <summary>
    /// The user's kept state, created when missing, marked most recently active and in use: a user in use is never
    /// evicted, so its event cannot land on a forgotten object and the id maps to this one object until it is released.
    /// </summary>
    private User Touch(string userId)
    {
        lock (_lock)
        {
            if (_users.TryGetValue(userId, out var node))
            {
                _byRecency.Remove(node);
            }
            else
            {
                // Forget the least recently active users not in use; when all are in use, the limit is exceeded
                // until they are released.
                for (var victim = _byRecency.Last; victim is not null && _users.Count >= _options.MaxUsers;)
                {
                    var before = victim.Previous;
                    if (victim.Value.InUse == 0)
                    {
                        _users.Remove(victim.Value.Id);
                        _byRecency.Remove(victim);
                    }
                    victim = before;
                }
                node = new LinkedListNode<User>(new User(userId));
                _users.Add(userId, node);
            }
            _byRecency.AddFirst(node);
            node.Value.InUse++;
            return node.Value;
        }
    }

    private void Release(User user)
    {
        lock (_lock)
            user.InUse--;
    }

    /// <summary>The length of TopItems for a new user with no items (the model's K).</summary>
    internal int PlacesForNewUser() => Predict(new IncrementalInput<TItem>()).TopItems.Length;

    private IncrementalOutput<TItem> Predict(IncrementalInput<TItem> input)
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

    /// <summary>Disposes the model (and ML.NET's temporary copy of its graph).</summary>
    public void Dispose() => (_model as IDisposable)?.Dispose();

    private sealed class EnginePolicy(MLContext mlContext, ITransformer model) : IPooledObjectPolicy<PredictionEngine<IncrementalInput<TItem>, IncrementalOutput<TItem>>>
    {
        public PredictionEngine<IncrementalInput<TItem>, IncrementalOutput<TItem>> Create()
            => mlContext.Model.CreatePredictionEngine<IncrementalInput<TItem>, IncrementalOutput<TItem>>(model);

        public bool Return(PredictionEngine<IncrementalInput<TItem>, IncrementalOutput<TItem>> engine) => true;
    }
}
