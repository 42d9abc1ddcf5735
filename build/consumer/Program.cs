// The throw-away consumer app of .ci/run: built outside the repository against the packed Microsoft.ML.Svae
// (PackageReference from a local feed) plus TorchSharp-cpu, as a user's app would be. It trains SVAE on small
// synthetic data, saves the model zip, and scores the zip with public ML.NET alone. Exit code 0 only when
// every check passes; any exception is printed and fails the run with exit code 1.
//
//   SvaeConsumer <work folder>
//
// All use of the library's API is in LibraryUse below (one place to adapt when the API changes).
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Svae;

try
{
    string work = Path.GetFullPath(args.Length > 0 ? args[0] : ".");
    Directory.CreateDirectory(work);
    string zipPath = Path.Combine(work, "svae.zip");

    var trained = LibraryUse.TrainAndSave(zipPath);
    Console.WriteLine($"trained SVAE on {trained.ItemCount} items; saved {zipPath} ({new FileInfo(zipPath).Length} bytes)");

    // Score the zip as a serving app does: a fresh MLContext, ml.Model.Load, a PredictionEngine over POCOs.
    var ml = new MLContext();
    var model = ml.Model.Load(zipPath, out DataViewSchema inputSchema);
    try
    {
        var historyType = inputSchema[nameof(HistoryInput.History)].Type;
        var inputDefinition = SchemaDefinition.Create(typeof(HistoryInput));
        inputDefinition[nameof(HistoryInput.History)].ColumnType = historyType;
        var outputSchema = model.GetOutputSchema(inputSchema);
        var outputDefinition = SchemaDefinition.Create(typeof(Recommendation));
        outputDefinition[nameof(Recommendation.TopItems)].ColumnType = outputSchema[nameof(Recommendation.TopItems)].Type;
        outputDefinition[nameof(Recommendation.TopScores)].ColumnType = outputSchema[nameof(Recommendation.TopScores)].Type;
        using var engine = ml.Model.CreatePredictionEngine<HistoryInput, Recommendation>(
            model, inputSchemaDefinition: inputDefinition, outputSchemaDefinition: outputDefinition);

        int checkedUsers = 0;
        foreach (var (history, expectedItems, expectedScores) in trained.Expected)
        {
            var result = engine.Predict(new HistoryInput { History = history });
            Check(result.TopItems.Length == expectedItems.Length && result.TopScores.Length == expectedScores.Length,
                $"the zip gave {result.TopItems.Length} items, the fitted model {expectedItems.Length}");
            Check(result.TopItems.SequenceEqual(expectedItems), "the zip's top items differ from the fitted model's");
            for (int i = 0; i < expectedScores.Length; i++)
                Check(result.TopScores[i] == expectedScores[i] // also the -Infinity of places without an item
                      || Math.Abs(result.TopScores[i] - expectedScores[i]) <= 1e-4f * Math.Max(1f, Math.Abs(expectedScores[i])),
                    $"score {i}: zip {result.TopScores[i]}, fitted model {expectedScores[i]}");
            var recommended = result.TopItems.Where(k => k != 0).ToArray();
            Check(recommended.Length > 0, "no item recommended");
            Check(recommended.All(k => k <= trained.ItemCount), "a recommended key is beyond the item count");
            Check(!recommended.Intersect(history).Any(), "a seen item was recommended");
            Check(recommended.Distinct().Count() == recommended.Length, "an item was recommended twice");
            checkedUsers++;
        }
        Check(checkedUsers > 0, "no test user to score");
        Console.WriteLine($"scored {checkedUsers} users from the zip with ML.NET alone; results match the fitted model");
    }
    finally
    {
        (model as IDisposable)?.Dispose();
    }
    Console.WriteLine("consumer app: OK");
    return 0;
}
catch (Exception e)
{
    // Reported, not thrown on: the run fails with exit code 1 instead of an abort.
    Console.Error.WriteLine(e);
    return 1;
}

static void Check(bool condition, string what)
{
    if (!condition)
        throw new InvalidOperationException("consumer app check failed: " + what);
}

/// <summary>Everything this app asks of Microsoft.ML.Svae.</summary>
internal static class LibraryUse
{
    /// <summary>
    /// Generates a small synthetic log, applies the paper's protocol, trains SVAE for a few epochs, saves the zip,
    /// and returns the first test users' histories with the fitted model's own recommendations for them.
    /// </summary>
    public static Trained TrainAndSave(string zipPath)
    {
        var ml = new MLContext(seed: 1);
        var log = ml.Recommendation().Data.GenerateSyntheticInteractions(new SyntheticInteractionOptions
        {
            Users = 200, Items = 80, MeanHistoryLength = 30, MinHistoryLength = 20, MaxHistoryLength = 60, Seed = 7,
        });
        var data = ml.Recommendation().Data.PrepareSequences(log, new SequenceProtocolOptions { ValidationUsers = 20, TestUsers = 20 });
        using var model = ml.Recommendation().Trainers.Svae(new SvaeTrainer.Options
        {
            NumberOfEpochs = 2, EmbeddingSize = 16, HiddenSize = 16, EncoderSize = 16, LatentSize = 8, DecoderSize = 16,
        }).Fit(data.Train, data.Validation);
        ml.Recommendation().SaveModel(model, data.Train.Schema, zipPath);

        // Materialize each row at once: GetColumn may reuse a vector's buffer from row to row.
        var scored = model.Transform(data.Test);
        uint[][] Keys(string column) => scored.GetColumn<VBuffer<uint>>(scored.Schema[column]).Take(5).Select(v => v.DenseValues().ToArray()).ToArray();
        var histories = Keys(SequenceColumns.History);
        var items = Keys("TopItems");
        var scores = scored.GetColumn<VBuffer<float>>(scored.Schema["TopScores"]).Take(5).Select(v => v.DenseValues().ToArray()).ToArray();
        var expected = histories.Select((h, i) => (h, items[i], scores[i])).ToList();
        return new Trained(data.ItemCount, expected);
    }

    /// <summary>What the scoring half needs: the item count and (history, top items, top scores) per checked user.</summary>
    public sealed record Trained(int ItemCount, List<(uint[] History, uint[] TopItems, float[] TopScores)> Expected);
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
