namespace Svae.WebApi;

/// <summary>A user's fresh recommendations after an event.</summary>
/// <param name="HistoryLength">How many of the user's events the state now holds.</param>
/// <param name="Recommendations">The recommendations from the updated state.</param>
public sealed record UserRecommendations(int HistoryLength, Recommendations Recommendations);

/// <summary>
/// Keeps each user's state between requests and recommends from it: what <c>POST /users/{id}/events</c> calls.
/// </summary>
/// <remarks>
/// Two implementations: <see cref="HistoryRescoringUserState"/> keeps the user's recent item history and rescores
/// it in full on every event (any model); <see cref="RecurrentStateUserState{TItem}"/> keeps the SVAE's recurrent (GRU)
/// state and runs one step of the incremental model per event. The endpoints are the same for both.
/// </remarks>
public interface IUserStateRecommender
{
    /// <summary>Records that <paramref name="userId"/> interacted with <paramref name="itemId"/> (now) and returns the top <paramref name="k"/> items for the user's updated state.</summary>
    UserRecommendations AddEvent(string userId, string itemId, int k);
}

/// <summary>
/// The state of a user is the last <c>MaxHistoryLength</c> item ids of the user's events, kept in memory for at most
/// <c>MaxUsers</c> users (the least recently active user is forgotten first); each event rescores the whole history.
/// The state is per process: it is lost on restart and not shared between instances (use a shared store such as a
/// distributed cache behind this interface when running several).
/// </summary>
public sealed class HistoryRescoringUserState(IRecommender recommender, ServingOptions options) : IUserStateRecommender
{
    private readonly object _lock = new();
    private readonly Dictionary<string, LinkedListNode<(string User, List<string> History)>> _users = new(StringComparer.Ordinal);
    private readonly LinkedList<(string User, List<string> History)> _byRecency = new(); // most recently active first

    /// <summary>The number of users whose history is kept.</summary>
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
        string[] history = Append(userId, itemId);
        return new UserRecommendations(history.Length, recommender.Recommend(history, userId, k));
    }

    /// <summary>The user's history (oldest first) as kept now, or empty for a user without one.</summary>
    public IReadOnlyList<string> HistoryOf(string userId)
    {
        lock (_lock)
            return _users.TryGetValue(userId, out var node) ? node.Value.History.ToArray() : [];
    }

    private string[] Append(string userId, string itemId)
    {
        lock (_lock)
        {
            if (_users.TryGetValue(userId, out var node))
            {
                _byRecency.Remove(node);
            }
            else
            {
                if (_users.Count >= options.MaxUsers)
                {
                    _users.Remove(_byRecency.Last!.Value.User);
                    _byRecency.RemoveLast();
                }
                node = new LinkedListNode<(string, List<string>)>((userId, new List<string>()));
                _users.Add(userId, node);
            }
            _byRecency.AddFirst(node);
            var history = node.Value.History;
            history.Add(itemId);
            if (history.Count > options.MaxHistoryLength)
                history.RemoveRange(0, history.Count - options.MaxHistoryLength);
            return history.ToArray();
        }
    }
}
