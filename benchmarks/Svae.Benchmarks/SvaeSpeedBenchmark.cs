using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Svae;
using static TorchSharp.torch;

namespace Svae.Benchmarks;

/// <summary>
/// SVAE training speed on a synthetic data set of MovieLens-1M's training shape (the paper's network),
/// the analytic FLOP count of one epoch, this machine's measured sgemm rate, and scoring speed through
/// ML.NET: single-user PredictionEngine latency and batch users per second.
/// </summary>
internal sealed class SvaeSpeedBenchmark : IBenchmark
{
    public string Name => "svae-speed";

    public string Usage => "[--epochs N] [--max-length L] [--batch-size B] [--set Name=Value]... [--gru fused|libtorch]: seconds per epoch on the ML-1M-shaped synthetic training set, FLOPs, sgemm rate, scoring latency";

    public int Run(string[] args)
    {
        int epochs = 2;
        int maxLength = 1000;
        int? batchSize = null;
        var settings = new List<string>();
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--epochs") epochs = int.Parse(args[++i], CultureInfo.InvariantCulture);
            else if (args[i] == "--max-length") maxLength = int.Parse(args[++i], CultureInfo.InvariantCulture);
            else if (args[i] == "--batch-size") batchSize = int.Parse(args[++i], CultureInfo.InvariantCulture);
            else if (args[i] == "--set") settings.Add(args[++i]);
            else if (args[i] == "--gru" && i + 1 < args.Length && args[i + 1] is "fused" or "libtorch") GruSequence.UseLibTorch = args[++i] == "libtorch";
            else { Console.Error.WriteLine($"usage: svae-speed {Usage}"); return 2; }
        }

        var ml = new MLContext(seed: 1);
        var data = ml.Recommendation().Data.PrepareSequences(
            ml.Recommendation().Data.GenerateSyntheticInteractions(SyntheticInteractionOptions.MovieLens1MShape()),
            SequenceProtocolOptions.MovieLens1M());
        var train = UserSequences.Read(data.Train, SequenceColumns.History, "history");
        long positions = 0;
        int longest = 0;
        for (int u = 0; u < train.Count; u++)
        {
            int length = Math.Min(train.Length(u), maxLength);
            positions += length;
            longest = Math.Max(longest, length);
        }
        Console.WriteLine($"training set: {train.Count:N0} users, {positions:N0} interactions (histories capped at {maxLength}), {train.ItemCount:N0} items, longest {longest}");
        Console.WriteLine($"libtorch threads: {get_num_threads()}");

        var options = new SvaeTrainer.Options { NumberOfEpochs = epochs, MaxHistoryLength = maxLength, EarlyStoppingPatience = 0 };
        if (batchSize is int b)
            options.BatchSize = b;
        foreach (var setting in settings)
            SvaeTimeToQuality.Set(options, setting);
        Console.WriteLine($"users per step: {options.BatchSize}; GRU in training: {(GruSequence.UseLibTorch ? "libtorch" : "fused")}; {string.Join(" ", settings)}");
        var cpuStart = Process.GetCurrentProcess().TotalProcessorTime;
        var watch = Stopwatch.StartNew();
        using var model = ml.Recommendation().Trainers.Svae(options).Fit(data.Train);
        double total = watch.Elapsed.TotalSeconds;
        double cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpuStart).TotalSeconds;
        foreach (var epoch in model.TrainingHistory)
            Console.WriteLine(FormattableString.Invariant($"epoch {epoch.Epoch}: {epoch.Seconds:F1} s, loss {epoch.TrainingLoss:F4}"));
        double perEpoch = model.TrainingHistory.Average(e => e.Seconds);

        double flops = EpochFlops(options, train.ItemCount, positions);
        double gflops = SgemmRate();
        Console.WriteLine(FormattableString.Invariant($"seconds per epoch (mean of {epochs}): {perEpoch:F1}; Fit total {total:F1} s wall, {cpu:F1} s CPU (includes ONNX export)"));
        Console.WriteLine(FormattableString.Invariant($"FLOPs per epoch (forward + backward ≈ 3 × forward matmul FLOPs): {flops / 1e12:F2} TFLOP"));
        Console.WriteLine(FormattableString.Invariant($"measured sgemm rate (2048² matmul): {gflops:F1} GFLOP/s → compute floor {flops / (gflops * 1e9):F1} s per epoch; ratio {perEpoch / (flops / (gflops * 1e9)):F2}"));

        Scoring(ml, model, data);
        return 0;
    }

    /// <summary>
    /// Matmul FLOPs of one epoch: per position, forward 2·(3·(E·H + H·H) + H·S + S·2K + K·S + S·N), and the
    /// backward pass about twice the forward.
    /// </summary>
    private static double EpochFlops(SvaeTrainer.Options o, int items, long positions)
    {
        double forward = 2.0 * (3.0 * (o.EmbeddingSize * o.RecurrentSize + o.RecurrentSize * o.RecurrentSize)
            + o.RecurrentSize * o.EncoderSize + o.EncoderSize * 2.0 * o.LatentSize
            + o.LatentSize * o.DecoderSize + (double)o.DecoderSize * items);
        return 3.0 * forward * positions;
    }

    private static double SgemmRate()
    {
        using var a = randn(2048, 2048);
        using var b = randn(2048, 2048);
        using (var warm = a.mm(b)) { }
        var watch = Stopwatch.StartNew();
        const int repeats = 10;
        for (int i = 0; i < repeats; i++)
            using (var c = a.mm(b)) { }
        return repeats * 2.0 * 2048 * 2048 * 2048 / watch.Elapsed.TotalSeconds / 1e9;
    }

    private sealed class HistoryInput
    {
        public uint[] History { get; set; } = Array.Empty<uint>();
    }

    private sealed class Output
    {
        public uint[] TopItems { get; set; } = Array.Empty<uint>();
    }

    private static void Scoring(MLContext ml, SvaeTransformer model, SequenceDataset data)
    {
        var input = SchemaDefinition.Create(typeof(HistoryInput));
        input[nameof(HistoryInput.History)].ColumnType = data.Test.Schema[SequenceColumns.History].Type;
        var output = SchemaDefinition.Create(typeof(Output));
        output[nameof(Output.TopItems)].ColumnType = model.GetOutputSchema(data.Test.Schema)[SequenceColumns.TopItems].Type;
        using var engine = ml.Model.CreatePredictionEngine<HistoryInput, Output>(model, inputSchemaDefinition: input, outputSchemaDefinition: output);
        var histories = new List<uint[]>();
        var column = data.Test.Schema[SequenceColumns.History];
        using (var cursor = data.Test.GetRowCursor(new[] { column }))
        {
            var getter = cursor.GetGetter<VBuffer<uint>>(column);
            var buffer = default(VBuffer<uint>);
            while (cursor.MoveNext())
            {
                getter(ref buffer);
                histories.Add(buffer.DenseValues().ToArray());
            }
        }
        foreach (var h in histories.Take(20)) engine.Predict(new HistoryInput { History = h }); // warm-up
        var latencies = new List<double>();
        for (int round = 0; round < 3; round++)
            foreach (var h in histories)
            {
                var watch = Stopwatch.StartNew();
                engine.Predict(new HistoryInput { History = h });
                latencies.Add(watch.Elapsed.TotalMilliseconds);
            }
        latencies.Sort();
        double median = histories.Select(h => (double)h.Length).OrderBy(x => x).ElementAt(histories.Count / 2);
        Console.WriteLine(FormattableString.Invariant(
            $"PredictionEngine, {latencies.Count} predictions of test users (median fold-in {median} items): p50 {latencies[latencies.Count / 2]:F2} ms, p90 {latencies[(int)(latencies.Count * 0.9)]:F2} ms"));

        var batchWatch = Stopwatch.StartNew();
        var scored = model.Transform(data.Test);
        int rows = 0;
        var top = scored.Schema[SequenceColumns.TopItems];
        using (var cursor = scored.GetRowCursor(new[] { top }))
        {
            var getter = cursor.GetGetter<VBuffer<uint>>(top);
            var buffer = default(VBuffer<uint>);
            while (cursor.MoveNext()) { getter(ref buffer); rows++; }
        }
        Console.WriteLine(FormattableString.Invariant($"batch Transform of {rows} test users: {rows / batchWatch.Elapsed.TotalSeconds:F0} users/s"));
    }
}
