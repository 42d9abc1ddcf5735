using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using Microsoft.ML;
using Microsoft.ML.Svae;
using Microsoft.ML.Transforms.Onnx;

namespace Svae.Benchmarks;

/// <summary>
/// Serving one event at a time (issue 13): SVAE's incremental model (one GRU step from a kept state) against
/// full-history rescoring at history lengths 10, 100 and 1,000, through ML.NET PredictionEngines on one thread; and,
/// with <c>--webapi</c>, examples/Svae.WebApi on 127.0.0.1 under a bounded load of 1, 8 and 32 concurrent clients.
/// </summary>
internal sealed class IncrementalServingBenchmark : IBenchmark
{
    public string Name => "incremental";

    public string Usage => "[--items N] [--updates U] [--webapi PATH/Svae.WebApi.dll] [--requests R] [--seconds S] [--profile] [--save-graph FILE.onnx] [--against-graph FILE.onnx]: one-event updates vs full-history rescoring (p50/p99, per second), and the web API's events endpoint under 1/8/32 loopback clients; --save-graph writes this build's incremental graph, --against-graph times another build's saved graph against this build's in alternation (and checks their outputs agree) and stops there (train both with the same OMP_NUM_THREADS: seeded training is bit-exact per thread count only)";

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
        string? webApi = null, saveGraph = null, againstGraph = null;
        bool profile = false;
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--items") items = int.Parse(args[++i], CultureInfo.InvariantCulture);
            else if (args[i] == "--updates") updates = int.Parse(args[++i], CultureInfo.InvariantCulture);
            else if (args[i] == "--webapi") webApi = args[++i];
            else if (args[i] == "--requests") requests = int.Parse(args[++i], CultureInfo.InvariantCulture);
            else if (args[i] == "--seconds") seconds = int.Parse(args[++i], CultureInfo.InvariantCulture);
            else if (args[i] == "--profile") profile = true;
            else if (args[i] == "--save-graph") saveGraph = args[++i];
            else if (args[i] == "--against-graph") againstGraph = args[++i];
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
        if (saveGraph is not null)
        {
            using (var file = File.Create(saveGraph))
                incremental.ExportOnnx(file);
        }
        if (againstGraph is not null)
            return GraphAgainstGraph(incremental, File.ReadAllBytes(againstGraph), updates, ids.Count);
        Console.WriteLine($"SVAE: {model.ItemCount:N0} items, GRU state {model.RecurrentSize} floats, K = {model.TopK}; one thread, PredictionEngine, {Environment.ProcessorCount} cores");

        using var full = ml.Model.CreatePredictionEngine<HistoryInput, HistoryOutput>(model);
        using var step = ml.Model.CreatePredictionEngine<EventInput, EventOutput>(incremental);
        var rng = new Random(5);
        var lengths = new List<(int Length, float[] State, uint[] History)>();
        Console.WriteLine("| history length | one-event update p50 / p99 (ms) | updates/s | full rescoring p50 / p99 (ms) | rescorings/s | ratio of means |");
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
        {
            ProfileGraph(incremental, lengths[1].State, lengths[1].Length, updates, ids.Count);
            GruStepComparison(model.ItemCount, updates);
            DecoderLayoutComparison(model.ItemCount + 2, updates);
            TopKComparison(model.ItemCount + 2, model.TopK, updates);
            AroundTheSession(step, incremental, lengths[1], updates, ids);
        }
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
    /// A paired A/B of two incremental graphs of the same weights (training is seeded, so two builds write the same
    /// weights, with the same libtorch thread count): <paramref name="baseline"/> (another build's graph, saved with <c>--save-graph</c>) and this build's,
    /// one-event updates from the state of a 100-item history with those 100 items seen, one call each in turn
    /// (A B, then B A, ...) on the same inputs, with one intra-op thread and with ONNX Runtime's default session options;
    /// every call's outputs are compared (the speed work must not change results).
    /// </summary>
    private static int GraphAgainstGraph(IncrementalRecommendationTransformer incremental, byte[] baseline, int updates, int items)
    {
        using var current = new MemoryStream();
        incremental.ExportOnnx(current);
        var rng = new Random(11);
        var history = Enumerable.Range(0, 100).Select(_ => (uint)rng.Next(1, items + 1)).ToArray();
        var next = Enumerable.Range(0, updates).Select(_ => (uint)rng.Next(1, items + 1)).ToArray();
        static Microsoft.ML.OnnxRuntime.NamedOnnxValue[] Inputs(string historyName, float[] state, uint[] newItems, uint[] seen) => new[]
        {
            Microsoft.ML.OnnxRuntime.NamedOnnxValue.CreateFromTensor(IncrementalColumns.State, new Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<float>(state, [1, state.Length])),
            Microsoft.ML.OnnxRuntime.NamedOnnxValue.CreateFromTensor(historyName, new Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<uint>(newItems, [1, newItems.Length])),
            Microsoft.ML.OnnxRuntime.NamedOnnxValue.CreateFromTensor(IncrementalColumns.Seen, new Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<uint>(seen, [1, seen.Length])),
        };
        string historyName = incremental.HistoryColumnName;
        Console.WriteLine(FormattableString.Invariant(
            $"Incremental graph A (baseline, {baseline.Length:N0} bytes) against B (this build, {current.Length:N0} bytes): one-event updates, 100 seen items, {updates} calls each in alternation (A B B A A B ...)"));
        Console.WriteLine("| ONNX Runtime sessions | A p50 / p99 (µs) | B p50 / p99 (µs) | B − A (p50) | max abs. difference of TopScores / NextState | TopItemKeys differing |");
        Console.WriteLine("| --- | ---: | ---: | ---: | ---: | ---: |");
        foreach (var (name, oneThread) in new[] { ("one intra-op thread", true), ("default session options", false) })
        {
            using var options = oneThread
                ? new Microsoft.ML.OnnxRuntime.SessionOptions { IntraOpNumThreads = 1, InterOpNumThreads = 1 }
                : new Microsoft.ML.OnnxRuntime.SessionOptions();
            using var a = new Microsoft.ML.OnnxRuntime.InferenceSession(baseline, options);
            using var b = new Microsoft.ML.OnnxRuntime.InferenceSession(current.ToArray(), options);
            float[] state;
            using (var first = b.Run(Inputs(historyName, [], history, [])))
                state = first.First(r => r.Name == IncrementalColumns.NextState).AsTensor<float>().ToArray();
            var times = new[] { new List<double>(), new List<double>() };
            double scoreDifference = 0, stateDifference = 0;
            int keysDiffering = 0;
            for (int i = -updates / 10; i < updates; i++)
            {
                var inputs = Inputs(historyName, state, [next[(i + updates) % updates]], history);
                var outputs = new Dictionary<string, float[]>[2];
                var keys = new long[2][];
                // A B on even calls, B A on odd ones: the second of a pair runs on caches the first warmed.
                for (int turn = 0; turn < 2; turn++)
                {
                    int v = turn ^ (i & 1);
                    long start = Stopwatch.GetTimestamp();
                    using var results = (v == 0 ? a : b).Run(inputs);
                    double elapsed = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                    if (i >= 0) times[v].Add(elapsed);
                    outputs[v] = results.Where(r => r.Name != "TopItemKeys").ToDictionary(r => r.Name, r => r.AsTensor<float>().ToArray());
                    keys[v] = results.First(r => r.Name == "TopItemKeys").AsTensor<long>().ToArray();
                }
                for (int j = 0; j < outputs[0][SequenceColumns.TopScores].Length; j++)
                    scoreDifference = Math.Max(scoreDifference, Math.Abs(outputs[0][SequenceColumns.TopScores][j] - outputs[1][SequenceColumns.TopScores][j]));
                for (int j = 0; j < outputs[0][IncrementalColumns.NextState].Length; j++)
                    stateDifference = Math.Max(stateDifference, Math.Abs(outputs[0][IncrementalColumns.NextState][j] - outputs[1][IncrementalColumns.NextState][j]));
                if (!keys[0].SequenceEqual(keys[1])) keysDiffering++;
            }
            foreach (var t in times) t.Sort();
            double a50 = 1000 * Percentile(times[0], 0.5), b50 = 1000 * Percentile(times[1], 0.5);
            Console.WriteLine(FormattableString.Invariant(
                $"| {name} | {a50:F1} / {1000 * Percentile(times[0], 0.99):F1} | {b50:F1} / {1000 * Percentile(times[1], 0.99):F1} | {Math.Round(100 * (b50 - a50) / a50, 1):+0.0;-0.0;0.0}% | {scoreDifference:G3} / {stateDifference:G3} | {keysDiffering} of {updates + updates / 10} |"));
        }
        return 0;
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
                $"ONNX Runtime profile of the incremental graph (profiling adds a fixed cost per node; {runs} one-event updates, {seenCount} seen items, one thread): {byOperator.Values.Sum(v => v.Count) / (double)runs:F0} nodes run per update (subgraph nodes included), model_run {runMicros / runs:F1} µs per update"));
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

    /// <summary>
    /// One GRU step (the paper's sizes: 256 inputs, 200 hidden) three ways, each an ONNX graph from a state and one
    /// item index to the next state, timed in alternation (A B C A B C ...; one thread): ONNX's <c>GRU</c> operator on
    /// the gathered embedding (the whole-history graph's layer, which needs an <c>If</c> around it for an empty
    /// sequence), the explicit gates in a <c>Loop</c> over folded input projections (the incremental graph's layer),
    /// and the same explicit gates without the <c>Loop</c> (one step only: the Loop's own cost).
    /// </summary>
    private static void GruStepComparison(int items, int updates)
    {
        const int inputSize = 256, hidden = 200;
        var rng = new Random(9);
        float[] Random(int count) => Enumerable.Range(0, count).Select(_ => (float)(rng.NextDouble() - 0.5) * 0.2f).ToArray();
        var gru = new Microsoft.ML.Svae.Onnx.GruWeights(Random(3 * hidden * inputSize), Random(3 * hidden * hidden), Random(3 * hidden), Random(3 * hidden), hidden, inputSize);
        var embedding = Random(items * inputSize);
        byte[] Graph(Func<Microsoft.ML.Svae.Onnx.OnnxGraphBuilder, string, string, string> step)
        {
            var g = new Microsoft.ML.Svae.Onnx.OnnxGraphBuilder("gru_step");
            string state = g.Input("state", Microsoft.ML.Svae.Onnx.Proto.TensorProto.Types.DataType.Float, 1, hidden);
            string index = g.Input("index", Microsoft.ML.Svae.Onnx.Proto.TensorProto.Types.DataType.Int64, 1);
            g.AddNode("Identity", new[] { step(g, state, index) }, new[] { "next" });
            g.Output("next", Microsoft.ML.Svae.Onnx.Proto.TensorProto.Types.DataType.Float, 1, hidden);
            return g.ToModelBytes(new Dictionary<string, string>());
        }
        var projections = Microsoft.ML.Svae.Onnx.OnnxLayers.GruInputProjections(embedding, items, gru);
        var variants = new (string Name, byte[] Graph)[]
        {
            ("ONNX GRU operator (embedding gathered, W_ih in the step)", Graph((g, state, index) =>
            {
                string x = g.Node("Unsqueeze", new[] { g.Node("Gather", new[] { g.Constant("embedding", embedding, items, inputSize), index }, ("axis", 0L)), g.Int64s(1) });
                return Microsoft.ML.Svae.Onnx.OnnxLayers.GruLastState(g, x, gru, state);
            })),
            ("explicit gates in a Loop over folded input projections", Graph((g, state, index) =>
                Microsoft.ML.Svae.Onnx.OnnxLayers.GruSteps(g, state, index, g.Constant("projections", projections, items, 3 * hidden), gru))),
            ("the same gates without the Loop (one step only)", Graph((g, state, index) =>
            {
                // The Loop body's nodes in the main graph: what the Loop itself costs.
                var recurrentBias = new float[3 * hidden];
                Array.Copy(gru.BiasHh, 2 * hidden, recurrentBias, 2 * hidden, hidden);
                string recurrent = g.Node("Gemm", new[] { state, g.Constant("w_hh", gru.WeightHh, 3 * hidden, hidden), g.Constant("b_hn", recurrentBias, 3 * hidden) }, ("transB", 1L));
                string input = g.Node("Gather", new[] { g.Constant("projections", projections, items, 3 * hidden), g.Node("Squeeze", new[] { index }) }, ("axis", 0L));
                string[] ig = g.Nodes("Split", new[] { input, g.Int64s(2 * hidden, hidden) }, 2, ("axis", 0L));
                string[] rg = g.Nodes("Split", new[] { recurrent, g.Int64s(2 * hidden, hidden) }, 2, ("axis", 1L));
                string[] ru = g.Nodes("Split", new[] { g.Node("Sigmoid", new[] { g.Node("Add", new[] { rg[0], ig[0] }) }), g.Int64s(hidden, hidden) }, 2, ("axis", 1L));
                string candidate = g.Node("Tanh", new[] { g.Node("Add", new[] { ig[1], g.Node("Mul", new[] { ru[0], rg[1] }) }) });
                return g.Node("Add", new[] { candidate, g.Node("Mul", new[] { ru[1], g.Node("Sub", new[] { state, candidate }) }) });
            })),
        };
        var state = new float[hidden];
        TimeInAlternation($"One GRU step ({inputSize} inputs, {hidden} hidden, {items:N0} items)", "step", variants, updates, i => new[]
        {
            Microsoft.ML.OnnxRuntime.NamedOnnxValue.CreateFromTensor("state", new Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<float>(state, [1, hidden])),
            Microsoft.ML.OnnxRuntime.NamedOnnxValue.CreateFromTensor("index", new Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<long>(new[] { (long)((i + updates) % items) }, [1])),
        });
    }

    /// <summary>
    /// The decoder's output layer (150 inputs → <paramref name="outputs"/> scores, one row) three ways, timed in
    /// alternation (one thread): <c>Gemm</c> with PyTorch's <c>[out, in]</c> weight and <c>transB = 1</c> (what the graphs
    /// write), <c>Gemm</c> with the weight transposed at export (<c>[in, out]</c>, <c>transB = 0</c>), and
    /// <c>MatMul</c> + <c>Add</c> on the transposed weight.
    /// </summary>
    private static void DecoderLayoutComparison(int outputs, int updates)
    {
        const int inputs = 150;
        var rng = new Random(10);
        var weight = Enumerable.Range(0, outputs * inputs).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
        var bias = Enumerable.Range(0, outputs).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
        var transposed = new float[weight.Length];
        for (int o = 0; o < outputs; o++)
            for (int i = 0; i < inputs; i++)
                transposed[i * outputs + o] = weight[o * inputs + i];
        byte[] Graph(Func<Microsoft.ML.Svae.Onnx.OnnxGraphBuilder, string, string> layer)
        {
            var g = new Microsoft.ML.Svae.Onnx.OnnxGraphBuilder("decoder_out");
            string x = g.Input("x", Microsoft.ML.Svae.Onnx.Proto.TensorProto.Types.DataType.Float, 1, inputs);
            g.AddNode("Identity", new[] { layer(g, x) }, new[] { "y" });
            g.Output("y", Microsoft.ML.Svae.Onnx.Proto.TensorProto.Types.DataType.Float, 1, outputs);
            return g.ToModelBytes(new Dictionary<string, string>());
        }
        var variants = new (string Name, byte[] Graph)[]
        {
            ("Gemm, weight [out, in], transB = 1", Graph((g, x) => g.Node("Gemm", new[] { x, g.Constant("w", weight, outputs, inputs), g.Constant("b", bias, outputs) }, ("transB", 1L)))),
            ("Gemm, weight transposed at export [in, out]", Graph((g, x) => g.Node("Gemm", new[] { x, g.Constant("w", transposed, inputs, outputs), g.Constant("b", bias, outputs) }))),
            ("MatMul + Add, weight [in, out]", Graph((g, x) => g.Node("Add", new[] { g.Node("MatMul", new[] { x, g.Constant("w", transposed, inputs, outputs) }), g.Constant("b", bias, outputs) }))),
        };
        var x = Enumerable.Range(0, inputs).Select(_ => (float)rng.NextDouble()).ToArray();
        TimeInAlternation($"The decoder's output layer ({inputs} → {outputs:N0}, one row)", "layer", variants, updates, _ => new[]
        {
            Microsoft.ML.OnnxRuntime.NamedOnnxValue.CreateFromTensor("x", new Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<float>(x, [1, inputs])),
        });
    }

    /// <summary>
    /// The ranking's top-K (<paramref name="k"/> of <paramref name="columns"/> key-indexed scores, one row) two ways with
    /// the same output, timed in alternation (one thread): one <c>TopK</c>, and a two-stage top-K (the top K of each half
    /// of the row, then the top K of those 2K with their indices gathered back), which gives the same values and indices
    /// since <c>TopK</c> breaks ties by the lower index. The outputs are compared on rows with many ties first.
    /// </summary>
    private static void TopKComparison(int columns, int k, int updates)
    {
        if (columns % 2 != 0) return;
        int half = columns / 2;
        byte[] Graph(Func<Microsoft.ML.Svae.Onnx.OnnxGraphBuilder, string, (string Values, string Indices)> topK)
        {
            var g = new Microsoft.ML.Svae.Onnx.OnnxGraphBuilder("top_k");
            string x = g.Input("x", Microsoft.ML.Svae.Onnx.Proto.TensorProto.Types.DataType.Float, 1, columns);
            var (values, indices) = topK(g, x);
            g.AddNode("Identity", new[] { values }, new[] { "values" });
            g.AddNode("Identity", new[] { indices }, new[] { "indices" });
            g.Output("values", Microsoft.ML.Svae.Onnx.Proto.TensorProto.Types.DataType.Float, 1, k);
            g.Output("indices", Microsoft.ML.Svae.Onnx.Proto.TensorProto.Types.DataType.Int64, 1, k);
            return g.ToModelBytes(new Dictionary<string, string>());
        }
        var variants = new (string Name, byte[] Graph)[]
        {
            ($"one TopK (K = {k} of {columns:N0})", Graph((g, x) =>
            {
                string[] top = g.Nodes("TopK", new[] { x, g.Int64s(k) }, 2, ("axis", 1L), ("largest", 1L), ("sorted", 1L));
                return (top[0], top[1]);
            })),
            ($"two stages (K of each half of {half:N0}, then K of {2 * k})", Graph((g, x) =>
            {
                string[] first = g.Nodes("TopK", new[] { g.Node("Reshape", new[] { x, g.Int64s(2, half) }), g.Int64s(k) }, 2, ("axis", 1L), ("largest", 1L), ("sorted", 1L));
                string candidates = g.Node("Reshape", new[] { first[0], g.Int64s(1, 2 * k) });
                string keys = g.Node("Reshape", new[] { g.Node("Add", new[] { first[1], g.Constant("offsets", new long[] { 0, half }, 2, 1) }), g.Int64s(1, 2 * k) });
                string[] second = g.Nodes("TopK", new[] { candidates, g.Int64s(k) }, 2, ("axis", 1L), ("largest", 1L), ("sorted", 1L));
                return (second[0], g.Node("GatherElements", new[] { keys, second[1] }, ("axis", 1L)));
            })),
            ($"threshold, then TopK (K strided groups; kept: the values ≥ the least group maximum)", Graph((g, x) =>
            {
                var (values, indices) = ThresholdedTopK(g, x, columns, k);
                return (values, indices);
            })),
        };
        var rng = new Random(12);
        // Rows with many ties, rows decreasing with the key (popular items first), rows of independent scores; every
        // fourth row with 100 columns at negative infinity (seen items) and the first and last column too.
        var rows = Enumerable.Range(0, 64).Select(r =>
        {
            var row = Enumerable.Range(0, columns).Select(c => r % 4 == 0 ? (float)Math.Round(rng.NextDouble() * 20)
                : r % 4 == 1 ? (float)(-c / 100.0 + rng.NextDouble()) : (float)rng.NextDouble()).ToArray();
            if (r % 4 == 3)
                for (int j = 0; j < 100; j++) row[rng.Next(columns)] = float.NegativeInfinity;
            row[0] = row[^1] = float.NegativeInfinity;
            return row;
        }).ToArray();
        using (var options = new Microsoft.ML.OnnxRuntime.SessionOptions { IntraOpNumThreads = 1, InterOpNumThreads = 1 })
        {
            var sessions = variants.Select(v => new Microsoft.ML.OnnxRuntime.InferenceSession(v.Graph, options)).ToArray();
            try
            {
                foreach (var row in rows)
                {
                    var outputs = sessions.Select(session =>
                    {
                        using var results = session.Run(new[] { Microsoft.ML.OnnxRuntime.NamedOnnxValue.CreateFromTensor("x", new Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<float>(row, [1, columns])) });
                        return (Values: results.First(r => r.Name == "values").AsTensor<float>().ToArray(), Indices: results.First(r => r.Name == "indices").AsTensor<long>().ToArray());
                    }).ToArray();
                    for (int v = 1; v < outputs.Length; v++)
                        if (!outputs[0].Values.SequenceEqual(outputs[v].Values) || !outputs[0].Indices.SequenceEqual(outputs[v].Indices))
                            throw new InvalidOperationException($"The top-K '{variants[v].Name}' differs from TopK.");
                }
            }
            finally
            {
                foreach (var session in sessions) session.Dispose();
            }
        }
        TimeInAlternation($"The ranking's top-K ({columns:N0} key-indexed scores, one row; the same output on 64 rows of four kinds; timed on the rows decreasing with the key and the independent ones)", "top-K", variants, updates, i => new[]
        {
            Microsoft.ML.OnnxRuntime.NamedOnnxValue.CreateFromTensor("x", new Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<float>(rows[1 + 2 * ((i + updates) % (rows.Length / 2))], [1, columns])),
        });
    }

    /// <summary>
    /// The top <paramref name="k"/> of <paramref name="scores"/> (<c>float [1, columns]</c>) as <c>TopK</c> gives them
    /// (values, then indices <c>int64 [1, k]</c>; ties by the lower index), from the values at or above a threshold only.
    /// </summary>
    /// <remarks>
    /// The row is read as k strided groups (the row padded with negative infinity to k·m columns and reshaped to
    /// <c>[m, k]</c>: group j holds the columns j, j + k, ...); the least of the k group maxima is at most the k-th largest
    /// value (the k maxima are k values at or above it), so the values at or above it hold the top k. They are kept in
    /// column order with their columns (<c>Compress</c>), and <c>TopK</c> over them breaks ties by the lower column as
    /// over the whole row: the same values and indices, from a fraction of the row. Measured slower than one
    /// <c>TopK</c> (its eight more nodes cost more than the smaller sort saves), so the graphs do not use it.
    /// </remarks>
    private static (string Values, string Indices) ThresholdedTopK(Microsoft.ML.Svae.Onnx.OnnxGraphBuilder g, string scores, int columns, int k)
    {
        int m = (columns + k - 1) / k, padded = m * k;
        string row = padded == columns ? scores
            : g.Node("Concat", new[] { scores, g.Constant("minus_infinity_padding", Enumerable.Repeat(float.NegativeInfinity, padded - columns).ToArray(), 1, padded - columns) }, ("axis", 1L));
        string groupMaxima = g.Node("ReduceMax", new[] { g.Node("Reshape", new[] { row, g.Int64s(m, k) }) }, ("axes", new[] { 0L }), ("keepdims", 0L));
        string threshold = g.Node("ReduceMin", new[] { groupMaxima }, ("keepdims", 0L));
        string kept = g.Node("Reshape", new[] { g.Node("GreaterOrEqual", new[] { row, threshold }), g.Int64s(-1) });
        string candidates = g.Node("Compress", new[] { row, kept }, ("axis", 1L));
        string candidateColumns = g.Node("Compress", new[] { g.Constant("columns", Enumerable.Range(0, padded).Select(i => (long)i).ToArray(), padded), kept }, ("axis", 0L));
        string[] top = g.Nodes("TopK", new[] { candidates, g.Int64s(k) }, 2, ("axis", 1L), ("largest", 1L), ("sorted", 1L));
        return (top[0], g.Node("Gather", new[] { candidateColumns, top[1] }, ("axis", 0L)));
    }

    /// <summary>
    /// What ML.NET adds around the ONNX Runtime session: one-event updates (the <paramref name="user"/>'s state and
    /// history as seen items) through the in-process transformer's <c>PredictionEngine</c> (raw ids mapped to keys and
    /// back, column copies; one intra-op thread) and through an ONNX Runtime session on the same graph with the same
    /// keys (one intra-op thread), one call each in turn.
    /// </summary>
    private static void AroundTheSession(PredictionEngine<EventInput, EventOutput> step, IncrementalRecommendationTransformer incremental,
        (int Length, float[] State, uint[] History) user, int updates, IReadOnlyList<uint> ids)
    {
        using var graph = new MemoryStream();
        incremental.ExportOnnx(graph);
        using var options = new Microsoft.ML.OnnxRuntime.SessionOptions { IntraOpNumThreads = 1, InterOpNumThreads = 1 };
        using var session = new Microsoft.ML.OnnxRuntime.InferenceSession(graph.ToArray(), options);
        var keyOf = ids.Select((id, i) => (id, key: (uint)(i + 1))).ToDictionary(p => p.id, p => p.key);
        var seenKeys = user.History.Select(id => keyOf[id]).ToArray();
        var rng = new Random(13);
        var next = Enumerable.Range(0, updates).Select(_ => ids[rng.Next(ids.Count)]).ToArray();
        var times = new[] { new List<double>(), new List<double>() };
        for (int i = -updates / 10; i < updates; i++)
        {
            uint item = next[(i + updates) % updates];
            for (int turn = 0; turn < 2; turn++)
            {
                int v = turn ^ (i & 1);
                long start = Stopwatch.GetTimestamp();
                if (v == 0)
                {
                    using var results = session.Run(new[]
                    {
                        Microsoft.ML.OnnxRuntime.NamedOnnxValue.CreateFromTensor(IncrementalColumns.State, new Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<float>(user.State, [1, user.State.Length])),
                        Microsoft.ML.OnnxRuntime.NamedOnnxValue.CreateFromTensor(incremental.HistoryColumnName, new Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<uint>(new[] { keyOf[item] }, [1, 1])),
                        Microsoft.ML.OnnxRuntime.NamedOnnxValue.CreateFromTensor(IncrementalColumns.Seen, new Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<uint>(seenKeys, [1, seenKeys.Length])),
                    });
                }
                else
                {
                    step.Predict(new EventInput { State = user.State, History = [item], Seen = user.History });
                }
                if (i >= 0) times[v].Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            }
        }
        foreach (var t in times) t.Sort();
        Console.WriteLine();
        Console.WriteLine(FormattableString.Invariant(
            $"ML.NET around the session: one-event updates (history {user.Length:N0} as seen items), one intra-op thread, {updates} calls each in alternation:"));
        Console.WriteLine("| path | p50 / p99 (µs) |");
        Console.WriteLine("| --- | ---: |");
        Console.WriteLine(FormattableString.Invariant($"| ONNX Runtime session on item keys | {1000 * Percentile(times[0], 0.5):F1} / {1000 * Percentile(times[0], 0.99):F1} |"));
        Console.WriteLine(FormattableString.Invariant($"| PredictionEngine on raw ids (in-process transformer) | {1000 * Percentile(times[1], 0.5):F1} / {1000 * Percentile(times[1], 0.99):F1} |"));
    }

    /// <summary>
    /// Times the graphs of <paramref name="variants"/> one call each in turn (one thread per session, a tenth of
    /// <paramref name="updates"/> warm-up calls first), call i's inputs from <paramref name="inputs"/>, and prints their
    /// p50 / p99 as a table headed by <paramref name="title"/>.
    /// </summary>
    private static void TimeInAlternation(string title, string column, (string Name, byte[] Graph)[] variants, int updates,
        Func<int, IReadOnlyCollection<Microsoft.ML.OnnxRuntime.NamedOnnxValue>> inputs)
    {
        using var options = new Microsoft.ML.OnnxRuntime.SessionOptions { IntraOpNumThreads = 1, InterOpNumThreads = 1 };
        var sessions = variants.Select(v => new Microsoft.ML.OnnxRuntime.InferenceSession(v.Graph, options)).ToArray();
        try
        {
            var times = variants.Select(_ => new List<double>()).ToArray();
            for (int i = -updates / 10; i < updates; i++)
            {
                for (int v = 0; v < sessions.Length; v++)
                {
                    long start = Stopwatch.GetTimestamp();
                    using var results = sessions[v].Run(inputs(i));
                    if (i >= 0) times[v].Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
                }
            }
            Console.WriteLine();
            Console.WriteLine($"{title}, ONNX Runtime, one thread, {updates} calls each in alternation:");
            Console.WriteLine($"| {column} | p50 / p99 (µs) |");
            Console.WriteLine("| --- | ---: |");
            for (int v = 0; v < variants.Length; v++)
            {
                times[v].Sort();
                Console.WriteLine(FormattableString.Invariant($"| {variants[v].Name} | {1000 * Percentile(times[v], 0.5):F1} / {1000 * Percentile(times[v], 0.99):F1} |"));
            }
        }
        finally
        {
            foreach (var session in sessions) session.Dispose();
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
                Console.WriteLine("The saved zips loaded with mlContext.Model.Load (default session options; PredictionEngine, one thread):");
                Console.WriteLine("| history length | one-event update p50 / p99 (ms) | updates/s | full rescoring p50 / p99 (ms) | rescorings/s | ratio of means |");
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
            Throughput(incrementalPath, lengths[1], updates, ids);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>
    /// What an app gets from the machine: the saved incremental zip loaded once, one-event updates (a user with the
    /// given history) from 1 and 2 threads, each thread with its own PredictionEngine (as the web API's pool), for the
    /// same number of updates per thread; updates/s = all updates / wall time. Once with a plain <c>MLContext</c>
    /// (ONNX Runtime's default session options: a saved zip keeps no thread setting) and once with
    /// <c>SetOnnxSessionOption</c> (one intra-op thread per session) before <c>Model.Load</c>, in alternation.
    /// </summary>
    private static void Throughput(string incrementalPath, (int Length, float[] State, uint[] History) user, int updates, IReadOnlyList<uint> ids)
    {
        var contexts = new List<(string Name, MLContext Context)> { ("default session options", new MLContext(seed: 1)) };
        var single = new MLContext(seed: 1);
        single.SetOnnxSessionOption(new OnnxSessionOptions { IntraOpNumThreads = 1, InterOpNumThreads = 1 });
        contexts.Add(("one intra-op thread per session", single));
        var models = contexts.Select(c => c.Context.Model.Load(incrementalPath, out _)).ToArray();
        try
        {
            Console.WriteLine();
            Console.WriteLine(FormattableString.Invariant(
                $"Throughput: the saved incremental zip loaded once, one-event updates (history {user.Length:N0}), {updates} per thread, each thread its own PredictionEngine, rounds in alternation (median of 3 rounds):"));
            Console.WriteLine("| ONNX Runtime sessions | threads | updates/s (all threads) | updates/s per thread | p50 / p99 (ms) |");
            Console.WriteLine("| --- | ---: | ---: | ---: | ---: |");
            var results = new Dictionary<(int Context, int Threads), List<(double PerSecond, List<double> Times)>>();
            for (int round = 0; round < 3; round++)
            {
                for (int c = 0; c < contexts.Count; c++)
                {
                    foreach (int threads in new[] { 1, 2 })
                    {
                        var engines = Enumerable.Range(0, threads)
                            .Select(_ => contexts[c].Context.Model.CreatePredictionEngine<EventInput, EventOutput>(models[c], new PredictionEngineOptions { OwnsTransformer = false }))
                            .ToArray();
                        var perThread = new List<double>[threads];
                        using var ready = new Barrier(threads + 1);
                        var workers = Enumerable.Range(0, threads).Select(t => new Thread(() =>
                        {
                            var rng = new Random(100 * round + t);
                            var items = Enumerable.Range(0, updates).Select(_ => ids[rng.Next(ids.Count)]).ToArray();
                            for (int i = 0; i < Math.Max(5, updates / 10); i++)
                                engines[t].Predict(new EventInput { State = user.State, History = [items[i]], Seen = user.History });
                            ready.SignalAndWait();
                            var times = new List<double>(updates);
                            for (int i = 0; i < updates; i++)
                            {
                                long start = Stopwatch.GetTimestamp();
                                engines[t].Predict(new EventInput { State = user.State, History = [items[i]], Seen = user.History });
                                times.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
                            }
                            perThread[t] = times;
                        })).ToArray();
                        foreach (var w in workers) w.Start();
                        ready.SignalAndWait();
                        long begin = Stopwatch.GetTimestamp();
                        foreach (var w in workers) w.Join();
                        double seconds = Stopwatch.GetElapsedTime(begin).TotalSeconds;
                        foreach (var e in engines) e.Dispose();
                        var all = perThread.SelectMany(t => t).ToList();
                        all.Sort();
                        if (!results.TryGetValue((c, threads), out var list)) results[(c, threads)] = list = new();
                        list.Add((threads * updates / seconds, all));
                    }
                }
            }
            foreach (var ((c, threads), list) in results)
            {
                var median = list.OrderBy(r => r.PerSecond).ElementAt(list.Count / 2);
                Console.WriteLine(FormattableString.Invariant(
                    $"| {contexts[c].Name} | {threads} | {median.PerSecond:N0} | {median.PerSecond / threads:N0} | {Percentile(median.Times, 0.5):F3} / {Percentile(median.Times, 0.99):F3} |"));
            }
        }
        finally
        {
            foreach (var m in models) (m as IDisposable)?.Dispose();
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
