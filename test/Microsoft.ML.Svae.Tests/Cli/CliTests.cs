using System.Net;
using System.Security.Cryptography;
using System.IO.Compression;
using global::Svae.Cli;
using RunnerCli = global::Svae.Cli.Cli;

namespace Microsoft.ML.Svae.Tests.Cli;

public class CliTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"svae-cli-{Guid.NewGuid():N}");

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public void ReproduceWritesTheResultsTableForTheChosenModels()
    {
        int code = RunnerCli.Build().Parse(new[] { "reproduce", "--models", "POP", "--k-values", "none", "--output", _dir, "--plain" }).Invoke();
        Assert.Equal(0, code);
        string markdown = File.ReadAllText(Path.Combine(_dir, "results.md"));
        Assert.Contains("| POP | temporal 80/20 fold-in/out | 1 |", markdown);
        var csv = File.ReadAllLines(Path.Combine(_dir, "results.csv"));
        Assert.StartsWith("Model,Protocol,Splits,NDCG@10,NDCG@100,Recall@10,Recall@100,Precision@10,Precision@100", csv[0]);
        Assert.Equal(2, csv.Length);
    }

    [Fact]
    public void ReproduceWithSvaeDrawsTheFiguresAndSavesTheModel()
    {
        int code = RunnerCli.Build().Parse(new[] { "reproduce", "--models", "SVAE", "--epochs", "2", "--k-values", "1-2", "--output", _dir, "--plain", "--save-models" }).Invoke();
        Assert.Equal(0, code);
        foreach (string figure in new[] { "fig4-history-length.png", "fig5-next-k.png", "fig6-learning-curves.png" })
        {
            var bytes = File.ReadAllBytes(Path.Combine(_dir, figure));
            Assert.True(bytes.Length > 1000 && bytes[1] == 'P' && bytes[2] == 'N' && bytes[3] == 'G', $"{figure} is not a PNG");
        }
        Assert.True(File.Exists(Path.Combine(_dir, "svae.zip")));
        Assert.Contains("fig. 5: SVAE test NDCG@100 for k = 1:", File.ReadAllText(Path.Combine(_dir, "results.md")));
    }

    [Fact]
    public void SweepWritesOneRowPerTrial()
    {
        int code = RunnerCli.Build().Parse(new[] { "sweep", "--trials", "2", "--epochs", "3", "--output", _dir, "--plain" }).Invoke();
        Assert.Equal(0, code);
        var csv = File.ReadAllLines(Path.Combine(_dir, "trials.csv"));
        Assert.StartsWith("Trial,NDCG@100 after 1 epochs,NDCG@100 after 3 epochs,Stopped early", csv[0]);
        Assert.Equal(3, csv.Length);
        Assert.Contains("LearningRate", csv[0]);
    }

    [Fact]
    public void SplitWritesDisjointUsersWithTheirFoldInsAndFoldOuts()
    {
        int code = RunnerCli.Build().Parse(new[] { "split", "--seeds", "3", "--held-out-users", "20", "--output", _dir, "--plain" }).Invoke();
        Assert.Equal(0, code);
        string directory = Path.Combine(_dir, "split-3");
        var rows = new Dictionary<string, List<string[]>>();
        foreach (string file in SplitExport.FileNames)
        {
            var lines = File.ReadAllLines(Path.Combine(directory, file));
            Assert.Equal("user_id,item_id,position,timestamp", lines[0]);
            rows[file] = lines.Skip(1).Select(l => l.Split(',')).ToList();
            Assert.NotEmpty(rows[file]);
        }
        HashSet<string> Users(string file) => rows[file].Select(r => r[0]).ToHashSet();
        Assert.Equal(20, Users("test_foldin.csv").Count);
        Assert.Equal(Users("test_foldin.csv"), Users("test_foldout.csv"));
        Assert.Equal(Users("validation_foldin.csv"), Users("validation_foldout.csv"));
        Assert.Empty(Users("train.csv").Intersect(Users("test_foldin.csv")));
        Assert.Empty(Users("train.csv").Intersect(Users("validation_foldin.csv")));
        Assert.Empty(Users("validation_foldin.csv").Intersect(Users("test_foldin.csv")));

        // Each held-out user: positions 0..n−1 in time order, fold-in timestamps sorted, fold-in ≥ fold-out (80/20).
        foreach (var user in Users("test_foldin.csv"))
        {
            var foldIn = rows["test_foldin.csv"].Where(r => r[0] == user).ToList();
            var foldOut = rows["test_foldout.csv"].Where(r => r[0] == user).ToList();
            Assert.Equal(Enumerable.Range(0, foldIn.Count).Select(i => i.ToString()), foldIn.Select(r => r[2]));
            Assert.Equal(Enumerable.Range(0, foldOut.Count).Select(i => i.ToString()), foldOut.Select(r => r[2]));
            var stamps = foldIn.Select(r => long.Parse(r[3])).ToList();
            Assert.Equal(stamps.Order(), stamps);
            Assert.All(foldOut, r => Assert.Equal("", r[3]));
            Assert.True(foldIn.Count >= foldOut.Count, $"user {user}: fold-in {foldIn.Count}, fold-out {foldOut.Count}");
        }
    }

    [Theory]
    [InlineData("1-4", new[] { 1, 2, 3, 4 })]
    [InlineData("2,5", new[] { 2, 5 })]
    [InlineData("none", new int[0])]
    public void ParsesValueLists(string text, int[] expected) => Assert.Equal(expected, RunnerCli.ParseRange(text));

    [Fact]
    public void RejectsUnknownModelsAndOptionValues()
    {
        Assert.Contains("Known models", Assert.Throws<ArgumentException>(() => ModelRegistry.Find("GRU4Rec")).Message);
        Assert.Contains("Name=Value", Assert.Throws<ArgumentException>(() => RunnerCli.ParseOverrides(new[] { "LearningRate" })).Message);
        var parse = RunnerCli.Build().Parse(new[] { "reproduce", "--epochs", "many" });
        Assert.NotEmpty(parse.Errors);
    }

    [Fact]
    public void SetOverridesReachTheTrainersOptions()
    {
        var settings = new RunSettings(null, false, 1) { Overrides = RunnerCli.ParseOverrides(new[] { "LearningRate=0.003", "Likelihood=mixture", "BatchSize=8" }) };
        var options = ModelRegistry.SvaeOptions(settings);
        Assert.Equal(0.003, options.LearningRate);
        Assert.Equal(NextKLikelihood.Mixture, options.Likelihood);
        Assert.Equal(8, options.BatchSize);
    }

    [Fact]
    public async Task DownloadIsVerifiedCachedAndNeverRepeated()
    {
        byte[] ratings = "1\t10\t5\t881250949\n2\t20\t4\t881250950\n"u8.ToArray();
        using var server = new ArchiveServer(ZipWith("ml-100k/u.data", ratings));
        string goodHash = Convert.ToHexString(SHA256.HashData(ratings)).ToLowerInvariant();
        var source = new DatasetSource("ml-100k", server.Uri, "ml-100k/u.data", "ml-100k", goodHash);
        using var http = new HttpClient();
        var log = new StringWriter();

        string path = await Downloads.EnsureAsync(source, _dir, http, log);
        Assert.Equal(ratings, File.ReadAllBytes(path));
        string again = await Downloads.EnsureAsync(source, _dir, http, log);
        Assert.Equal(path, again);
        Assert.Equal(1, server.Requests);

        var bad = source with { Name = "bad", RatingsSha256 = new string('0', 64) };
        var error = await Assert.ThrowsAsync<InvalidDataException>(() => Downloads.EnsureAsync(bad, _dir, http, log));
        Assert.Contains("Checksum mismatch", error.Message);
        Assert.Empty(Directory.GetFiles(Path.Combine(_dir, "bad")));
    }

    private static byte[] ZipWith(string entryName, byte[] content)
    {
        using var memory = new MemoryStream();
        using (var zip = new ZipArchive(memory, ZipArchiveMode.Create, leaveOpen: true))
        {
            using var entry = zip.CreateEntry(entryName).Open();
            entry.Write(content);
        }
        return memory.ToArray();
    }

    /// <summary>Serves one archive on a loopback port, counting requests.</summary>
    private sealed class ArchiveServer : IDisposable
    {
        private readonly HttpListener _listener = new();
        private readonly byte[] _archive;
        private int _requests;

        public ArchiveServer(byte[] archive)
        {
            _archive = archive;
            int port = FreePort();
            Uri = new Uri($"http://127.0.0.1:{port}/ml-100k.zip");
            _listener.Prefixes.Add($"http://127.0.0.1:{port}/");
            _listener.Start();
            _ = Task.Run(Serve);
        }

        public Uri Uri { get; }

        public int Requests => _requests;

        private async Task Serve()
        {
            while (_listener.IsListening)
            {
                HttpListenerContext context;
                try { context = await _listener.GetContextAsync(); }
                catch (Exception) { return; }
                Interlocked.Increment(ref _requests);
                context.Response.ContentType = "application/zip";
                await context.Response.OutputStream.WriteAsync(_archive);
                context.Response.Close();
            }
        }

        private static int FreePort()
        {
            var socket = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
            socket.Start();
            int port = ((IPEndPoint)socket.LocalEndpoint).Port;
            socket.Stop();
            return port;
        }

        public void Dispose() => _listener.Close();
    }
}
