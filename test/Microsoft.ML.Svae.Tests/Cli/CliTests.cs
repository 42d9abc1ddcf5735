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
    public void ReproduceUnderLeaveOneOutReportsHitRateAndNdcgPerModel()
    {
        int code = RunnerCli.Build().Parse(new[] { "reproduce", "--models", "POP,GRU4Rec", "--protocol", "leave-one-out", "--epochs", "1", "--seeds", "1,2",
            "--k-values", "none", "--output", _dir, "--plain" }).Invoke();
        Assert.Equal(0, code);
        var csv = File.ReadAllLines(Path.Combine(_dir, "results.csv"));
        Assert.Equal("Model,Protocol,Seeds,NDCG@10,HR@10,NDCG@100,HR@100,NDCG@10 sd,HR@10 sd,Train seconds", csv[0]);
        Assert.Equal(3, csv.Length);
        Assert.StartsWith("POP,leave-last-one-out,2,", csv[1]);
        Assert.StartsWith("GRU4Rec,leave-last-one-out,2,", csv[2]);
        // POP does not depend on the seed: no spread. HR@n ≥ NDCG@n for a single target.
        var pop = csv[1].Split(',');
        Assert.Equal(("0", "0"), (pop[7], pop[8]));
        Assert.True(double.Parse(pop[4], System.Globalization.CultureInfo.InvariantCulture) >= double.Parse(pop[3], System.Globalization.CultureInfo.InvariantCulture));
        Assert.Contains("# Leave-one-out on synthetic (small)", File.ReadAllText(Path.Combine(_dir, "results.md")));
    }

    [Fact]
    public void TheVariantsSwitchAddsTheFourSequentialVaesToTheTableAndToFig4()
    {
        int code = RunnerCli.Build().Parse(new[] { "reproduce", "--models", "POP,SeqVAE-LearnedPrior", "--variants", "--epochs", "1",
            "--set", "EmbeddingSize=8", "--set", "RecurrentSize=8", "--set", "EncoderSize=8", "--set", "DecoderSize=8", "--set", "LatentSize=4",
            "--set", "MaxHistoryLength=20", "--k-values", "none", "--output", _dir, "--plain" }).Invoke();
        Assert.Equal(0, code);
        var rows = File.ReadAllLines(Path.Combine(_dir, "results.csv")).Skip(1).Select(l => l.Split(',')[0]).ToList();
        Assert.Equal(new[] { "POP", "SeqVAE-LearnedPrior", "SeqVAE-GlobalLatent", "SeqVAE-LatentInRecurrence", "SeqVAE-GlobalRecurrence" }, rows);
        Assert.True(File.Exists(Path.Combine(_dir, "fig4-history-length.png")));
        // Table 2 stays the default list: the variants run only when asked for.
        Assert.DoesNotContain(ModelRegistry.Table2, m => m.Name.StartsWith("SeqVAE-", StringComparison.Ordinal));
        Assert.Equal(SequentialVaeVariant.GlobalRecurrence,
            ModelRegistry.SequentialVaeOptions(new RunSettings(null, false, 1), SequentialVaeVariant.GlobalRecurrence).Variant);
    }

    [Fact]
    public void TheEqualDataSwitchAddsAFoldInRowForHistoryOnlyModels()
    {
        int code = RunnerCli.Build().Parse(new[] { "reproduce", "--models", "POP,BPR*", "--epochs", "1", "--history-models-also-on-fold-in",
            "--k-values", "none", "--output", _dir, "--plain" }).Invoke();
        Assert.Equal(0, code);
        var rows = File.ReadAllLines(Path.Combine(_dir, "results.csv")).Skip(1).Select(l => l.Split(',')[..2]).ToList();
        Assert.Equal(new[] { "POP|temporal 80/20 fold-in/out", "POP+fold-in|temporal; held-out fold-in added to training", "BPR*|temporal; held-out fold-in added to training" },
            rows.Select(r => string.Join("|", r)));
        Assert.Equal(new[] { "POP", "POP+fold-in", "SVAE", "SVAE+fold-in", "BPR*", "MVAE*" },
            ModelRegistry.WithFoldInVariants(new[] { "POP", "SVAE", "BPR*", "MVAE*" }.Select(ModelRegistry.Find).ToList()).Select(m => m.Name));
    }

    [Fact]
    public void ProtocolErrorsAreOneLine()
    {
        Assert.Equal("svae: error: --protocol must be paper or leave-one-out (got 'loo').",
            UsageError("reproduce", "--models", "POP", "--protocol", "loo", "--output", _dir, "--plain"));
        Assert.StartsWith("svae: error: --history-models-also-on-fold-in applies to --protocol paper only",
            UsageError("reproduce", "--models", "POP", "--protocol", "leave-one-out", "--history-models-also-on-fold-in", "--output", _dir, "--plain"));
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
        // Every output file is written beside its target and renamed into place: no temporary file is left.
        Assert.Empty(Directory.GetFiles(_dir, "*.tmp"));
        Assert.True(File.Exists(Path.Combine(_dir, "results.csv")));
    }

    [Fact]
    public void AnOutputFileIsReplacedWholeAndAFailedWriteLeavesThePreviousFile()
    {
        Directory.CreateDirectory(_dir);
        string path = Path.Combine(_dir, "results.md");
        AtomicFile.WriteAllText(path, "first");
        AtomicFile.WriteAllText(path, "second");
        Assert.Equal("second", File.ReadAllText(path));
        Assert.Throws<IOException>(() => AtomicFile.Write(path, temporary =>
        {
            File.WriteAllText(temporary, "half");
            throw new IOException("disk full");
        }));
        Assert.Equal("second", File.ReadAllText(path));
        Assert.Equal(new[] { path }, Directory.GetFiles(_dir));
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
    public void SweepWithOneEpochTrainsEveryTrialOnceWithoutAnEarlyRound()
    {
        // One epoch: the short round (a third of the epochs, at least 1) would be the full training; this used to fail
        // with "DataFrame already contains a column called NDCG@100 after 1 epochs".
        int code = RunnerCli.Build().Parse(new[] { "sweep", "--trials", "1", "--epochs", "1", "--output", _dir, "--plain" }).Invoke();
        Assert.Equal(0, code);
        var csv = File.ReadAllLines(Path.Combine(_dir, "trials.csv"));
        Assert.StartsWith("Trial,NDCG@100 after 1 epochs,BatchOrder,BatchSize,", csv[0]);
        Assert.DoesNotContain("Stopped early", csv[0]);
        Assert.Equal(2, csv.Length);
        Assert.Contains("every trial trained in full (with one epoch per trial there is no short first round)",
            File.ReadAllText(Path.Combine(_dir, "trials.md")));
    }

    [Fact]
    public void SweepOfASequentialVaeKeepsItsVariant()
    {
        int code = RunnerCli.Build().Parse(new[] { "sweep", "--model", "SeqVAE-LearnedPrior", "--trials", "2", "--epochs", "2", "--output", _dir, "--plain" }).Invoke();
        Assert.Equal(0, code);
        var csv = File.ReadAllLines(Path.Combine(_dir, "trials.csv"));
        Assert.Equal(3, csv.Length);
        // The variant is the model (--model names it): never a swept column.
        Assert.DoesNotContain("Variant", csv[0].Split(','));
        Assert.Contains("LatentSize", csv[0].Split(','));
        Assert.Contains("# SeqVAE-LearnedPrior sweep on synthetic", File.ReadAllText(Path.Combine(_dir, "trials.md")));
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
        Assert.Contains("Known models", Assert.Throws<ArgumentException>(() => ModelRegistry.Find("BERT4Rec")).Message);
        Assert.Contains("Name=Value", Assert.Throws<CliException>(() => RunnerCli.ParseOverrides(new[] { "LearningRate" })).Message);
        var parse = RunnerCli.Build().Parse(new[] { "reproduce", "--epochs", "many" });
        Assert.NotEmpty(parse.Errors);
    }

    /// <summary>Runs the CLI and checks it failed with exactly one <c>svae: error: ...</c> line and exit code 2; returns the message.</summary>
    private static string UsageError(params string[] args)
    {
        var error = new StringWriter();
        int code = RunnerCli.Run(args, TextWriter.Null, error);
        var lines = error.ToString().Split(new[] { '\r', '\n' }, StringSplitOptions.RemoveEmptyEntries);
        Assert.True(code == 2, $"exit code {code}, stderr: {error}");
        Assert.Single(lines);
        Assert.StartsWith("svae: error: ", lines[0]);
        return lines[0];
    }

    [Fact]
    public void ReproduceWithCheckpointsResumesAndRefusesOtherOptions()
    {
        string checkpoints = Path.Combine(_dir, "checkpoints");
        string output = Path.Combine(_dir, "out");
        string[] args = ["reproduce", "--models", "SVAE", "--epochs", "2", "--k-values", "none", "--output", output, "--plain", "--checkpoint", checkpoints];
        Assert.Equal(0, RunnerCli.Build().Parse(args).Invoke());
        string checkpoint = Path.Combine(checkpoints, "SVAE", "split-98765", "SVAE.checkpoint");
        Assert.True(File.Exists(checkpoint));
        static string Metrics(string csv) => string.Join(',', File.ReadAllLines(csv)[1].Split(',').Take(9));
        string first = Metrics(Path.Combine(output, "results.csv"));

        // Again with the same folder: the completed checkpoint gives the same model.
        Assert.Equal(0, RunnerCli.Build().Parse(args).Invoke());
        Assert.Equal(first, Metrics(Path.Combine(output, "results.csv")));

        string message = UsageError([.. args, "--set", "LearningRate=0.005"]);
        Assert.StartsWith($"svae: error: The checkpoint {checkpoint} was made with other options: LearningRate: ", message);
        Assert.Contains(" now. Use the same options and data to resume", message);

        File.WriteAllText(Path.Combine(_dir, "file"), "");
        Assert.Equal($"svae: error: --checkpoint '{Path.Combine(_dir, "file")}' is a file; it must name a folder.",
            UsageError("reproduce", "--models", "SVAE", "--output", output, "--plain", "--checkpoint", Path.Combine(_dir, "file")));
    }

    [Fact]
    public void UnknownSetNameIsAnErrorListingTheValidNames()
    {
        string message = UsageError("reproduce", "--models", "POP", "--set", "Foo=1", "--output", _dir, "--plain");
        Assert.Equal("svae: error: --set Foo: no option 'Foo' in the options of POP. Valid names: HistoryColumnName, OutputScores, TopK.", message);
        Assert.False(Directory.Exists(Path.Combine(_dir, "results.md")));
    }

    [Fact]
    public void BadOptionValuesAreOneLineErrors()
    {
        Assert.Equal("svae: error: --set LearningRate=fast: 'fast' is not a valid Double.",
            UsageError("reproduce", "--models", "SVAE", "--set", "LearningRate=fast", "--output", _dir, "--plain"));
        Assert.Equal("svae: error: --set Likelihood=gaussian: 'gaussian' is not one of MultiSet, Mixture.",
            UsageError("reproduce", "--models", "SVAE", "--set", "Likelihood=gaussian", "--output", _dir, "--plain"));
        Assert.StartsWith("svae: error: --set: SVAE: ", UsageError("reproduce", "--models", "SVAE", "--set", "BatchSize=0", "--output", _dir, "--plain"));
        Assert.Equal("svae: error: --seeds takes comma-separated integers, but 'x' is not an integer.",
            UsageError("reproduce", "--models", "POP", "--seeds", "1,x", "--output", _dir, "--plain"));
        Assert.Equal("svae: error: Cannot parse argument 'many' for option '--epochs' as an integer. (see svae --help)", UsageError("reproduce", "--epochs", "many"));
        Assert.Equal("svae: error: --held-out-users must be at least 0 (got -3).", UsageError("split", "--held-out-users", "-3", "--output", _dir));
        Assert.Contains("--nope", UsageError("stats", "--nope"));
        Assert.StartsWith("svae: error: Unknown model 'BERT4Rec'.", UsageError("reproduce", "--models", "BERT4Rec", "--output", _dir));
    }

    [Fact]
    public void StatsOnDataTooSmallForTheProtocolIsAnError()
    {
        Directory.CreateDirectory(_dir);
        string path = Path.Combine(_dir, "u.data");
        // 20 users with 6 positive ratings each: fewer than the 100 + 100 users stats holds out by default.
        File.WriteAllLines(path, Enumerable.Range(1, 20).SelectMany(u => Enumerable.Range(1, 6).Select(i => $"{u}\t{i}\t5\t{1000 * u + i}")));
        string message = UsageError("stats", "--data", path);
        Assert.Equal("svae: error: The data cannot be split as the protocol asks: Cannot hold out 100 validation and 100 test users: only 20 users " +
            "have at least 5 events, and at least one user must remain for training. To fix: hold out fewer users with --held-out-users.", message);

        string fixture = Path.Combine(AppContext.BaseDirectory, "Fixtures", "ml100k_u.data");
        Assert.StartsWith("svae: error: The data cannot be split as the protocol asks: No user has at least MinItemsPerUser = 5 events",
            UsageError("stats", "--data", fixture, "--format", "ml-100k", "--held-out-users", "1"));
        Assert.StartsWith("svae: error: The interaction file '", UsageError("stats", "--data", Path.Combine(_dir, "missing.data"), "--format", "ml-100k"));
    }

    [Fact]
    public void UnwritableOutputFolderIsAnErrorBeforeAnyWork()
    {
        Directory.CreateDirectory(_dir);
        string file = Path.Combine(_dir, "a-file");
        File.WriteAllText(file, "not a folder");
        string output = Path.Combine(file, "results");
        Assert.StartsWith($"svae: error: Cannot write to the output folder '{output}': ", UsageError("reproduce", "--models", "POP", "--output", output, "--plain"));
        Assert.StartsWith($"svae: error: Cannot write to the output folder '{output}': ", UsageError("split", "--output", output));
        Assert.StartsWith($"svae: error: Cannot write to the output folder '{output}': ", UsageError("sweep", "--output", output, "--plain"));
    }

    [Fact]
    public void ScoreWithABadModelOrHistoryIsAnError()
    {
        Directory.CreateDirectory(_dir);
        string missing = Path.Combine(_dir, "missing.zip");
        Assert.Equal($"svae: error: The model file '{missing}' does not exist.", UsageError("score", missing, "1,2"));

        string garbage = Path.Combine(_dir, "garbage.zip");
        File.WriteAllText(garbage, "this is not a zip");
        Assert.StartsWith($"svae: error: The model file '{garbage}' is damaged: it is not a readable zip archive", UsageError("score", garbage, "1,2"));

        var ml = new MLContext(seed: 1);
        var data = SequenceTestData.Histories(ml, 5, new[] { new uint[] { 1, 2 }, new uint[] { 2, 3, 4 }, new uint[] { 3, 5 } });
        using var model = ml.Recommendation().Trainers.Popularity(topK: 3).Fit(data);
        string zip = Path.Combine(_dir, "pop.zip");
        ml.Recommendation().SaveModel(model, data.Schema, zip);
        Assert.Equal(0, RunnerCli.Run(new[] { "score", zip, "1,2" }, TextWriter.Null, TextWriter.Null));
        Assert.StartsWith("svae: error: A history is not a comma-separated list of item keys", UsageError("score", zip, "1,two"));
        Assert.Equal($"svae: error: The history file '{Path.Combine(_dir, "none.txt")}' does not exist.", UsageError("score", zip, "--input", Path.Combine(_dir, "none.txt")));

        // A valid ML.NET zip that is not a recommender.
        string other = Path.Combine(_dir, "other.zip");
        var numbers = ml.Data.LoadFromEnumerable(new[] { new NumberRow { X = 1 } });
        ml.Model.Save(ml.Transforms.CopyColumns("Y", "X").Fit(numbers), numbers.Schema, other);
        Assert.Equal($"svae: error: The model '{other}' has no 'History' input column: it is not a recommender saved by MLNet.Svae.", UsageError("score", other, "1,2"));
    }

    [Fact]
    public void InputErrorsAreTheUsersAndProgrammingErrorsAreInternal()
    {
        Assert.Equal("bad", CliErrors.UserMessage(new CliException("bad")));
        Assert.Equal("no file", CliErrors.UserMessage(new FileNotFoundException("no file")));
        Assert.Equal("denied", CliErrors.UserMessage(new UnauthorizedAccessException("denied")));
        Assert.Equal("line 3", CliErrors.UserMessage(new System.Reflection.TargetInvocationException(new FormatException("line 3"))));
        Assert.Null(CliErrors.UserMessage(new NullReferenceException()));
        Assert.Null(CliErrors.UserMessage(new ArgumentNullException("x")));
        Assert.Null(CliErrors.UserMessage(new InvalidOperationException("a bug")));
        Assert.Equal("a b c", CliErrors.OneLine("a\r\nb\n\n  c  "));
    }

    private sealed class NumberRow
    {
        public float X { get; set; }
    }

    [Theory]
    [InlineData("epoch 3: loss 1.25", 80, "epoch 3: loss 1.25")]
    [InlineData("0123456789abcdef", 10, "0123456...")]
    [InlineData("0123456789", 10, "0123456789")]
    [InlineData("first line\nsecond line", 40, "first line")]
    public void StatusLinesFitTheTerminalWidth(string text, int width, string expected)
    {
        string line = ProgressDisplay.FitWidth(text, width);
        Assert.Equal(expected, line);
        Assert.True(line.Length <= width);
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
