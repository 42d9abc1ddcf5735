using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Svae;

namespace Svae.Benchmarks;

/// <summary>
/// Issue 12: resident memory at the shape of the paper's Netflix subset (about 17,700 items, 40,000 training users,
/// 14M interactions; synthetic): what the data takes, the peak of SVAE training with the default options over the
/// largest batches, and batch scoring of every user streamed through the fitted transformer.
/// </summary>
/// <remarks>
/// Peak memory of a training step is set by its batch. With the default options a batch holds at most
/// <c>2^26 / items</c> padded positions, except that a user longer than that is a batch of his own: the largest batch
/// of an epoch is the longest user's. So training runs one epoch over the longest users only (the step cap): every
/// one of them is a batch, and those are the largest batches the full epoch would run. Linux only (reads
/// /proc/self/status; resets the peak with /proc/self/clear_refs).
/// </remarks>
internal sealed class MemoryBenchmark : IBenchmark
{
    public string Name => "memory";

    public string Usage => "[--users N] [--items N] [--mean-length L] [--longest-users K] [--max-history L] [--no-scoring] [--gru fused|libtorch] [--set Name=Value]...: peak RSS of data, SVAE training (K longest users) and streamed scoring at the Netflix subset's shape";

    public int Run(string[] args)
    {
        int users = 40_000, items = 17_700, longestUsers = 3;
        double meanLength = 350;
        int? maxHistory = null;
        bool scoring = true;
        var settings = new List<string>();
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--users" && i + 1 < args.Length) users = int.Parse(args[++i], CultureInfo.InvariantCulture);
            else if (args[i] == "--items" && i + 1 < args.Length) items = int.Parse(args[++i], CultureInfo.InvariantCulture);
            else if (args[i] == "--mean-length" && i + 1 < args.Length) meanLength = double.Parse(args[++i], CultureInfo.InvariantCulture);
            else if (args[i] == "--longest-users" && i + 1 < args.Length) longestUsers = int.Parse(args[++i], CultureInfo.InvariantCulture);
            else if (args[i] == "--max-history" && i + 1 < args.Length) maxHistory = int.Parse(args[++i], CultureInfo.InvariantCulture);
            else if (args[i] == "--no-scoring") scoring = false;
            else if (args[i] == "--set" && i + 1 < args.Length) settings.Add(args[++i]);
            else if (args[i] == "--gru" && i + 1 < args.Length && args[i + 1] is "fused" or "libtorch") GruSequence.UseLibTorch = args[++i] == "libtorch";
            else
            {
                Console.Error.WriteLine($"unknown argument '{args[i]}'; usage: memory {Usage}");
                return 2;
            }
        }
        if (!File.Exists("/proc/self/status"))
        {
            Console.Error.WriteLine("memory reads /proc/self/status: Linux only.");
            return 2;
        }
        Report("start");

        // The data: every event positive, so the log is the interaction set (no rows that binarization drops).
        var watch = Stopwatch.StartNew();
        var ml = new MLContext(seed: 1);
        const int heldOut = 100;
        var data = ml.Recommendation().Data.PrepareSequences(
            ml.Recommendation().Data.GenerateSyntheticInteractions(new SyntheticInteractionOptions
            {
                Users = users + 2 * heldOut, Items = items, MeanHistoryLength = meanLength, HistoryLengthSigma = 1.0,
                MinHistoryLength = 5, MaxHistoryLength = 12_200, PositiveFraction = 1.0, Seed = 12,
            }),
            new SequenceProtocolOptions { ValidationUsers = heldOut, TestUsers = heldOut });
        var train = UserSequences.Read(data.Train, SequenceColumns.History, "history");
        long events = train.EventCount;
        var lengths = Enumerable.Range(0, train.Count).Select(u => train.Length(u)).OrderDescending().ToArray();
        Console.WriteLine(FormattableString.Invariant(
            $"data: {train.Count:N0} training users, {train.ItemCount:N0} items, {events:N0} interactions; history mean {(double)events / train.Count:F0}, median {lengths[lengths.Length / 2]}, longest {lengths[0]}, {string.Join(", ", lengths.Take(longestUsers))} (the {longestUsers} longest); {watch.Elapsed.TotalSeconds:F0} s"));
        GC.Collect();
        Report("after generating the log and running the protocol (log, sequences, training histories held)");

        // (a) SVAE training, default options, one epoch over the longest users.
        long budget = Math.Max(1, (1L << 26) / train.ItemCount);
        int largest = Math.Min(lengths[0], maxHistory ?? int.MaxValue);
        Console.WriteLine(FormattableString.Invariant(
            $"default batching: at most {budget:N0} padded positions per batch (2^26 / items), so every user longer than that is a batch of his own; the largest batch is the longest user's ({largest:N0} positions{(maxHistory is null ? "" : " after MaxHistoryLength")})"));
        var longest = Longest(ml, data.Train, train, longestUsers);
        var options = new SvaeTrainer.Options { NumberOfEpochs = 1, EarlyStoppingPatience = 0, MaxHistoryLength = maxHistory };
        foreach (var setting in settings)
            SvaeTimeToQuality.Set(options, setting);
        Console.WriteLine(FormattableString.Invariant(
            $"SVAE options: defaults (embedding {options.EmbeddingSize}, GRU {options.RecurrentSize}, encoder {options.EncoderSize}, latent {options.LatentSize}, decoder {options.DecoderSize}, k {options.NextK}, batch {options.BatchSize} users, MaxHistoryLength {(maxHistory?.ToString(CultureInfo.InvariantCulture) ?? "none")}) except 1 epoch over the {longestUsers} longest users; GRU in training: {(GruSequence.UseLibTorch ? "libtorch" : "fused")}"));
        ResetPeak();
        watch.Restart();
        using var trainedOnLongest = ml.Recommendation().Trainers.Svae(options).Fit(longest);
        Console.WriteLine(FormattableString.Invariant($"training: {watch.Elapsed.TotalSeconds:F0} s, loss {trainedOnLongest.TrainingHistory[^1].TrainingLoss:F4}"));
        Report("training (peak since the data was ready)");

        if (!scoring)
            return 0;

        // (b) streamed batch scoring of all training users through the fitted transformer.
        GC.Collect();
        ResetPeak();
        Report("before scoring");
        watch.Restart();
        var scored = trainedOnLongest.Transform(data.Train);
        var top = scored.Schema[SequenceColumns.TopItems];
        int rows = 0;
        int reportEvery = Math.Max(1, train.Count / 4);
        using (var cursor = scored.GetRowCursor(new[] { top }))
        {
            var getter = cursor.GetGetter<VBuffer<uint>>(top);
            var buffer = default(VBuffer<uint>);
            while (cursor.MoveNext())
            {
                getter(ref buffer);
                if (++rows % reportEvery == 0)
                    Report(FormattableString.Invariant($"scoring: {rows:N0} users, {watch.Elapsed.TotalSeconds:F0} s"));
            }
        }
        Report(FormattableString.Invariant($"scoring done: {rows:N0} users, {rows / watch.Elapsed.TotalSeconds:F0} users/s"));
        GC.KeepAlive(data);
        return 0;
    }

    /// <summary>A view of the training rows of the <paramref name="count"/> longest users (their History column only, same type).</summary>
    private static IDataView Longest(MLContext ml, IDataView trainView, UserSequences train, int count)
    {
        var chosen = Enumerable.Range(0, train.Count).OrderByDescending(u => train.Length(u)).Take(count).ToHashSet();
        var rows = new List<HistoryRow>();
        var column = trainView.Schema[SequenceColumns.History];
        using (var cursor = trainView.GetRowCursor(new[] { column }))
        {
            var getter = cursor.GetGetter<VBuffer<uint>>(column);
            var buffer = default(VBuffer<uint>);
            int row = 0;
            while (cursor.MoveNext())
            {
                if (chosen.Contains(row++))
                {
                    getter(ref buffer);
                    rows.Add(new HistoryRow { History = buffer.DenseValues().ToArray() });
                }
            }
        }
        var schema = SchemaDefinition.Create(typeof(HistoryRow));
        schema[nameof(HistoryRow.History)].ColumnType = column.Type;
        return ml.Data.LoadFromEnumerable(rows, schema);
    }

    private sealed class HistoryRow
    {
        [ColumnName(SequenceColumns.History)]
        public uint[] History { get; set; } = [];
    }

    /// <summary>Resets the process's peak resident set (VmHWM) to its current size.</summary>
    private static void ResetPeak()
    {
        try { File.WriteAllText("/proc/self/clear_refs", "5"); }
        catch (IOException e) { Console.WriteLine($"(could not reset the peak: {e.Message})"); }
        catch (UnauthorizedAccessException e) { Console.WriteLine($"(could not reset the peak: {e.Message})"); }
    }

    private static void Report(string when)
    {
        long rss = 0, peak = 0;
        foreach (var line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal)) rss = Kilobytes(line);
            else if (line.StartsWith("VmHWM:", StringComparison.Ordinal)) peak = Kilobytes(line);
        }
        Console.WriteLine(FormattableString.Invariant(
            $"  RSS {rss / 1024.0 / 1024:F2} GiB, peak {peak / 1024.0 / 1024:F2} GiB, managed heap {GC.GetTotalMemory(false) / 1048576.0:F0} MiB — {when}"));

        static long Kilobytes(string line) => long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
    }
}
