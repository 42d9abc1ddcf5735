using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using Microsoft.ML;
using Microsoft.ML.Svae;

namespace Svae.Benchmarks;

/// <summary>
/// Serving one event at a time (issue 13): SVAE's incremental model (one GRU step from a kept state) against
/// full-history rescoring at history lengths 10, 100 and 1,000, through ML.NET PredictionEngines on one thread; and,
/// with <c>--webapi</c>, examples/Svae.WebApi on 127.0.0.1 under a bounded load of 1, 8 and 32 concurrent clients.
/// </summary>
internal sealed class IncrementalServingBenchmark : IBenchmark
{
    public string Name => "incremental";

    public string Usage => "[--items N] [--updates U] [--webapi PATH/Svae.WebApi.dll] [--requests R] [--seconds S]: one-event updates vs full-history rescoring (p50/p99, per second), and the web API's events endpoint under 1/8/32 loopback clients";

    private sealed class HistoryInput
    {
        public uint[] History { get; set; } = [];
    }

    private sealed class HistoryOutput
    {
        public uint[] TopItems { get; set; } = [];
    }

    private sealed class EventInput
    {
        public float[] State { get; set; } = [];

        public uint[] History { get; set; } = [];

        public uint[] Seen { get; set; } = [];
    }

    private sealed class EventOutput
    {
        public float[] NextState { get; set; } = [];

        public uint[] TopItems { get; set; } = [];
    }

    public int Run(string[] args)
    {
        int items = 3706, updates = 2000, requests = 2000, seconds = 30;
        string? webApi = null;
        bool profile = false;
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--items") items = int.Parse(args[++i], CultureInfo.InvariantCulture);
            else if (args[i] == "--updates") updates = int.Parse(args[++i], CultureInfo.InvariantCulture);
            else if (args[i] == "--webapi") webApi = args[++i];
            else if (args[i] == "--requests") requests = int.Parse(args[++i], CultureInfo.InvariantCulture);
            else if (args[i] == "--seconds") seconds = int.Parse(args[++i], CultureInfo.InvariantCulture);
            else if (args[i] == "--profile") profile = true;
            else { Console.Error.WriteLine($"usage: incremental {Usage}"); return 2; }
        }

        // The paper's network (default options) over an ML-1M-sized item set; the weights of one short epoch (speed
        // does not depend on them).
        var ml = new MLContext(seed: 1);
        var data = ml.Recommendation().Data.PrepareSequences(
            ml.Recommendation().Data.GenerateSyntheticInteractions(new SyntheticInteractionOptions { Users = 300, Items = items, MeanHistoryLength = 60 }),
            new SequenceProtocolOptions { ValidationUsers = 0, TestUsers = 0 });
        using var model = ml.Recommendation().Trainers.Svae(new SvaeTrainer.Options { NumberOfEpochs = 1, EarlyStoppingPatience = 0 }).Fit(data.Train);
        using var incremental = model.CreateIncrementalModel();
        var ids = data.ItemIds;
        Console.WriteLine($"SVAE: {model.ItemCount:N0} items, GRU state {model.RecurrentSize} floats, K = {model.TopK}; one thread, PredictionEngine, {Environment.ProcessorCount} cores");

        using var full = ml.Model.CreatePredictionEngine<HistoryInput, HistoryOutput>(model);
        using var step = ml.Model.CreatePredictionEngine<EventInput, EventOutput>(incremental);
        var rng = new Random(5);
        var lengths = new List<(int Length, float[] State, uint[] History)>();
        Console.WriteLine("| history length | one-event update p50 / p99 (ms) | updates/s | full rescoring p50 / p99 (ms) | rescorings/s | ratio |");
        Console.WriteLine("| ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (int length in new[] { 10, 100, 1000 })
        {
            var history = Enumerable.Range(0, length).Select(_ => ids[rng.Next(ids.Count)]).ToArray();
            var state = step.Predict(new EventInput { History = history }).NextState;
            var nextItems = Enumerable.Range(0, updates).Select(_ => ids[rng.Next(ids.Count)]).ToArray();
            var incrementalTimes = Measure(updates, i => step.Predict(new EventInput { State = state, History = [nextItems[i]], Seen = history }));
            int rescorings = Math.Max(50, updates / Math.Max(1, length / 10));
            var fullTimes = Measure(rescorings, i => full.Predict(new HistoryInput { History = [.. history, nextItems[i % updates]] }));
            Console.WriteLine(FormattableString.Invariant(
                $"| {length:N0} | {Percentile(incrementalTimes, 0.5):F3} / {Percentile(incrementalTimes, 0.99):F3} | {1000 / incrementalTimes.Average():N0} | {Percentile(fullTimes, 0.5):F3} / {Percentile(fullTimes, 0.99):F3} | {1000 / fullTimes.Average():N0} | {fullTimes.Average() / incrementalTimes.Average():F1}× |"));
            lengths.Add((length, state, history));
        }
        OnnxRuntimeDirect(incremental, lengths, updates, ids.Count);
        if (profile)
            ProfileGraph(incremental, lengths[1].State, lengths[1].Length, updates, ids.Count);
        LoadedZips(ml, model, incremental, data.Train.Schema, lengths, updates, ids);

        if (webApi is not null)
            return WebApiLoad(ml, model, incremental, data.Train.Schema, ids, webApi, requests, seconds);
        return 0;
    }

    /// <summary>
    /// The incremental graph alone: the same one-event updates run by an ONNX Runtime session on item keys (no ML.NET
    /// id mapping or PredictionEngine), to tell the graph's cost from the per-call cost around it.
    /// </summary>
    private static void OnnxRuntimeDirect(IncrementalRecommendationTransformer incremental, List<(int Length, float[] State, uint[] History)> lengths, int updates, int items)
    {
        using var graph = new MemoryStream();
        incremental.ExportOnnx(graph);
        using var options = new Microsoft.ML.OnnxRuntime.SessionOptions { IntraOpNumThreads = 1, InterOpNumThreads = 1 };
        using var session = new Microsoft.ML.OnnxRuntime.InferenceSession(graph.ToArray(), options);
        var rng = new Random(6);
        Console.WriteLine();
        Console.WriteLine("ONNX Runtime session on the incremental graph directly (item keys, one thread):");
        Console.WriteLine("| seen items | update p50 / p99 (ms) | updates/s |");
        Console.WriteLine("| ---: | ---: | ---: |");
        foreach (var (length, state, _) in lengths)
        {
            var seen = Enumerable.Range(0, length).Select(_ => (uint)rng.Next(1, items + 1)).ToArray();
            var times = Measure(updates, i =>
            {
                using var results = session.Run(new[]
                {
                    Microsoft.ML.OnnxRuntime.NamedOnnxValue.CreateFromTensor(IncrementalColumns.State, new Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<float>(state, [1, state.Length])),
                    Microsoft.ML.OnnxRuntime.NamedOnnxValue.CreateFromTensor(incremental.HistoryColumnName, new Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<uint>(new[] { (uint)(i % items + 1) }, [1, 1])),
                    Microsoft.ML.OnnxRuntime.NamedOnnxValue.CreateFromTensor(IncrementalColumns.Seen, new Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<uint>(seen, [1, seen.Length])),
                });
            });
            Console.WriteLine(FormattableString.Invariant($"| {length:N0} | {Percentile(times, 0.5):F3} / {Percentile(times, 0.99):F3} | {1000 / times.Average():N0} |"));
        }
    }

    /// <summary>
    /// ONNX Runtime's own profile of the incremental graph (one thread, one-event updates from a kept state with
    /// <paramref name="seenCount"/> seen items): the nodes run per update and the kernel time per operator type.
    /// </summary>
    private static void ProfileGraph(IncrementalRecommendationTransformer incremental, float[] state, int seenCount, int updates, int items)
    {
        using var graph = new MemoryStream();
        incremental.ExportOnnx(graph);
        string prefix = Path.Combine(Path.GetTempPath(), "svae-incremental-profile-" + Guid.NewGuid().ToString("N"));
        using var options = new Microsoft.ML.OnnxRuntime.SessionOptions
        {
            IntraOpNumThreads = 1, InterOpNumThreads = 1, EnableProfiling = true, ProfileOutputPathPrefix = prefix,
        };
        string? trace = null;
        try
        {
            using (var session = new Microsoft.ML.OnnxRuntime.InferenceSession(graph.ToArray(), options))
            {
                var rng = new Random(8);
                var seen = Enumerable.Range(0, seenCount).Select(_ => (uint)rng.Next(1, items + 1)).ToArray();
                for (int i = 0; i < updates; i++)
                {
                    using var results = session.Run(new[]
                    {
                        Microsoft.ML.OnnxRuntime.NamedOnnxValue.CreateFromTensor(IncrementalColumns.State, new Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<float>(state, [1, state.Length])),
                        Microsoft.ML.OnnxRuntime.NamedOnnxValue.CreateFromTensor(incremental.HistoryColumnName, new Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<uint>(new[] { (uint)(i % items + 1) }, [1, 1])),
                        Microsoft.ML.OnnxRuntime.NamedOnnxValue.CreateFromTensor(IncrementalColumns.Seen, new Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<uint>(seen, [1, seen.Length])),
                    });
                }
                trace = session.EndProfiling();
            }
            using var json = System.Text.Json.JsonDocument.Parse(File.ReadAllText(trace));
            var byOperator = new Dictionary<string, (double Micros, int Count)>();
            double runMicros = 0;
            int runs = 0;
            foreach (var e in json.RootElement.EnumerateArray())
            {
                string category = e.GetProperty("cat").GetString() ?? "";
                string name = e.GetProperty("name").GetString() ?? "";
                double micros = e.TryGetProperty("dur", out var dur) ? dur.GetDouble() : 0;
                if (category == "Session" && name == "model_run")
                {
                    runMicros += micros;
                    runs++;
                }
                else if (category == "Node" && name.EndsWith("_kernel_time", StringComparison.Ordinal)
                    && e.TryGetProperty("args", out var args) && args.TryGetProperty("op_name", out var op))
                {
                    string key = op.GetString() ?? "?";
                    var (total, count) = byOperator.GetValueOrDefault(key);
                    byOperator[key] = (total + micros, count + 1);
                }
            }
            runs = Math.Max(1, runs);
            Console.WriteLine();
            Console.WriteLine(FormattableString.Invariant(
                $"ONNX Runtime profile of the incremental graph ({runs} one-event updates, {seenCount} seen items, one thread): {byOperator.Values.Sum(v => v.Count) / (double)runs:F0} nodes run per update (If branches included), model_run {runMicros / runs:F1} µs per update"));
            Console.WriteLine("| operator | nodes per update | µs per update | share of kernel time |");
            Console.WriteLine("| --- | ---: | ---: | ---: |");
            double kernel = byOperator.Values.Sum(v => v.Micros);
            foreach (var (op, (micros, count)) in byOperator.OrderByDescending(p => p.Value.Micros))
                Console.WriteLine(FormattableString.Invariant($"| {op} | {count / (double)runs:F1} | {micros / runs:F1} | {100 * micros / kernel:F0}% |"));
        }
        finally
        {
            if (trace is not null) File.Delete(trace);
        }
    }

    /// <summary>The same comparison through the saved zips, loaded with <c>mlContext.Model.Load</c> (what a serving app runs).</summary>
    private static void LoadedZips(MLContext ml, SvaeTransformer model, IncrementalRecommendationTransformer incremental, DataViewSchema trainSchema,
        List<(int Length, float[] State, uint[] History)> lengths, int updates, IReadOnlyList<uint> ids)
    {
        string folder = Path.Combine(Path.GetTempPath(), "svae-incremental-bench-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        try
        {
            string modelPath = Path.Combine(folder, "svae.zip"), incrementalPath = Path.Combine(folder, "svae-incremental.zip");
            ml.Recommendation().SaveModel(model, trainSchema, modelPath);
            ml.Model.Save(incremental, ml.Data.LoadFromEnumerable(Array.Empty<EventInput>()).Schema, incrementalPath);
            var loadedFull = ml.Model.Load(modelPath, out _);
            var loadedIncremental = ml.Model.Load(incrementalPath, out _);
            try
            {
                var full = ml.Model.CreatePredictionEngine<HistoryInput, HistoryOutput>(loadedFull);
                var step = ml.Model.CreatePredictionEngine<EventInput, EventOutput>(loadedIncremental);
                var rng = new Random(7);
                Console.WriteLine();
                Console.WriteLine("The saved zips loaded with mlContext.Model.Load (PredictionEngine, one thread):");
                Console.WriteLine("| history length | one-event update p50 / p99 (ms) | updates/s | full rescoring p50 / p99 (ms) | rescorings/s | ratio |");
                Console.WriteLine("| ---: | ---: | ---: | ---: | ---: | ---: |");
                foreach (var (length, state, history) in lengths)
                {
                    var nextItems = Enumerable.Range(0, updates).Select(_ => ids[rng.Next(ids.Count)]).ToArray();
                    var incrementalTimes = Measure(updates, i => step.Predict(new EventInput { State = state, History = [nextItems[i]], Seen = history }));
                    int rescorings = Math.Max(50, updates / Math.Max(1, length / 10));
                    var fullTimes = Measure(rescorings, i => full.Predict(new HistoryInput { History = [.. history, nextItems[i % updates]] }));
                    Console.WriteLine(FormattableString.Invariant(
                        $"| {length:N0} | {Percentile(incrementalTimes, 0.5):F3} / {Percentile(incrementalTimes, 0.99):F3} | {1000 / incrementalTimes.Average():N0} | {Percentile(fullTimes, 0.5):F3} / {Percentile(fullTimes, 0.99):F3} | {1000 / fullTimes.Average():N0} | {fullTimes.Average() / incrementalTimes.Average():F1}× |"));
                }
            }
            finally
            {
                (loadedFull as IDisposable)?.Dispose();
                (loadedIncremental as IDisposable)?.Dispose();
            }
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>Milliseconds of <paramref name="count"/> calls, after a warm-up of a tenth as many.</summary>
    private static List<double> Measure(int count, Action<int> call)
    {
        for (int i = 0; i < Math.Max(5, count / 10); i++)
            call(i % count);
        var times = new List<double>(count);
        for (int i = 0; i < count; i++)
        {
            long start = Stopwatch.GetTimestamp();
            call(i);
            times.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
        }
        times.Sort();
        return times;
    }

    private static double Percentile(List<double> sorted, double p) => sorted[Math.Min(sorted.Count - 1, (int)(p * sorted.Count))];

    /// <summary>
    /// Starts the web API (a separate process on a free 127.0.0.1 port) with the model and, in turn, with and without the
    /// incremental model, and sends <c>POST /users/{id}/events</c> from 1, 8 and 32 clients: each level at most
    /// <paramref name="requests"/> requests and <paramref name="seconds"/> seconds.
    /// </summary>
    private static int WebApiLoad(MLContext ml, SvaeTransformer model, IncrementalRecommendationTransformer incremental, DataViewSchema trainSchema,
        IReadOnlyList<uint> ids, string webApi, int requests, int seconds)
    {
        string folder = Path.Combine(Path.GetTempPath(), "svae-incremental-bench-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        try
        {
            string modelPath = Path.Combine(folder, "svae.zip"), incrementalPath = Path.Combine(folder, "svae-incremental.zip");
            ml.Recommendation().SaveModel(model, trainSchema, modelPath);
            ml.Model.Save(incremental, ml.Data.LoadFromEnumerable(Array.Empty<EventInput>()).Schema, incrementalPath);
            Console.WriteLine();
            Console.WriteLine($"Web API ({Path.GetFileName(webApi)}) on 127.0.0.1, POST /users/{{id}}/events with k = 10; per level at most {requests} requests and {seconds} s; each client its own 50 users");
            Console.WriteLine("| user state | clients | requests | errors | requests/s | p50 (ms) | p99 (ms) |");
            Console.WriteLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
            foreach (var (kind, extra) in new[] { ("recurrent (incremental zip)", $"--Svae:IncrementalModelPath={incrementalPath}"), ("history rescoring", "") })
            {
                using var app = StartApp(webApi, modelPath, extra, out var baseAddress);
                try
                {
                    foreach (int clients in new[] { 1, 8, 32 })
                    {
                        var (count, errors, perSecond, latencies) = Load(baseAddress, ids, clients, requests, seconds, kind.Length);
                        Console.WriteLine(FormattableString.Invariant(
                            $"| {kind} | {clients} | {count} | {errors} | {perSecond:N0} | {Percentile(latencies, 0.5):F2} | {Percentile(latencies, 0.99):F2} |"));
                    }
                }
                finally
                {
                    app.Kill(entireProcessTree: true);
                    app.WaitForExit();
                }
            }
            return 0;
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static Process StartApp(string webApi, string modelPath, string extra, out Uri baseAddress)
    {
        int port;
        using (var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
        }
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(webApi);
        start.ArgumentList.Add($"--Svae:ModelPath={modelPath}");
        if (extra.Length > 0) start.ArgumentList.Add(extra);
        start.ArgumentList.Add("--urls");
        start.ArgumentList.Add($"http://127.0.0.1:{port}");
        start.ArgumentList.Add("--Logging:LogLevel:Default=Warning");
        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) Console.Error.WriteLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        baseAddress = new Uri($"http://127.0.0.1:{port}");
        using var client = new HttpClient { BaseAddress = baseAddress };
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline && !process.HasExited)
        {
            try
            {
                if (client.GetAsync("/health").GetAwaiter().GetResult().IsSuccessStatusCode)
                    return process;
            }
            catch (HttpRequestException)
            {
            }
            Thread.Sleep(200);
        }
        process.Kill(entireProcessTree: true);
        throw new InvalidOperationException($"The web API did not start on {baseAddress}.");
    }

    private static (int Count, int Errors, double PerSecond, List<double> Latencies) Load(Uri baseAddress, IReadOnlyList<uint> ids, int clients,
        int requests, int seconds, int seed)
    {
        using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = clients };
        using var http = new HttpClient(handler) { BaseAddress = baseAddress };
        int sent = 0, errors = 0;
        var latencies = new System.Collections.Concurrent.ConcurrentBag<double>();
        var stopAt = Stopwatch.StartNew();
        var tasks = Enumerable.Range(0, clients).Select(c => Task.Run(async () =>
        {
            var rng = new Random(seed * 1000 + c);
            while (Interlocked.Increment(ref sent) <= requests && stopAt.Elapsed.TotalSeconds < seconds)
            {
                string user = $"c{clients}-{c}-u{rng.Next(50)}";
                long start = Stopwatch.GetTimestamp();
                using var response = await http.PostAsJsonAsync($"/users/{user}/events", new { item = ids[rng.Next(ids.Count)], k = 10 });
                await response.Content.ReadAsByteArrayAsync();
                latencies.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
                if (!response.IsSuccessStatusCode)
                    Interlocked.Increment(ref errors);
            }
        })).ToArray();
        Task.WaitAll(tasks);
        double elapsed = stopAt.Elapsed.TotalSeconds;
        var sorted = latencies.ToList();
        sorted.Sort();
        return (sorted.Count, errors, sorted.Count / elapsed, sorted);
    }
}
