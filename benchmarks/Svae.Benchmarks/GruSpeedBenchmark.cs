using System.Globalization;
using Microsoft.ML.Svae;
using TorchSharp;
using static TorchSharp.torch;

namespace Svae.Benchmarks;

/// <summary>
/// The GRU alone (issue 16): libtorch's module against <see cref="GruSequence"/>'s fused CPU GRU, forward and backward,
/// on random inputs of SVAE's sizes, alternated A B A B; and the cost of the single operations a step is made of.
/// </summary>
internal sealed class GruSpeedBenchmark : IBenchmark
{
    public string Name => "gru-speed";

    public string Usage => "[--batch B] [--positions T] [--input I] [--hidden H] [--rounds R] [--precision Float32|BFloat16] [--only fused|libtorch]: CPU ms of a GRU forward and backward, libtorch's and the fused one, and of the operations of one step";

    public int Run(string[] args)
    {
        int batch = 8, positions = 200, input = 256, hidden = 200, rounds = 10;
        var precision = TrainingPrecision.Float32;
        string? only = null;
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--batch") batch = int.Parse(args[++i], CultureInfo.InvariantCulture);
            else if (args[i] == "--positions") positions = int.Parse(args[++i], CultureInfo.InvariantCulture);
            else if (args[i] == "--input") input = int.Parse(args[++i], CultureInfo.InvariantCulture);
            else if (args[i] == "--hidden") hidden = int.Parse(args[++i], CultureInfo.InvariantCulture);
            else if (args[i] == "--rounds") rounds = int.Parse(args[++i], CultureInfo.InvariantCulture);
            else if (args[i] == "--only" && i + 1 < args.Length && args[i + 1] is "fused" or "libtorch") only = args[++i];
            else if (args[i] == "--precision" && i + 1 < args.Length && Enum.TryParse<TrainingPrecision>(args[i + 1], out var parsed)) { precision = parsed; i++; }
            else { Console.Error.WriteLine($"usage: {Name} {Usage}"); return 2; }
        }
        Console.WriteLine($"B = {batch}, T = {positions}, I = {input}, H = {hidden}; fused GRU's products over all positions: {precision}; libtorch threads: {get_num_threads()}; OMP_NUM_THREADS={Environment.GetEnvironmentVariable("OMP_NUM_THREADS") ?? "(unset)"}");

        using var gru = nn.GRU(input, hidden, numLayers: 1, batchFirst: true);
        using (var generator = new Generator(1, CPU))
            RecurrentLayers.ResetGru(gru, hidden, generator);
        using var x = randn(batch, positions, input).requires_grad_();
        using var upstream = randn(batch, positions, hidden);

        var times = new Dictionary<string, List<double>>();
        void Add(string key, double ms)
        {
            if (!times.TryGetValue(key, out var list))
                times[key] = list = new List<double>();
            list.Add(ms);
        }
        for (int round = 0; round < rounds + 1; round++)
        {
            foreach (bool libtorch in round % 2 == 0 ? new[] { true, false } : new[] { false, true })
            {
                if (only is not null && libtorch != (only == "libtorch"))
                    continue;
                string label = libtorch ? "libtorch" : "fused";
                using var scope = NewDisposeScope();
                gru.zero_grad();
                x.grad?.zero_();
                double start = ThreadCpuMs();
                var outputs = libtorch ? gru.call(x, null).Item1 : GruSequence.Fused(gru, x, precision);
                double forward = ThreadCpuMs() - start;
                start = ThreadCpuMs();
                outputs.backward([upstream]);
                double backward = ThreadCpuMs() - start;
                using (no_grad())
                {
                    start = ThreadCpuMs();
                    using var inference = libtorch ? gru.call(x, null).Item1 : GruSequence.Fused(gru, x, precision);
                    double noGrad = ThreadCpuMs() - start;
                    if (round > 0)
                        Add($"{label}: forward under no_grad", noGrad);
                }
                if (round == 0)
                    continue;   // warm-up
                Add($"{label}: forward", forward);
                Add($"{label}: backward", backward);
                Add($"{label}: forward + backward", forward + backward);
            }
        }
        Console.WriteLine($"CPU ms of this thread, median of {rounds} rounds (after one warm-up), the two ways alternated:");
        Console.WriteLine("| what | median CPU ms | per position, µs |");
        Console.WriteLine("| --- | ---: | ---: |");
        foreach (var (key, list) in times.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            double median = Median(list);
            Console.WriteLine(FormattableString.Invariant($"| {key} | {median:F2} | {1000 * median / positions:F1} |"));
        }

        if (only is not null)
            return 0;   // one way alone (for a profiler): no table of single operations

        // The operations of one step, each alone, repeated.
        using var scope2 = NewDisposeScope();
        var h = randn(batch, hidden);
        var weight = randn(3 * hidden, hidden);
        var weightT = weight.t();
        var bias = randn(3 * hidden);
        var a = randn(batch, 2 * hidden);
        var gates = randn(batch, 3 * hidden);
        var big = randn(positions * batch, 3 * hidden);
        var previous = randn(positions * batch, hidden);
        const int repeats = 200;
        void Op(string name, Func<Tensor> op)
        {
            for (int i = 0; i < 50; i++)
                using (op()) { }
            double start = ThreadCpuMs();
            for (int i = 0; i < repeats; i++)
                using (op()) { }
            Console.WriteLine(FormattableString.Invariant($"| {name} | {1000 * (ThreadCpuMs() - start) / repeats:F2} |"));
        }
        Console.WriteLine();
        Console.WriteLine($"one operation, CPU µs (mean of {repeats}):");
        Console.WriteLine("| operation | CPU µs |");
        Console.WriteLine("| --- | ---: |");
        Op($"addmm b + [{batch}×{hidden}]·[{hidden}×{3 * hidden}] (Wᵀ view)", () => bias.addmm(h, weightT));
        using (var contiguousT = weightT.contiguous())
            Op($"addmm b + [{batch}×{hidden}]·[{hidden}×{3 * hidden}] (contiguous)", () => bias.addmm(h, contiguousT));
        Op($"mm [{batch}×{3 * hidden}]·[{3 * hidden}×{hidden}]", () => gates.mm(weight));
        Op($"add [{batch}×{2 * hidden}]", () => a.add(a, TorchScalars.One));
        Op($"sigmoid [{batch}×{2 * hidden}]", () => a.sigmoid());
        Op($"sigmoid_ in place [{batch}×{2 * hidden}]", () => a.sigmoid_().alias());
        Op($"tanh [{batch}×{hidden}]", () => h.tanh());
        Op($"exp [{batch}×{2 * hidden}]", () => a.exp());
        Op($"addcmul [{batch}×{hidden}]", () => h.addcmul(h, h, TorchScalars.One));
        Op($"mul [{positions * batch}×{hidden}]", () => previous.mul(previous));
        Op($"tanh [{positions * batch}×{hidden}]", () => previous.tanh());
        Op($"stack of {positions} [{batch}×{3 * hidden}]", () => stack(big.view(positions, batch, 3 * hidden).unbind(0), 0));
        Op("narrow (a view)", () => a.narrow(1, 0, hidden));
        Op($"unbind into {positions} views (per call, all views disposed)", () =>
        {
            var views = big.view(positions, batch, 3 * hidden).unbind(0);
            foreach (var view in views[1..])
                view.Dispose();
            return views[0];
        });
        Op("select (a view)", () => big.select(0, 1));
        Op($"mm [{3 * hidden}×{positions * batch}]·[{positions * batch}×{hidden}] (weight gradient)", () => big.t().mm(previous));
        var inputs = randn(positions * batch, input);
        var inputWeight = randn(3 * hidden, input);
        Op($"addmm b + [{positions * batch}×{input}]·[{input}×{3 * hidden}] (Wᵀ view)", () => bias.addmm(inputs, inputWeight.t()));
        using (var contiguousT = inputWeight.t().contiguous())
            Op($"addmm b + [{positions * batch}×{input}]·[{input}×{3 * hidden}] (contiguous)", () => bias.addmm(inputs, contiguousT));
        return 0;
    }

    private static double Median(List<double> values)
    {
        var sorted = values.OrderBy(v => v).ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }

    private static double ThreadCpuMs() => SvaeStepBreakdown.PhaseClock.ThreadCpuMs();
}
