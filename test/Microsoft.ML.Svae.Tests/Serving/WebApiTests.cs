using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.ML.Svae.Tests.Protocol;
using Svae.WebApi;

namespace Microsoft.ML.Svae.Tests.Serving;

/// <summary>Trains the models the serving tests use once: a tiny SVAE (UInt32 ids) and POP over SKUs (String ids), saved as zips.</summary>
public sealed class ServingModels : IDisposable
{
    private readonly MLContext _ml = new(seed: 1);

    public ServingModels()
    {
        Directory.CreateDirectory(Directory_);
        var data = _ml.Recommendation().Data.PrepareSequences(ProtocolTestData.Synthetic(_ml, users: 60, items: 30),
            new SequenceProtocolOptions { ValidationUsers = 0, TestUsers = 12 });
        Svae = _ml.Recommendation().Trainers.Svae(numberOfEpochs: 2).Fit(data.Train);
        SvaePath = Path.Combine(Directory_, "svae.zip");
        _ml.Recommendation().SaveModel(Svae, data.Train.Schema, SvaePath);
        var ids = data.GetItemIds<uint>();
        // The test users' histories in raw ids, and one with an id the model does not know.
        SvaeHistories = SequenceTestData.KeyColumn(data.Test, SequenceColumns.History).Select(keys => keys.Select(k => ids[(int)k - 1]).ToArray()).ToList();
        SvaeHistories.Add([ids[3], 987_654_321u, ids[0]]);
        using (var incremental = Svae.CreateIncrementalModel())
        {
            SvaeIncrementalPath = Path.Combine(Directory_, "svae-incremental.zip");
            var incrementalInput = _ml.Data.LoadFromEnumerable(Array.Empty<IncrementalInput<uint>>());
            _ml.Model.Save(incremental, incrementalInput.Schema, SvaeIncrementalPath);
        }

        // POP over SKU ids: item i of the list is in the histories of the first 6 - i users.
        string[] popularity = ["SKU-C", "SKU-A", "SKU-E", "SKU-B", "SKU-D", "SKU-F"];
        var rows = new List<RawIdTests.EventRow<string, string>>();
        long time = 0;
        for (int u = 0; u < 6; u++)
            for (int i = 0; i < 6 - u; i++)
                rows.Add(new RawIdTests.EventRow<string, string> { UserId = $"user-{u}", ItemId = popularity[i], Timestamp = time++ });
        Skus = _ml.Recommendation().Data.PrepareSequences(_ml.Data.LoadFromEnumerable(rows),
            new SequenceProtocolOptions { RatingThreshold = null, MinItemsPerUser = 1, ValidationUsers = 0, TestUsers = 0 });
        Popularity = _ml.Recommendation().Trainers.Popularity().Fit(Skus.Train);
        PopularityPath = Path.Combine(Directory_, "pop.zip");
        _ml.Recommendation().SaveModel(Popularity, Skus.Train.Schema, PopularityPath);
    }

    public string Directory_ { get; } = Path.Combine(Path.GetTempPath(), "svae-webapi-tests-" + Guid.NewGuid().ToString("N"));

    public SvaeTransformer Svae { get; }

    public string SvaePath { get; }

    public List<uint[]> SvaeHistories { get; }

    /// <summary>The SVAE's incremental model (<see cref="RecurrentRecommendationTransformer.CreateIncrementalModel"/>), saved as a zip.</summary>
    public string SvaeIncrementalPath { get; }

    public PopularityTransformer Popularity { get; }

    /// <summary>The SKU data set: six users (user-0 .. user-5), six SKUs.</summary>
    public SequenceDataset Skus { get; }

    public string PopularityPath { get; }

    /// <summary>In-process scoring of raw ids with the fitted transformer: the places with a finite score, best first.</summary>
    public List<(T[] Items, float[] Scores)> InProcess<T>(ITransformer model, IEnumerable<T[]> histories)
    {
        var input = _ml.Data.LoadFromEnumerable(histories.Select(h => new RawIdTests.HistoryInput<T> { History = h }).ToList());
        return _ml.Data.CreateEnumerable<RawIdTests.Recommendation<T>>(model.Transform(input), reuseRowObject: false)
            .Select(r =>
            {
                int n = r.TopScores.TakeWhile(s => !float.IsNegativeInfinity(s)).Count();
                return (r.TopItems[..n], r.TopScores[..n]);
            }).ToList();
    }

    public void Dispose()
    {
        Svae.Dispose();
        Popularity.Dispose();
        Directory.Delete(Directory_, recursive: true);
    }
}

/// <summary>
/// examples/Svae.WebApi over real HTTP: the app runs on Kestrel on a loopback port with the model path in its
/// configuration, and <see cref="HttpClient"/> calls it.
/// </summary>
public class WebApiTests(ServingModels models) : IClassFixture<ServingModels>
{
    /// <summary>The app on Kestrel (port 0: any free loopback port) with the given configuration.</summary>
    private sealed class WebApiFactory : WebApplicationFactory<global::Svae.WebApi.Program> // not the runner's global Program
    {
        private readonly Dictionary<string, string?> _settings;

        public WebApiFactory(Dictionary<string, string?> settings)
        {
            _settings = settings;
            UseKestrel(0);
        }

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            foreach (var (key, value) in _settings)
                builder.UseSetting(key, value);
            builder.ConfigureLogging(logging => logging.AddProvider(new ErrorLog(Errors)));
        }

        /// <summary>Errors the app logged (an unhandled exception in a request is logged, then answered with 500).</summary>
        public System.Collections.Concurrent.ConcurrentQueue<string> Errors { get; } = new();
    }

    private static WebApiFactory Start(string? modelPath, params (string Key, string Value)[] settings)
    {
        var all = new Dictionary<string, string?> { [ServingOptions.ModelPathKey] = modelPath };
        foreach (var (key, value) in settings)
            all[key] = value;
        var factory = new WebApiFactory(all);
        factory.StartServer();
        return factory;
    }

    /// <summary>Collects the app's error log entries, so that a failure shows the server's exception.</summary>
    private sealed class ErrorLog(System.Collections.Concurrent.ConcurrentQueue<string> errors) : ILoggerProvider, ILogger
    {
        public ILogger CreateLogger(string categoryName) => this;

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Error;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
                errors.Enqueue($"{formatter(state, exception)} {exception}");
        }

        public void Dispose()
        {
        }
    }

    private sealed record Response<T>(T[] Items, float[] Scores);

    private sealed record EventResponse(string UserId, int HistoryLength, string[] Items, float[] Scores);

    private sealed record NumericEventResponse(string UserId, int HistoryLength, uint[] Items, float[] Scores);

    private static async Task<Response<uint>> Recommend(HttpClient client, uint[] history, int k)
    {
        using var response = await client.PostAsJsonAsync("/recommendations", new { history, k });
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        return (await response.Content.ReadFromJsonAsync<Response<uint>>())!;
    }

    [Fact]
    public async Task ServesTheSameTopItemsAndScoresAsInProcessScoringOverHttp()
    {
        using var factory = Start(models.SvaePath);
        using var client = factory.CreateClient();
        Assert.StartsWith("http://127.0.0.1:", client.BaseAddress!.ToString(), StringComparison.Ordinal);

        var health = await client.GetFromJsonAsync<JsonElement>("/health");
        Assert.Equal("Healthy", health.GetProperty("status").GetString());
        Assert.Equal("UInt32", health.GetProperty("itemIdType").GetString());
        Assert.Equal(JsonValueKind.Null, health.GetProperty("userIdType").ValueKind);
        Assert.Equal(models.Svae.TopK, health.GetProperty("maxK").GetInt32());

        var expected = models.InProcess(models.Svae, models.SvaeHistories);
        for (int i = 0; i < models.SvaeHistories.Count; i++)
        {
            var served = await Recommend(client, models.SvaeHistories[i], models.Svae.TopK);
            Assert.Equal(expected[i].Items, served.Items);
            Assert.Equal(expected[i].Scores, served.Scores);
            Assert.Empty(served.Items.Intersect(models.SvaeHistories[i]));
            var top5 = await Recommend(client, models.SvaeHistories[i], 5);
            Assert.Equal(expected[i].Items[..5], top5.Items);
        }

        // Without k: the configured default (10).
        using var noK = await client.PostAsJsonAsync("/recommendations", new { history = models.SvaeHistories[0] });
        Assert.Equal(expected[0].Items[..10], (await noK.Content.ReadFromJsonAsync<Response<uint>>())!.Items);
    }

    /// <summary>Runs <paramref name="requests"/>; on failure, adds the app's logged errors to the message.</summary>
    private static async Task<T> RecordErrors<T>(WebApiFactory factory, Func<Task<T>> requests)
    {
        try
        {
            return await requests();
        }
        catch (Exception e) when (!factory.Errors.IsEmpty)
        {
            throw new Xunit.Sdk.XunitException($"{e.Message}\nThe app logged: {string.Join("\n", factory.Errors)}");
        }
    }

    [Fact]
    public async Task EightConcurrentClientsGetTheInProcessAnswers()
    {
        using var factory = Start(models.SvaePath);
        var expected = models.InProcess(models.Svae, models.SvaeHistories);
        var clients = Enumerable.Range(0, 8).Select(_ => factory.CreateClient()).ToList();
        try
        {
            // Each client sends every history, starting at a different one, four times over.
            var results = await RecordErrors(factory, () => Task.WhenAll(clients.Select((client, c) => Task.Run(async () =>
            {
                var answers = new List<(int History, Response<uint> Served)>();
                for (int n = 0; n < 4 * models.SvaeHistories.Count; n++)
                {
                    int h = (c + n) % models.SvaeHistories.Count;
                    answers.Add((h, await Recommend(client, models.SvaeHistories[h], models.Svae.TopK)));
                }
                return answers;
            }))));
            Assert.Empty(factory.Errors);
            Assert.Equal(8 * 4 * models.SvaeHistories.Count, results.Sum(r => r.Count));
            foreach (var (h, served) in results.SelectMany(r => r))
            {
                Assert.Equal(expected[h].Items, served.Items);
                Assert.Equal(expected[h].Scores, served.Scores);
            }
        }
        finally
        {
            clients.ForEach(c => c.Dispose());
        }
    }

    private static async Task<JsonElement> Problem(HttpClient client, string path, string json)
    {
        using var content = new StringContent(json, Encoding.UTF8, "application/json");
        using var response = await client.PostAsync(path, content);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(400, problem.GetProperty("status").GetInt32());
        return problem;
    }

    private static string Error(JsonElement problem, string field)
    {
        Assert.Equal("One or more validation errors occurred.", problem.GetProperty("title").GetString());
        return problem.GetProperty("errors").GetProperty(field).EnumerateArray().Single().GetString()!;
    }

    [Fact]
    public async Task BadRequestsGet400ProblemDetailsThatSayWhatIsWrong()
    {
        using var factory = Start(models.SvaePath, ("Svae:MaxHistoryLength", "5"));
        using var client = factory.CreateClient();
        int maxK = models.Svae.TopK;
        uint known = models.SvaeHistories[0][0];

        var malformed = await Problem(client, "/recommendations", "{\"history\": [1, 2");
        Assert.Equal("Malformed JSON", malformed.GetProperty("title").GetString());
        Assert.StartsWith("The request body is not valid JSON: ", malformed.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal("Malformed JSON", (await Problem(client, "/users/7/events", "{\"item\": }")).GetProperty("title").GetString());
        Assert.Equal("Malformed JSON", (await Problem(client, "/recommendations", "")).GetProperty("title").GetString());

        var notAnObject = await Problem(client, "/recommendations", "[1, 2]");
        Assert.Equal("The request body must be a JSON object, not an array.", notAnObject.GetProperty("detail").GetString());

        Assert.Equal("The history is required: an array of the user's item ids, oldest first.", Error(await Problem(client, "/recommendations", "{\"k\": 3}"), "history"));
        Assert.Equal("The history is empty: send at least one item id.", Error(await Problem(client, "/recommendations", "{\"history\": []}"), "history"));
        Assert.Equal("The history has 6 items; at most 5 are accepted.", Error(await Problem(client, "/recommendations", "{\"history\": [1, 2, 3, 4, 5, 6]}"), "history"));
        Assert.Equal("The history must be an array of item ids, not a string.", Error(await Problem(client, "/recommendations", "{\"history\": \"1,2\"}"), "history"));
        Assert.Equal("'abc' is not an item id of this model, which reads UInt32 ids.", Error(await Problem(client, "/recommendations", $"{{\"history\": [{known}, \"abc\"]}}"), "history[1]"));
        Assert.Equal("'-4' is not an item id of this model, which reads UInt32 ids.", Error(await Problem(client, "/recommendations", "{\"history\": [-4]}"), "history[0]"));
        Assert.Equal("An item id must be a JSON string or integer, not a boolean.", Error(await Problem(client, "/recommendations", "{\"history\": [true]}"), "history[0]"));
        Assert.Equal($"k must be an integer from 1 to {maxK} (the model's K), not 0.", Error(await Problem(client, "/recommendations", $"{{\"history\": [{known}], \"k\": 0}}"), "k"));
        Assert.Equal($"k must be an integer from 1 to {maxK} (the model's K), not {maxK + 1}.", Error(await Problem(client, "/recommendations", $"{{\"history\": [{known}], \"k\": {maxK + 1}}}"), "k"));
        Assert.Equal($"k must be an integer from 1 to {maxK} (the model's K), not \"3\".", Error(await Problem(client, "/recommendations", $"{{\"history\": [{known}], \"k\": \"3\"}}"), "k"));
        Assert.Equal("The item is required: the id of the item the user interacted with.", Error(await Problem(client, "/users/7/events", "{}"), "item"));
        Assert.Equal("'x1' is not an item id of this model, which reads UInt32 ids.", Error(await Problem(client, "/users/7/events", "{\"item\": \"x1\"}"), "item"));

        // A valid request after all of them still works (ids as JSON strings are accepted too).
        using var ok = await client.PostAsJsonAsync("/recommendations", new { history = new[] { known.ToString(System.Globalization.CultureInfo.InvariantCulture) }, k = 2 });
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        Assert.Equal(models.InProcess(models.Svae, [[known]])[0].Items[..2], (await ok.Content.ReadFromJsonAsync<Response<uint>>())!.Items);
    }

    [Fact]
    public async Task EventsUpdateEachUsersRecommendations()
    {
        // POP ranks C, A, E, B, D, F; the store keeps each user's last 2 events.
        using var factory = Start(models.PopularityPath, ("Svae:MaxHistoryLength", "2"));
        using var client = factory.CreateClient();
        var health = await client.GetFromJsonAsync<JsonElement>("/health");
        Assert.Equal("String", health.GetProperty("itemIdType").GetString());

        async Task<EventResponse> Event(string user, string item, int k = 6)
        {
            using var response = await client.PostAsJsonAsync($"/users/{user}/events", new { item, k });
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            return (await response.Content.ReadFromJsonAsync<EventResponse>())!;
        }

        var first = await Event("alice", "SKU-C");
        Assert.Equal(("alice", 1), (first.UserId, first.HistoryLength));
        Assert.Equal(["SKU-A", "SKU-E", "SKU-B", "SKU-D", "SKU-F"], first.Items);
        Assert.Equal(models.InProcess(models.Popularity, [["SKU-C"]])[0].Scores, first.Scores);
        var second = await Event("alice", "SKU-A");
        Assert.Equal(2, second.HistoryLength);
        Assert.Equal(["SKU-E", "SKU-B", "SKU-D", "SKU-F"], second.Items);
        var expected = models.InProcess(models.Popularity, [["SKU-C", "SKU-A"]])[0];
        Assert.Equal(expected.Items, second.Items);
        Assert.Equal(expected.Scores, second.Scores);

        // Another user has a state of its own; an unknown item counts as an event but changes no ranking.
        Assert.Equal(["SKU-C", "SKU-A", "SKU-E", "SKU-B", "SKU-D"], (await Event("bob", "SKU-F")).Items);
        var unknown = await Event("carol", "no-such-sku", k: 3);
        Assert.Equal(("carol", 1), (unknown.UserId, unknown.HistoryLength));
        Assert.Equal(["SKU-C", "SKU-A", "SKU-E"], unknown.Items);

        // The third event of alice pushes out her first (SKU-C): it can be recommended again.
        var third = await Event("alice", "SKU-E");
        Assert.Equal(2, third.HistoryLength);
        Assert.Equal(["SKU-C", "SKU-B", "SKU-D", "SKU-F"], third.Items);
    }

    [Fact]
    public async Task EventsWithTheIncrementalModelGiveTheFullHistoryRecommendations()
    {
        using var factory = Start(models.SvaePath, (ServingOptions.IncrementalModelPathKey, models.SvaeIncrementalPath));
        using var client = factory.CreateClient();
        Assert.IsType<RecurrentStateUserState<uint>>(factory.Services.GetService(typeof(IUserStateRecommender)));
        await RecordErrors(factory, async () =>
        {
            // Two users' events interleaved, one of them with an id the model does not know (the last history).
            var histories = new[] { models.SvaeHistories[0], models.SvaeHistories[^1] };
            int longest = histories.Max(h => h.Length);
            for (int t = 0; t < longest; t++)
            {
                for (int u = 0; u < histories.Length; u++)
                {
                    if (t >= histories[u].Length)
                        continue;
                    using var response = await client.PostAsJsonAsync($"/users/user-{u}/events", new { item = histories[u][t], k = models.Svae.TopK });
                    Assert.True(response.StatusCode == HttpStatusCode.OK, $"{response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
                    var served = (await response.Content.ReadFromJsonAsync<NumericEventResponse>())!;
                    var expected = models.InProcess(models.Svae, [histories[u][..(t + 1)]])[0];
                    Assert.Equal(t + 1, served.HistoryLength);
                    Assert.Equal(expected.Items, served.Items);
                    Assert.Equal(expected.Scores.Length, served.Scores.Length);
                    for (int i = 0; i < expected.Scores.Length; i++)
                        Assert.True(Math.Abs(expected.Scores[i] - served.Scores[i]) < 1e-4, $"user {u}, event {t}, place {i}: {expected.Scores[i]} vs {served.Scores[i]}");
                }
            }
            return 0;
        });
    }

    [Fact]
    public void AnIncrementalPathThatIsMissingOrNotAnIncrementalModelIsAStartupErrorNamingTheKey()
    {
        var recommender = ModelRecommender.Load(new MLContext(), models.SvaePath);
        try
        {
            var options = new ServingOptions { ModelPath = models.SvaePath };
            var wrong = Assert.Throws<ModelStartupException>(() => RecurrentUserState.Load(new MLContext(), models.SvaePath, recommender, options));
            Assert.Equal($"Configuration key 'Svae:IncrementalModelPath': the model '{models.SvaePath}' does not read 'State', 'History' and 'Seen' columns " +
                "of UInt32 item ids and write 'NextState', 'TopItems' and 'TopScores'; is it the incremental model (CreateIncrementalModel() of an SVAE or GRU4Rec model) " +
                "of the model in 'Svae:ModelPath'?", wrong.Message);
            string missingPath = Path.Combine(models.Directory_, "no-such-incremental.zip");
            var missing = Assert.Throws<ModelStartupException>(() => RecurrentUserState.Load(new MLContext(), missingPath, recommender, options));
            Assert.Equal($"Configuration key 'Svae:IncrementalModelPath': the model file '{missingPath}' does not exist.", missing.Message);
        }
        finally
        {
            (recommender as IDisposable)?.Dispose();
        }
    }

    [Fact]
    public void TheIncrementalModelOfAnotherModelIsAStartupErrorNamingBothKeys()
    {
        // Another SVAE: fewer items, so another vocabulary and K.
        var ml = new MLContext(seed: 1);
        var data = ml.Recommendation().Data.PrepareSequences(ProtocolTestData.Synthetic(ml, users: 30, items: 22),
            new SequenceProtocolOptions { ValidationUsers = 0, TestUsers = 0 });
        using var other = ml.Recommendation().Trainers.Svae(numberOfEpochs: 1).Fit(data.Train);
        string otherPath = Path.Combine(models.Directory_, "other-svae-incremental.zip");
        int otherK, otherItems;
        using (var incremental = other.CreateIncrementalModel())
        {
            otherK = incremental.TopK;
            otherItems = incremental.ItemCount;
            ml.Model.Save(incremental, ml.Data.LoadFromEnumerable(Array.Empty<IncrementalInput<uint>>()).Schema, otherPath);
        }
        Assert.NotEqual(models.Svae.ItemCount, otherItems);

        var recommender = ModelRecommender.Load(new MLContext(), models.SvaePath);
        try
        {
            Assert.Equal((ulong)models.Svae.ItemCount, recommender.ItemCount);
            Assert.Equal(models.Svae.TopK, recommender.MaxK);
            var options = new ServingOptions { ModelPath = models.SvaePath };
            var error = Assert.Throws<ModelStartupException>(() => RecurrentUserState.Load(new MLContext(), otherPath, recommender, options));
            Assert.Equal($"Configuration key 'Svae:IncrementalModelPath': the incremental model '{otherPath}' gives K = {otherK} recommendations " +
                $"over {otherItems} item ids, but the model in 'Svae:ModelPath' gives K = {models.Svae.TopK} over {models.Svae.ItemCount}; " +
                "it is not that model's incremental model (CreateIncrementalModel() of an SVAE or GRU4Rec model).", error.Message);

            // The model's own incremental zip loads.
            var own = RecurrentUserState.Load(new MLContext(), models.SvaeIncrementalPath, recommender, options);
            (own as IDisposable)?.Dispose();
        }
        finally
        {
            (recommender as IDisposable)?.Dispose();
        }
    }

    [Fact]
    public async Task AUserKeyedModelReadsTheUserFromTheRequestAndTheEventPath()
    {
        var ml = new MLContext(seed: 1);
        using var bpr = ml.Recommendation().Trainers.Bpr(numberOfEpochs: 2).Fit(models.Skus.Train);
        string zip = Path.Combine(models.Directory_, $"bpr-{Guid.NewGuid():N}.zip");
        ml.Recommendation().SaveModel(bpr, models.Skus.Train.Schema, zip);
        var cases = new[] { ("user-2", new[] { "SKU-C" }), ("nobody", new[] { "SKU-C" }), ("user-4", new[] { "SKU-A", "SKU-F" }) };
        var input = ml.Data.LoadFromEnumerable(cases.Select(c => new RawIdTests.UserHistoryInput { UserId = c.Item1, History = c.Item2 }).ToList());
        var expected = ml.Data.CreateEnumerable<RawIdTests.Recommendation<string>>(bpr.Transform(input), reuseRowObject: false).ToList();
        Assert.NotEqual(expected[0].TopScores, expected[1].TopScores); // the user matters: a known user and an unknown one differ

        using var factory = Start(zip);
        using var client = factory.CreateClient();
        var health = await client.GetFromJsonAsync<JsonElement>("/health");
        Assert.Equal("String", health.GetProperty("userIdType").GetString());
        for (int i = 0; i < cases.Length; i++)
        {
            using var response = await client.PostAsJsonAsync("/recommendations", new { history = cases[i].Item2, k = 3, userId = cases[i].Item1 });
            var served = (await response.Content.ReadFromJsonAsync<Response<string>>())!;
            Assert.Equal(expected[i].TopItems[..3], served.Items);
            Assert.Equal(expected[i].TopScores[..3], served.Scores);
        }

        // The events endpoint scores the path's user: user-4's two events give the third case's answer.
        using var first = await client.PostAsJsonAsync("/users/user-4/events", new { item = "SKU-A", k = 3 });
        using var second = await client.PostAsJsonAsync("/users/user-4/events", new { item = "SKU-F", k = 3 });
        var afterEvents = (await second.Content.ReadFromJsonAsync<EventResponse>())!;
        Assert.Equal(expected[2].TopItems[..3], afterEvents.Items);
        Assert.Equal(expected[2].TopScores[..3], afterEvents.Scores);
    }

    /// <summary>Runs the app as a process (as from the command line) with the model path argument; returns its exit code, standard error and output.</summary>
    private async Task<(int ExitCode, string Error, string Output)> RunApp(string? modelPath)
    {
        var start = new System.Diagnostics.ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = models.Directory_,
        };
        start.ArgumentList.Add(typeof(global::Svae.WebApi.Program).Assembly.Location);
        if (modelPath is not null)
            start.ArgumentList.Add($"--{ServingOptions.ModelPathKey}={modelPath}");
        start.ArgumentList.Add("--urls=http://127.0.0.1:0");
        start.Environment.Remove("Svae__ModelPath");
        using var process = System.Diagnostics.Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        string error = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, error.Trim(), (await output).Trim());
    }

    [Fact]
    public async Task AMissingOrDamagedModelStopsTheAppWithOneMessageNamingTheKeyAndPath()
    {
        string missing = Path.Combine(models.Directory_, "no-such-model.zip");
        Assert.Equal((1, $"Svae.WebApi cannot start: Configuration key 'Svae:ModelPath': the model file '{missing}' does not exist.", ""),
            await RunApp(missing));

        string damaged = Path.Combine(models.Directory_, "damaged.zip");
        File.WriteAllBytes(damaged, Encoding.ASCII.GetBytes("not a zip"));
        var (exitCode, error, output) = await RunApp(damaged);
        Assert.Equal((1, ""), (exitCode, output));
        Assert.StartsWith($"Svae.WebApi cannot start: Configuration key 'Svae:ModelPath': the file '{damaged}' is not a model zip ML.NET can load (", error, StringComparison.Ordinal);
        Assert.DoesNotContain("\n", error, StringComparison.Ordinal);

        Assert.Equal((1, "Svae.WebApi cannot start: Configuration key 'Svae:ModelPath' is not set: set it to the path of a model zip written by MLNet.Svae " +
            "(e.g. --Svae:ModelPath=model.zip, or the environment variable Svae__ModelPath).", ""), await RunApp(null));
    }
}
