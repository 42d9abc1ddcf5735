using System.Globalization;
using Microsoft.ML;

namespace Svae.Examples;

/// <summary>
/// Scores histories with a recommender zip written by MLNet.Svae, using public ML.NET only (shared by
/// the serving example and the runner's <c>score</c> command).
/// </summary>
/// <remarks>
/// A saved model reads the user's own item ids, in the type they had in the training data (UInt32, Int64 or
/// String), and returns item ids of that type: a <c>PredictionEngine</c> over plain classes such as
/// <see cref="HistoryInput{TItem, TUser}"/> and <see cref="Recommendation{TItem}"/> needs no schema definition.
/// This tool does not know the id type in advance, so it asks the model which of the three it accepts.
/// </remarks>
internal static class ModelScoring
{
    /// <summary>
    /// One line per history: <c>id:score id:score ...</c>, best first (K places; where fewer than K items are unseen,
    /// the remaining places hold the default id, 0 or empty, with the score -Infinity). A history line is a
    /// comma-separated list of item ids, optionally preceded by a user id and a colon (<c>7:3,4,5</c>); the user is
    /// fed to models that read a <c>UserId</c> column (BPR, FPMC, Caser; no prefix gives an unknown user) and
    /// ignored by the others. Ids the model does not know are ignored.
    /// </summary>
    /// <param name="mlContext">The ML.NET context.</param>
    /// <param name="modelPath">The model zip.</param>
    /// <param name="histories">The history lines.</param>
    /// <param name="load">Loads the zip; default <c>mlContext.Model.Load</c> (the runner passes
    /// <c>mlContext.Recommendation().LoadModel</c>, which reports a damaged file clearly).</param>
    public static IEnumerable<string> Score(MLContext mlContext, string modelPath, IEnumerable<string> histories, ModelLoader? load = null)
    {
        var model = (load ?? mlContext.Model.Load)(modelPath, out _);
        try
        {
            var lines = histories.ToList();
            return TryScore<uint>(mlContext, model, lines)
                ?? TryScore<long>(mlContext, model, lines)
                ?? TryScore<string>(mlContext, model, lines)
                ?? throw new InvalidOperationException(
                    $"The model '{modelPath}' reads neither UInt32, Int64 nor String item ids in a 'History' column.");
        }
        finally
        {
            // The loaded OnnxTransformer keeps a temporary copy of the graph until it is disposed.
            (model as IDisposable)?.Dispose();
        }
    }

    /// <summary>Loads a model zip and its input schema (the signature of <c>mlContext.Model.Load</c>).</summary>
    public delegate ITransformer ModelLoader(string path, out DataViewSchema inputSchema);

    private static List<string>? TryScore<TItem>(MLContext mlContext, ITransformer model, List<string> lines)
        => TryScore<TItem, uint>(mlContext, model, lines)
            ?? TryScore<TItem, long>(mlContext, model, lines)
            ?? TryScore<TItem, string>(mlContext, model, lines);

    private static List<string>? TryScore<TItem, TUser>(MLContext mlContext, ITransformer model, List<string> lines)
    {
        var inputSchema = mlContext.Data.LoadFromEnumerable(Array.Empty<HistoryInput<TItem, TUser>>()).Schema;
        try
        {
            model.GetOutputSchema(inputSchema);
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException)
        {
            return null; // the model reads ids of other types
        }

        using var engine = mlContext.Model.CreatePredictionEngine<HistoryInput<TItem, TUser>, Recommendation<TItem>>(model);
        var result = new List<string>();
        foreach (string line in lines)
        {
            int colon = line.IndexOf(':');
            var input = new HistoryInput<TItem, TUser>
            {
                History = line[(colon + 1)..].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                    .Select(Parse<TItem>).ToArray(),
                UserId = colon < 0 ? Unknown<TUser>() : Parse<TUser>(line[..colon].Trim()),
            };
            var recommendation = engine.Predict(input);
            result.Add(string.Join(' ', recommendation.TopItems.Zip(recommendation.TopScores,
                (item, score) => $"{Format(item)}:{score.ToString("R", CultureInfo.InvariantCulture)}")));
        }
        return result;
    }

    private static T Parse<T>(string text) => (T)(object)(typeof(T) == typeof(uint) ? uint.Parse(text, CultureInfo.InvariantCulture)
        : typeof(T) == typeof(long) ? long.Parse(text, CultureInfo.InvariantCulture)
        : text);

    // No user prefix: a user id no model has (ids the model does not know are unknown users).
    private static T Unknown<T>() => typeof(T) == typeof(string) ? (T)(object)"" : default!;

    private static string Format<T>(T id) => id is IFormattable f ? f.ToString(null, CultureInfo.InvariantCulture) : id?.ToString() ?? "";
}

/// <summary>The model's input: a user's item ids in time order, and the user's id for models that read one.</summary>
/// <typeparam name="TItem">The type of the item ids (UInt32, Int64 or String, as in the training data).</typeparam>
/// <typeparam name="TUser">The type of the user ids.</typeparam>
internal sealed class HistoryInput<TItem, TUser>
{
    public TItem[] History { get; set; } = Array.Empty<TItem>();

    public TUser UserId { get; set; } = default!;
}

/// <summary>The model's output: the top-K item ids, best first, and their scores.</summary>
/// <typeparam name="TItem">The type of the item ids.</typeparam>
internal sealed class Recommendation<TItem>
{
    public TItem[] TopItems { get; set; } = Array.Empty<TItem>();

    public float[] TopScores { get; set; } = Array.Empty<float>();
}
