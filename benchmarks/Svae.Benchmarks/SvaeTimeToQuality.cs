using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Text;
using Microsoft.ML;
using Microsoft.ML.Svae;

namespace Svae.Benchmarks;

/// <summary>
/// Time to a trained SVAE (issue 16) on MovieLens-100K under the paper's protocol (ratings &gt; 3, users with at least
/// 5 items, 100 validation and 100 test users, temporal 80/20 fold-in/fold-out: the splits of
/// <c>svae split --format ml-100k --seeds N</c>): per epoch the cumulative wall and process CPU seconds (training and
/// validation) with the validation NDCG@100, then the best epoch and the test metrics. With <c>--per-user DIR</c> it
/// writes each test user's metrics (<c>DIR/LABEL-splitN.users.csv</c>, keyed by the MovieLens user id) for paired
/// comparisons (<c>svae-quality --compare A B</c>).
/// </summary>
internal sealed class SvaeTimeToQuality : IBenchmark
{
    private static readonly System.Text.RegularExpressions.Regex EpochLine = new(@"SVAE epoch (\d+): loss", System.Text.RegularExpressions.RegexOptions.CultureInvariant);

    public string Name => "svae-quality";

    public string Usage => "--data u.data | --synthetic ml-1m [--seeds 1,2] [--set Name=Value]... [--label L] [--per-user DIR] [--threads T] | --compare DIR LABEL_A LABEL_B [--seeds 1,2]: validation NDCG@100 against wall/CPU seconds on ML-100K or the ML-1M-shaped synthetic set (histories capped at 1,000 as in svae-speed), test metrics per user";

    public int Run(string[] args)
    {
        string data = "../shared/data/ml-100k/u.data";
        var seeds = new List<int> { 1 };
        var settings = new List<(string Name, string Value)>();
        string label = "defaults";
        string? perUser = null;
        int? threads = null;
        string[]? compare = null;
        bool synthetic = false;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--data": data = args[++i]; break;
                case "--synthetic":
                    if (args[++i] != "ml-1m") { Console.Error.WriteLine("--synthetic: the only synthetic set is ml-1m"); return 2; }
                    synthetic = true;
                    break;
                case "--seeds": seeds = args[++i].Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToList(); break;
                case "--label": label = args[++i]; break;
                case "--per-user": perUser = args[++i]; break;
                case "--threads": threads = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--compare": compare = [args[++i], args[++i], args[++i]]; break;
                case "--set":
                    var pair = args[++i];
                    int eq = pair.IndexOf('=', StringComparison.Ordinal);
                    if (eq <= 0) { Console.Error.WriteLine($"--set {pair}: expected Name=Value, e.g. --set LearningRate=3e-3"); return 2; }
                    settings.Add((pair[..eq], pair[(eq + 1)..]));
                    break;
                default: Console.Error.WriteLine($"usage: {Name} {Usage}"); return 2;
            }
        }
        if (compare is not null)
            return Compare(compare[0], compare[1], compare[2], seeds);
        if (threads is int t)
            TorchSharp.torch.set_num_threads(t);

        Console.WriteLine($"{label}: {string.Join(" ", settings.Select(s => $"{s.Name}={s.Value}"))}; libtorch threads {TorchSharp.torch.get_num_threads()}, OMP_NUM_THREADS={Environment.GetEnvironmentVariable("OMP_NUM_THREADS") ?? "(unset)"}");
        foreach (int seed in seeds)
        {
            var ml = new MLContext(seed: 1);
            SequenceDataset dataset;
            var options = new SvaeTrainer.Options();
            if (synthetic)
            {
                // The ML-1M-shaped set of svae-speed and svae-breakdown (one synthetic log); the split seed draws its
                // 750 validation and 750 test users.
                var protocol = SequenceProtocolOptions.MovieLens1M();
                protocol.Seed = seed;
                dataset = ml.Recommendation().Data.PrepareSequences(
                    ml.Recommendation().Data.GenerateSyntheticInteractions(SyntheticInteractionOptions.MovieLens1MShape()), protocol);
                options.MaxHistoryLength = 1000;
            }
            else
            {
                var protocol = new SequenceProtocolOptions
                {
                    RatingThreshold = 3, MinItemsPerUser = 5, ValidationUsers = 100, TestUsers = 100, Seed = seed, FoldSplit = FoldSplit.Temporal,
                };
                dataset = ml.Recommendation().Data.PrepareSequences(ml.Recommendation().Data.LoadMovieLens100K(data), protocol);
            }
            foreach (var (name, value) in settings)
                Set(options, name, value);

            var curve = new List<(int Epoch, double Wall, double Cpu, string Line)>();
            var process = Process.GetCurrentProcess();
            var cpuStart = process.TotalProcessorTime;
            var wall = Stopwatch.StartNew();
            ml.Log += (_, e) =>
            {
                var match = EpochLine.Match(e.Message);
                if (!match.Success)
                    return;
                process.Refresh();
                curve.Add((int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture), wall.Elapsed.TotalSeconds,
                    (process.TotalProcessorTime - cpuStart).TotalSeconds, e.Message));
                Console.WriteLine(FormattableString.Invariant($"  {e.Message} [{curve[^1].Wall:F1} s wall, {curve[^1].Cpu:F1} s CPU]"));
            };
            using var model = ml.Recommendation().Trainers.Svae(options).Fit(dataset.Train, dataset.Validation);
            double fitWall = wall.Elapsed.TotalSeconds;
            process.Refresh();
            double fitCpu = (process.TotalProcessorTime - cpuStart).TotalSeconds;
            var metrics = ml.Recommendation().Evaluate(model.Transform(dataset.Test));

            Console.WriteLine($"split seed {seed}: {dataset.Report}");
            Console.WriteLine("| epoch | wall s (cumulative) | CPU s (cumulative) | validation NDCG@100 |");
            Console.WriteLine("| ---: | ---: | ---: | ---: |");
            foreach (var (epoch, w, c, _) in curve)
            {
                var record = model.TrainingHistory.First(h => h.Epoch == epoch);
                Console.WriteLine(FormattableString.Invariant($"| {epoch} | {w:F1} | {c:F1} | {record.ValidationNdcg:F4} |"));
            }
            int best = model.BestEpoch;
            var bestPoint = curve.First(p => p.Epoch == best);
            Console.WriteLine(FormattableString.Invariant(
                $"split seed {seed} {label}: best epoch {best} of {curve.Count} (validation NDCG@100 {model.TrainingHistory.First(h => h.Epoch == best).ValidationNdcg:F4}) reached at {bestPoint.Wall:F1} s wall, {bestPoint.Cpu:F1} s CPU; Fit {fitWall:F1} s wall, {fitCpu:F1} s CPU"));
            Console.WriteLine($"split seed {seed} {label}: test {metrics}");

            if (perUser is not null)
            {
                Directory.CreateDirectory(perUser);
                var table = metrics.PerUser;
                var text = new StringBuilder();
                text.AppendLine(string.Join(",", table.Columns.Select(c => c.Name)));
                foreach (var row in table.Rows)
                    text.AppendLine(string.Join(",", row.Select(v => Convert.ToString(v, CultureInfo.InvariantCulture))));
                File.WriteAllText(Path.Combine(perUser, $"{label}-split{seed}.users.csv"), text.ToString());
            }
        }
        return 0;
    }

    internal static void Set(SvaeTrainer.Options options, string name, string value)
    {
        var property = typeof(SvaeTrainer.Options).GetProperty(name, BindingFlags.Public | BindingFlags.Instance)
            ?? throw new ArgumentException($"--set {name}={value}: SvaeTrainer.Options has no property {name}.");
        var type = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
        object parsed;
        try
        {
            parsed = type.IsEnum ? Enum.Parse(type, value) : Convert.ChangeType(value, type, CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is ArgumentException or FormatException or InvalidCastException or OverflowException)
        {
            string expected = type.IsEnum ? string.Join(" or ", Enum.GetNames(type)) : $"a {type.Name}";
            throw new ArgumentException($"--set {name}={value}: {name} takes {expected}.", e);
        }
        property.SetValue(options, parsed);
    }

    /// <summary>One <c>--set Name=Value</c> argument applied to <paramref name="options"/>, with a message naming it when it is malformed.</summary>
    internal static void Set(SvaeTrainer.Options options, string setting)
    {
        int eq = setting.IndexOf('=', StringComparison.Ordinal);
        if (eq <= 0)
            throw new ArgumentException($"--set {setting}: expected Name=Value, e.g. --set LearningRate=3e-3.");
        Set(options, setting[..eq], setting[(eq + 1)..]);
    }

    /// <summary>
    /// Pairs the test users of two labels' per-user files by user id, per split and over all the given splits: the mean
    /// of each metric for both and the mean paired difference B − A with a bootstrap 95% interval (10,000 resamples of
    /// users, seeded).
    /// </summary>
    private static int Compare(string folder, string a, string b, List<int> seeds)
    {
        var differences = new Dictionary<string, List<double>>();
        var meansA = new Dictionary<string, List<double>>();
        var meansB = new Dictionary<string, List<double>>();
        string[]? metricNames = null;
        foreach (int seed in seeds)
        {
            var left = Read(Path.Combine(folder, $"{a}-split{seed}.users.csv"), out var header);
            var right = Read(Path.Combine(folder, $"{b}-split{seed}.users.csv"), out _);
            metricNames ??= header.Skip(3).ToArray();
            if (left.Count != right.Count || left.Keys.Any(k => !right.ContainsKey(k)))
                throw new InvalidDataException($"Split {seed}: the two files do not hold the same users.");
            foreach (var (user, values) in left)
                for (int m = 0; m < metricNames.Length; m++)
                {
                    string metric = metricNames[m];
                    Append(differences, metric, right[user][m] - values[m]);
                    Append(meansA, metric, values[m]);
                    Append(meansB, metric, right[user][m]);
                }
        }
        Console.WriteLine($"{b} − {a}, test users of split seeds {string.Join(",", seeds)} paired by user id (percent):");
        Console.WriteLine($"| metric | {a} | {b} | paired difference | bootstrap 95% interval |");
        Console.WriteLine("| --- | ---: | ---: | ---: | --- |");
        var random = new Random(1);
        foreach (string metric in metricNames!)
        {
            var d = differences[metric];
            var resampled = new double[10_000];
            for (int r = 0; r < resampled.Length; r++)
            {
                double sum = 0;
                for (int i = 0; i < d.Count; i++)
                    sum += d[random.Next(d.Count)];
                resampled[r] = sum / d.Count;
            }
            Array.Sort(resampled);
            Console.WriteLine(FormattableString.Invariant(
                $"| {metric} | {100 * meansA[metric].Average():F2} | {100 * meansB[metric].Average():F2} | {Signed(100 * d.Average())} | [{Signed(100 * resampled[250])}, {Signed(100 * resampled[9749])}] |"));
        }
        Console.WriteLine($"{differences[metricNames[0]].Count} users");
        return 0;
    }

    private static void Append(Dictionary<string, List<double>> lists, string key, double value)
    {
        if (!lists.TryGetValue(key, out var list))
            lists[key] = list = new List<double>();
        list.Add(value);
    }

    private static Dictionary<long, double[]> Read(string path, out string[] header)
    {
        var lines = File.ReadAllLines(path);
        header = lines[0].Split(',');
        var result = new Dictionary<long, double[]>();
        foreach (var line in lines.Skip(1))
        {
            var cells = line.Split(',');
            result[long.Parse(cells[0], CultureInfo.InvariantCulture)] = cells.Skip(3).Select(c => double.Parse(c, CultureInfo.InvariantCulture)).ToArray();
        }
        return result;
    }

    /// <summary>A difference with its sign and two decimals; one that rounds to zero is "+0.00" (a custom format with a
    /// negative section prints "-+0.00" for a negative value that rounds to zero).</summary>
    private static string Signed(double value)
    {
        double rounded = Math.Round(value, 2);
        return (rounded == 0 ? 0 : rounded).ToString("+0.00;-0.00", System.Globalization.CultureInfo.InvariantCulture);
    }
}
