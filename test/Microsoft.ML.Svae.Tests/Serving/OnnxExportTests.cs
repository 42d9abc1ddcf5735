using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using OnnxExport = global::Svae.Cli.OnnxExport;
using RunnerCli = global::Svae.Cli.Cli;

namespace Microsoft.ML.Svae.Tests.Serving;

/// <summary>Debian's ONNX checker (python3-onnx under /usr/bin/python3), where it is installed.</summary>
internal static class OnnxChecker
{
    private const string Python = "/usr/bin/python3";

    private static readonly Lazy<bool> IsAvailable = new(() => Run("-c", "import onnx").ExitCode == 0);

    public static bool Available => IsAvailable.Value;

    /// <summary>Runs <c>onnx.checker.check_model</c> (with shape inference) on a graph file: exit code and error output.</summary>
    public static (int ExitCode, string Error) Check(string path)
        => Run("-c", "import onnx, sys; onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True)", path);

    private static (int ExitCode, string Error) Run(params string[] arguments)
    {
        if (!File.Exists(Python))
            return (-1, $"{Python} does not exist");
        var start = new ProcessStartInfo(Python) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (string argument in arguments)
            start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        process.StandardOutput.ReadToEnd();
        string error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, error);
    }
}

/// <summary>A fact that runs only where the ONNX checker is installed (.ci/run installs python3-onnx).</summary>
public sealed class OnnxCheckerFactAttribute : FactAttribute
{
    public OnnxCheckerFactAttribute()
    {
        if (!OnnxChecker.Available)
            Skip = "The ONNX checker is not installed: /usr/bin/python3 -c 'import onnx' failed (apt-get install python3-onnx).";
    }
}

/// <summary>
/// <c>svae export-onnx</c>: the graph and item vocabulary of a saved zip, with their contract; the exported graph
/// passes the ONNX checker and scores the same top-K in ONNX Runtime without ML.NET.
/// </summary>
public class OnnxExportTests(ServingModels models) : IClassFixture<ServingModels>, IDisposable
{
    private readonly MLContext _ml = new(seed: 1);
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "svae-export-tests-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_directory))
            Directory.Delete(_directory, recursive: true);
        GC.SuppressFinalize(this);
    }

    private string Export(string zip, string name, string keyType = "int64")
    {
        string directory = Path.Combine(_directory, name + "-" + keyType);
        string[] arguments = keyType == "int64" ? ["export-onnx", zip, directory] : ["export-onnx", zip, directory, "--key-type", keyType];
        Assert.Equal(0, RunnerCli.Build().Parse(arguments).Invoke());
        return directory;
    }

    private static byte[] GraphOf(RecommendationTransformer model)
    {
        using var stream = new MemoryStream();
        model.ExportOnnx(stream);
        return stream.ToArray();
    }

    [Fact]
    public void ExportWritesTheGraphTheItemIdsInKeyOrderAndTheContract()
    {
        string directory = Export(models.PopularityPath, "pop");
        Assert.Equal(["contract.json", "items.tsv", "model.onnx"], Directory.GetFiles(directory).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        // The graph as the model runs it, but for the History input's element type: int64 (7) instead of uint32 (12).
        byte[] graph = GraphOf(models.Popularity), exported = File.ReadAllBytes(Path.Combine(directory, "model.onnx"));
        Assert.Equal(graph.Length, exported.Length);
        var changed = Enumerable.Range(0, graph.Length).Where(i => graph[i] != exported[i]).ToList();
        Assert.Equal([(12, 7)], changed.Select(i => ((int)graph[i], (int)exported[i])));
        Assert.Equal(graph, File.ReadAllBytes(Path.Combine(Export(models.PopularityPath, "pop", "uint32"), "model.onnx")));
        Assert.Equal("key\titem_id\n1\tSKU-A\n2\tSKU-B\n3\tSKU-C\n4\tSKU-D\n5\tSKU-E\n6\tSKU-F\n", File.ReadAllText(Path.Combine(directory, "items.tsv")));

        using var contract = JsonDocument.Parse(File.ReadAllText(Path.Combine(directory, "contract.json")));
        var root = contract.RootElement;
        Assert.Equal("2", root.GetProperty("format").GetString());
        Assert.Equal("POP", root.GetProperty("model").GetString());
        Assert.Equal("String", root.GetProperty("itemIdType").GetString());
        Assert.Equal(6, root.GetProperty("itemCount").GetInt32());
        Assert.Equal(6, root.GetProperty("topK").GetInt32());
        Assert.Equal(JsonValueKind.Null, root.GetProperty("userIdType").ValueKind);
        Assert.Equal("[{\"name\":\"History\",\"elementType\":\"int64\",\"shape\":[1,\"history_length\"]}]", Compact(root.GetProperty("inputs")));
        Assert.Equal("[{\"name\":\"TopScores\",\"elementType\":\"float\",\"shape\":[1,6]},{\"name\":\"TopItemKeys\",\"elementType\":\"int64\",\"shape\":[1,6]}]",
            Compact(root.GetProperty("outputs")));
    }

    private static string Compact(JsonElement element) => JsonSerializer.Serialize(element);

    [Fact]
    public void ExportOfAUserKeyedModelAlsoWritesTheUserIds()
    {
        using var bpr = _ml.Recommendation().Trainers.Bpr(numberOfEpochs: 1).Fit(models.Skus.Train);
        string zip = Path.Combine(_directory, "bpr.zip");
        Directory.CreateDirectory(_directory);
        _ml.Recommendation().SaveModel(bpr, models.Skus.Train.Schema, zip);
        string directory = Export(zip, "bpr");
        Assert.Equal("key\tuser_id\n1\tuser-0\n2\tuser-1\n3\tuser-2\n4\tuser-3\n5\tuser-4\n6\tuser-5\n", File.ReadAllText(Path.Combine(directory, "users.tsv")));
        using var contract = JsonDocument.Parse(File.ReadAllText(Path.Combine(directory, "contract.json")));
        Assert.Equal("String", contract.RootElement.GetProperty("userIdType").GetString());
        Assert.Equal(6, contract.RootElement.GetProperty("userCount").GetInt32());
        Assert.Equal("[{\"name\":\"History\",\"elementType\":\"int64\",\"shape\":[1,\"history_length\"]},{\"name\":\"UserId\",\"elementType\":\"int64\",\"shape\":[1,1]}]",
            Compact(contract.RootElement.GetProperty("inputs")));

        // A model without users exported over it: the earlier users.tsv goes, and no temporary folder stays.
        contract.Dispose();
        OnnxExport.Export(_ml, models.PopularityPath, directory);
        Assert.Equal(["contract.json", "items.tsv", "model.onnx"], Directory.GetFiles(directory).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Equal([directory], Directory.GetDirectories(_directory).Where(d => Path.GetFileName(d).Contains("bpr", StringComparison.Ordinal)));
        using var popContract = JsonDocument.Parse(File.ReadAllText(Path.Combine(directory, "contract.json")));
        Assert.Equal("POP", popContract.RootElement.GetProperty("model").GetString());
    }

    [Fact]
    public void ExportRejectsWhatIsNotAModelZipWithAMessageNamingTheFile()
    {
        Directory.CreateDirectory(_directory);
        string missing = Path.Combine(_directory, "missing.zip");
        Assert.Equal($"The model file '{missing}' does not exist.",
            Assert.Throws<FileNotFoundException>(() => OnnxExport.Export(_ml, missing, _directory)).Message);

        string text = Path.Combine(_directory, "text.zip");
        File.WriteAllText(text, "not a zip");
        Assert.StartsWith($"'{text}' is not a model zip: ", Assert.Throws<InvalidDataException>(() => OnnxExport.Export(_ml, text, _directory)).Message, StringComparison.Ordinal);

        string other = Path.Combine(_directory, "other.zip");
        using (var zip = ZipFile.Open(other, ZipArchiveMode.Create))
            zip.CreateEntry("TransformerChain/Model.key");
        Assert.Equal($"'{other}' holds 0 ONNX graphs (OnnxModel entries), not one: is it a recommender zip written by MLNet.Svae?",
            Assert.Throws<InvalidDataException>(() => OnnxExport.Export(_ml, other, _directory)).Message);
        Assert.False(File.Exists(Path.Combine(_directory, "model.onnx")));
    }

    [Fact]
    public void RetypingTheKeyInputsRefusesInputsThatAreNotUInt32OrNotThere()
    {
        byte[] graph = GraphOf(models.Popularity);
        byte[] int64 = global::Svae.Cli.OnnxKeyInputs.WithInt64Keys(graph, ["History"]);
        Assert.Equal("The graph input 'History' is not a uint32 tensor.",
            Assert.Throws<InvalidDataException>(() => global::Svae.Cli.OnnxKeyInputs.WithInt64Keys(int64, ["History"])).Message);
        Assert.Equal("The graph has no input named 'UserId'.",
            Assert.Throws<InvalidDataException>(() => global::Svae.Cli.OnnxKeyInputs.WithInt64Keys(graph, ["History", "UserId"])).Message);
        Assert.Equal("Truncated ONNX model.",
            Assert.Throws<InvalidDataException>(() => global::Svae.Cli.OnnxKeyInputs.WithInt64Keys(graph[..(graph.Length - 7)], ["History"])).Message);
    }

    [OnnxCheckerFact]
    public void ExportedGraphsPassTheOnnxChecker()
    {
        foreach (var (zip, name, keyType) in new[] { (models.SvaePath, "svae", "int64"), (models.SvaePath, "svae", "uint32"), (models.PopularityPath, "pop", "int64") })
        {
            string graph = Path.Combine(Export(zip, name, keyType), "model.onnx");
            var (exitCode, error) = OnnxChecker.Check(graph);
            Assert.True(exitCode == 0, $"The ONNX checker rejected the {name} graph: {error}");

            // The check can fail: a graph cut short does not pass.
            byte[] bytes = File.ReadAllBytes(graph);
            string damaged = Path.Combine(_directory, name + "-damaged.onnx");
            File.WriteAllBytes(damaged, bytes[..(bytes.Length / 2)]);
            Assert.NotEqual(0, OnnxChecker.Check(damaged).ExitCode);
        }
    }

    /// <summary>Scores raw-id histories with the exported files only: items.tsv maps ids to keys, ONNX Runtime runs model.onnx.</summary>
    private static List<(string[] Items, float[] Scores)> ScoreWithOnnxRuntime(string directory, IEnumerable<string[]> histories, bool int64Keys = true)
    {
        var ids = File.ReadAllLines(Path.Combine(directory, "items.tsv")).Skip(1).Select(line => line.Split('\t')[1]).ToArray();
        var keyOf = ids.Select((id, i) => (id, key: (uint)(i + 1))).ToDictionary(p => p.id, p => p.key);
        using var session = new InferenceSession(Path.Combine(directory, "model.onnx"));
        var result = new List<(string[], float[])>();
        foreach (var history in histories)
        {
            // Unknown ids become the key 0, which the graph drops (leaving them out does the same).
            var keys = history.Select(id => keyOf.GetValueOrDefault(id)).ToArray();
            var input = int64Keys
                ? NamedOnnxValue.CreateFromTensor("History", new DenseTensor<long>(keys.Select(k => (long)k).ToArray(), [1, keys.Length]))
                : NamedOnnxValue.CreateFromTensor("History", new DenseTensor<uint>(keys, [1, keys.Length]));
            using var outputs = session.Run([input]);
            var topKeys = outputs.Single(o => o.Name == "TopItemKeys").AsTensor<long>().ToArray();
            var topScores = outputs.Single(o => o.Name == "TopScores").AsTensor<float>().ToArray();
            int n = topScores.TakeWhile(s => !float.IsNegativeInfinity(s)).Count();
            Assert.All(topKeys[n..], key => Assert.Equal(0L, key)); // no recommendation: key 0, score -inf
            result.Add((topKeys[..n].Select(k => ids[k - 1]).ToArray(), topScores[..n]));
        }
        return result;
    }

    [Fact]
    public void ExportedGraphScoresTheSameTopKInOnnxRuntimeWithoutMLNet()
    {
        // SVAE over UInt32 ids (test users, one history with an unknown id, and an empty history).
        string svae = Export(models.SvaePath, "svae");
        var histories = models.SvaeHistories.Append([]).ToList();
        var expected = models.InProcess(models.Svae, histories);
        Assert.Equal(models.Svae.TopK, expected[^1].Items.Length); // an empty history gets K items too
        var served = ScoreWithOnnxRuntime(svae, histories.Select(h => h.Select(id => id.ToString(CultureInfo.InvariantCulture)).ToArray()));
        Assert.Equal(expected.Select(e => e.Items.Select(id => id.ToString(CultureInfo.InvariantCulture)).ToArray()), served.Select(s => s.Items));
        Assert.Equal(expected.Select(e => e.Scores), served.Select(s => s.Scores));
        var unsigned = ScoreWithOnnxRuntime(Export(models.SvaePath, "svae", "uint32"), histories.Select(h => h.Select(id => id.ToString(CultureInfo.InvariantCulture)).ToArray()), int64Keys: false);
        Assert.Equal(served.Select(s => s.Items), unsigned.Select(s => s.Items));
        Assert.Equal(served.Select(s => s.Scores), unsigned.Select(s => s.Scores));

        // POP over SKUs: an empty history, an unknown id, and a history that leaves fewer than K items unseen.
        string[][] skus = [[], ["no-such-sku"], ["SKU-C", "SKU-A"], ["SKU-A", "SKU-B", "SKU-C", "SKU-D", "SKU-E", "SKU-F"]];
        var pop = ScoreWithOnnxRuntime(Export(models.PopularityPath, "pop"), skus);
        Assert.Equal(models.InProcess(models.Popularity, skus).Select(e => e.Items), pop.Select(p => p.Items));
        Assert.Equal(models.InProcess(models.Popularity, skus).Select(e => e.Scores), pop.Select(p => p.Scores));
        Assert.Equal(["SKU-C", "SKU-A", "SKU-E", "SKU-B", "SKU-D", "SKU-F"], pop[0].Items);
        Assert.Equal(["SKU-E", "SKU-B", "SKU-D", "SKU-F"], pop[2].Items);
        Assert.Empty(pop[3].Items);
    }
}
