using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace Svae.Examples;

/// <summary>
/// Scores histories with a recommender zip written by MLNet.Svae, using public ML.NET only (shared by
/// the serving example and the runner's <c>score</c> command).
/// </summary>
internal static class ModelScoring
{
    /// <summary>
    /// One line per history: <c>key:score key:score ...</c>, best first. A history line may start with a
    /// user key and a colon (<c>7:3,4,5</c>); it is fed to models whose input has a <c>UserId</c> column
    /// (BPR, FPMC, Caser; no prefix gives the unknown user 0) and ignored by the others.
    /// </summary>
    /// <param name="mlContext">The ML.NET context.</param>
    /// <param name="modelPath">The model zip.</param>
    /// <param name="histories">The history lines.</param>
    /// <param name="load">Loads the zip; default <c>mlContext.Model.Load</c> (the runner passes
    /// <c>mlContext.Recommendation().LoadModel</c>, which reports a damaged file clearly).</param>
    public static IEnumerable<string> Score(MLContext mlContext, string modelPath, IEnumerable<string> histories, ModelLoader? load = null)
    {
        var model = (load ?? mlContext.Model.Load)(modelPath, out DataViewSchema inputSchema);
        try
        {
            // The history column's key type (its item count) is only known from the model, so the
            // input and output classes get their column types from the loaded schemas.
            var inputDefinition = SchemaDefinition.Create(typeof(HistoryInput));
            inputDefinition[nameof(HistoryInput.History)].ColumnType = inputSchema[nameof(HistoryInput.History)].Type;
            var userColumn = inputSchema.GetColumnOrNull(nameof(HistoryInput.UserId));
            if (userColumn is null)
                inputDefinition[nameof(HistoryInput.UserId)].ColumnName = "__ModelScoring_UnusedUserId";
            else
                inputDefinition[nameof(HistoryInput.UserId)].ColumnType = userColumn.Value.Type;
            var outputSchema = model.GetOutputSchema(inputSchema);
            var outputDefinition = SchemaDefinition.Create(typeof(Recommendation));
            outputDefinition[nameof(Recommendation.TopItems)].ColumnType = outputSchema[nameof(Recommendation.TopItems)].Type;
            outputDefinition[nameof(Recommendation.TopScores)].ColumnType = outputSchema[nameof(Recommendation.TopScores)].Type;

            using var engine = mlContext.Model.CreatePredictionEngine<HistoryInput, Recommendation>(
                model, inputSchemaDefinition: inputDefinition, outputSchemaDefinition: outputDefinition);
            var lines = new List<string>();
            foreach (string line in histories)
            {
                int colon = line.IndexOf(':');
                uint user = colon < 0 ? 0 : uint.Parse(line.AsSpan(0, colon).Trim(), CultureInfo.InvariantCulture);
                var history = line[(colon + 1)..].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                    .Select(s => uint.Parse(s, CultureInfo.InvariantCulture)).ToArray();
                // A scalar key property holds the key's 0-based index (key − 1); a value beyond the key count is the missing key 0.
                var result = engine.Predict(new HistoryInput { History = history, UserId = unchecked(user - 1) });
                lines.Add(string.Join(' ', result.TopItems.Zip(result.TopScores,
                    (item, score) => $"{item}:{score.ToString("R", CultureInfo.InvariantCulture)}")));
            }
            return lines;
        }
        finally
        {
            (model as IDisposable)?.Dispose();
        }
    }

    /// <summary>Loads a model zip and its input schema (the signature of <c>mlContext.Model.Load</c>).</summary>
    public delegate ITransformer ModelLoader(string path, out DataViewSchema inputSchema);

    /// <summary>The model's input: a user's item keys in time order, and the user's key for models that read it.</summary>
    private sealed class HistoryInput
    {
        public uint[] History { get; set; } = Array.Empty<uint>();

        public uint UserId { get; set; }
    }

    /// <summary>The model's output: the top-K item keys and their scores.</summary>
    private sealed class Recommendation
    {
        public uint[] TopItems { get; set; } = Array.Empty<uint>();

        public float[] TopScores { get; set; } = Array.Empty<float>();
    }
}
