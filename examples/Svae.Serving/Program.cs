using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;

// Serves recommendations from a model zip written by MLNet.Svae, with public ML.NET only.
//
//   Svae.Serving <model.zip> [history ...]      one history per argument: comma-separated item keys
//   Svae.Serving <model.zip> --input <file>     one history per line
//
// Prints one line per history: "key:score key:score ...", best first.
if (args.Length < 1)
{
    Console.Error.WriteLine("usage: Svae.Serving <model.zip> [--input <file>] [history ...]   (history = comma-separated item keys)");
    return 2;
}

var histories = new List<string>();
for (int i = 1; i < args.Length; i++)
{
    if (args[i] == "--input" && i + 1 < args.Length)
        histories.AddRange(File.ReadAllLines(args[++i]));
    else
        histories.Add(args[i]);
}

var mlContext = new MLContext();
var model = mlContext.Model.Load(args[0], out DataViewSchema inputSchema);
try
{
    // The history column's key type (its item count) is only known from the model, so the
    // input and output classes get their column types from the loaded schemas.
    var inputDefinition = SchemaDefinition.Create(typeof(HistoryInput));
    inputDefinition[nameof(HistoryInput.History)].ColumnType = inputSchema[nameof(HistoryInput.History)].Type;
    var outputSchema = model.GetOutputSchema(inputSchema);
    var outputDefinition = SchemaDefinition.Create(typeof(Recommendation));
    outputDefinition[nameof(Recommendation.TopItems)].ColumnType = outputSchema[nameof(Recommendation.TopItems)].Type;
    outputDefinition[nameof(Recommendation.TopScores)].ColumnType = outputSchema[nameof(Recommendation.TopScores)].Type;

    using var engine = mlContext.Model.CreatePredictionEngine<HistoryInput, Recommendation>(
        model, inputSchemaDefinition: inputDefinition, outputSchemaDefinition: outputDefinition);
    foreach (string line in histories)
    {
        var history = line.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(s => uint.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        var result = engine.Predict(new HistoryInput { History = history });
        Console.WriteLine(string.Join(' ', result.TopItems.Zip(result.TopScores,
            (item, score) => $"{item}:{score.ToString("R", CultureInfo.InvariantCulture)}")));
    }
    return 0;
}
finally
{
    (model as IDisposable)?.Dispose();
}

/// <summary>The model's input: a user's item keys in time order.</summary>
internal sealed class HistoryInput
{
    public uint[] History { get; set; } = Array.Empty<uint>();
}

/// <summary>The model's output: the top-K item keys and their scores.</summary>
internal sealed class Recommendation
{
    public uint[] TopItems { get; set; } = Array.Empty<uint>();

    public float[] TopScores { get; set; } = Array.Empty<float>();
}
