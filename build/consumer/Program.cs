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
    Console.WriteLine($"trained SVAE on {trained.ItemIds.Count} items; saved {zipPath} ({new FileInfo(zipPath).Length} bytes)");

    // Score the zip as a serving app does: a fresh MLContext, ml.Model.Load, a PredictionEngine over plain
    // classes (no SchemaDefinition): the zip reads the app's own item ids and returns them.
    var ml = new MLContext();
    var model = ml.Model.Load(zipPath, out DataViewSchema inputSchema);
    try
    {
        Check(inputSchema[nameof(HistoryInput.History)].Type.Equals(new VectorDataViewType(NumberDataViewType.UInt32)),
            $"the zip's History input is {inputSchema[nameof(HistoryInput.History)].Type}, expected a vector of UInt32 item ids");
        using var engine = ml.Model.CreatePredictionEngine<HistoryInput, Recommendation>(model);

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
            var recommended = result.TopItems.Where(id => id != 0).ToArray();
            Check(recommended.Length > 0, "no item recommended");
            Check(recommended.All(trained.ItemIds.Contains), "a recommended id is not one of the training items");
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
        var log = ml.SequenceRecommendation().Data.GenerateSyntheticInteractions(new SyntheticInteractionOptions
        {
            Users = 200, Items = 80, MeanHistoryLength = 30, MinHistoryLength = 20, MaxHistoryLength = 60, Seed = 7,
        });
        var data = ml.SequenceRecommendation().Data.PrepareSequences(log, new SequenceProtocolOptions { ValidationUsers = 20, TestUsers = 20 });
        using var model = ml.SequenceRecommendation().Trainers.Svae(new SvaeTrainer.Options
        {
            NumberOfEpochs = 2, EmbeddingSize = 16, RecurrentSize = 16, EncoderSize = 16, LatentSize = 8, DecoderSize = 16,
        }).Fit(data.Train, data.Validation);
        ml.SequenceRecommendation().SaveModel(model, data.Train.Schema, zipPath);

        // The fitted model scores the test users' key columns in-process; keys k map to the raw ids at k - 1.
        // Materialize each row at once: GetColumn may reuse a vector's buffer from row to row.
        uint[] ids = data.GetItemIds<uint>().ToArray();
        var scored = model.Transform(data.Test);
        uint[][] Ids(string column) => scored.GetColumn<VBuffer<uint>>(scored.Schema[column]).Take(5)
            .Select(v => v.DenseValues().Select(k => k == 0 ? 0u : ids[k - 1]).ToArray()).ToArray();
        var histories = Ids(SequenceColumns.History);
        var items = Ids(SequenceColumns.TopItems);
        var scores = scored.GetColumn<VBuffer<float>>(scored.Schema[SequenceColumns.TopScores]).Take(5).Select(v => v.DenseValues().ToArray()).ToArray();
        var expected = histories.Select((h, i) => (h, items[i], scores[i])).ToList();
        return new Trained(ids.ToHashSet(), expected);
    }

    /// <summary>What the scoring half needs: the training item ids and (history, top items, top scores) per checked user, in ids.</summary>
    public sealed record Trained(HashSet<uint> ItemIds, List<(uint[] History, uint[] TopItems, float[] TopScores)> Expected);
}

/// <summary>The model's input: a user's item ids in time order.</summary>
internal sealed class HistoryInput
{
    public uint[] History { get; set; } = Array.Empty<uint>();
}

/// <summary>The model's output: the top-K item ids, best first, and their scores.</summary>
internal sealed class Recommendation
{
    public uint[] TopItems { get; set; } = Array.Empty<uint>();

    public float[] TopScores { get; set; } = Array.Empty<float>();
}
