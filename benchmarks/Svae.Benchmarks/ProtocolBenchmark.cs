using System.Diagnostics;
using System.Globalization;
using Microsoft.Data.Analysis;
using Microsoft.ML;
using Microsoft.ML.Svae;

namespace Svae.Benchmarks;

/// <summary>
/// The section 5 data protocol: the Table 1 row of MovieLens-100K (with --data) and of the synthetic MovieLens-1M
/// preset, and the wall time of the whole protocol (binarize, group, sort, split, fold) on the latter.
/// </summary>
internal sealed class ProtocolBenchmark : IBenchmark
{
    public string Name => "protocol";

    public string Usage => "[--data u.data] [--runs N]: Table 1 rows (ML-100K, synthetic ML-1M shape) and protocol wall time";

    public int Run(string[] args)
    {
        string? dataPath = null;
        int runs = 5;
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--data" && i + 1 < args.Length) dataPath = args[++i];
            else if (args[i] == "--runs" && i + 1 < args.Length) runs = int.Parse(args[++i], CultureInfo.InvariantCulture);
            else
            {
                Console.Error.WriteLine($"unknown argument '{args[i]}'; usage: protocol {Usage}");
                return 2;
            }
        }

        var ml = new MLContext(seed: 0);
        var data = new SequenceDataCatalog(ml);
        var rows = new List<DataFrame>();

        if (dataPath is not null)
        {
            var watch = Stopwatch.StartNew();
            var interactions = data.LoadMovieLens100K(dataPath);
            double readMs = watch.Elapsed.TotalMilliseconds;
            watch.Restart();
            var options = new SequenceProtocolOptions { RatingThreshold = 3, ValidationUsers = 100, TestUsers = 100 };
            var dataset = data.PrepareSequences(interactions, options);
            double protocolMs = watch.Elapsed.TotalMilliseconds;
            Console.WriteLine($"ML-100K ({dataPath}): read {readMs:F0} ms, protocol {protocolMs:F0} ms (first call, includes JIT)");
            Console.WriteLine(Indent(dataset.Report.ToString()));
            rows.Add(data.ComputeStatistics(interactions, "ML-100K raw"));
            rows.Add(data.ComputeStatistics(dataset, "ML-100K"));
        }

        var preset = SyntheticInteractionOptions.MovieLens1MShape();
        var protocol = SequenceProtocolOptions.MovieLens1M();
        var generationMs = new List<double>();
        var protocolTimes = new List<double>();
        IDataView log = null!;
        SequenceDataset synthetic = null!;
        for (int run = 0; run <= runs; run++) // run 0 is a warm-up
        {
            var watch = Stopwatch.StartNew();
            log = data.GenerateSyntheticInteractions(preset);
            double generation = watch.Elapsed.TotalMilliseconds;
            watch.Restart();
            synthetic = data.PrepareSequences(log, protocol);
            double prepare = watch.Elapsed.TotalMilliseconds;
            if (run == 0)
            {
                Console.WriteLine($"synthetic ML-1M shape, first (cold) run: generation {generation:F0} ms, protocol {prepare:F0} ms");
                continue;
            }
            generationMs.Add(generation);
            protocolTimes.Add(prepare);
        }
        Console.WriteLine($"synthetic ML-1M shape, {runs} warm runs: generation median {Median(generationMs):F0} ms (min {generationMs.Min():F0}), " +
                          $"whole protocol median {Median(protocolTimes):F0} ms (min {protocolTimes.Min():F0})");
        Console.WriteLine(Indent(synthetic.Report.ToString()));
        rows.Add(data.ComputeStatistics(log, "Synthetic ML-1M raw"));
        rows.Add(data.ComputeStatistics(synthetic, "Synthetic ML-1M"));

        Console.WriteLine();
        Console.WriteLine("Table 1 (\"raw\" rows: every rating, before binarization and the protocol; Table 1 of the paper");
        Console.WriteLine("reports avg/median/max history on raw ML-1M ratings: 165/96/2.3K, and 575K interactions after binarization):");
        Console.WriteLine($"{"Dataset",-22} {"Users",8} {"Items",7} {"Interactions",13} {"Density %",10} {"Avg",7} {"Median",7} {"Max",6} {"Held-out",9}");
        foreach (var frame in rows)
        {
            var r = frame.Rows[0];
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{r[0],-22} {r[1],8} {r[2],7} {r[3],13} {(double)r[4],10:F2} {(double)r[5],7:F1} {(double)r[6],7:F1} {r[7],6} {r[8],9}"));
        }
        return 0;
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : 0.5 * (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]);
    }

    private static string Indent(string text) => "  " + text.Replace("\n", "\n  ");
}
