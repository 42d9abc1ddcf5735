using System.Globalization;
using Microsoft.ML.Svae;
using TorchSharp;
using static TorchSharp.torch;

namespace Svae.Benchmarks;

/// <summary>Probe (issue 16): Adam's step over SVAE's parameters, libtorch's operations against the fused CPU pass.</summary>
internal sealed class AdamStepBenchmark : IBenchmark
{
    public string Name => "adam-step";

    public string Usage => "[--items N] [--steps S] [--threads T] [--bits 512|256|128|0] [--evict MB]: CPU and wall ms of one Adam step over a default SVAE's parameters (N items): op-by-op, fused on 1 thread, fused on T threads (default 2); the fused pass's vectors at most --bits wide (0: its scalar loop); with --evict, MB megabytes are written between the timed steps (untimed), so that each step finds its arrays out of the caches as in training";

    public int Run(string[] args)
    {
        int items = 3706, steps = 50, threads = 2, bits = 512, evictMegabytes = 0;
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--items") items = int.Parse(args[++i], CultureInfo.InvariantCulture);
            else if (args[i] == "--steps") steps = int.Parse(args[++i], CultureInfo.InvariantCulture);
            else if (args[i] == "--threads") threads = int.Parse(args[++i], CultureInfo.InvariantCulture);
            else if (args[i] == "--bits") bits = int.Parse(args[++i], CultureInfo.InvariantCulture);
            else if (args[i] == "--evict") evictMegabytes = int.Parse(args[++i], CultureInfo.InvariantCulture);
            else { Console.Error.WriteLine($"usage: {Name} {Usage}"); return 2; }
        }
        FusedAdamStep.VectorBits = bits; // flows into the step's Parallel.For workers
        var options = new SvaeTrainer.Options();
        using var network = new SvaeNetwork(items, options.EmbeddingSize, options.RecurrentSize, options.EncoderSize,
            options.LatentSize, options.DecoderSize, options.Seed, options.DropoutRate);
        var parameters = network.parameters().ToArray();
        long count = parameters.Sum(p => p.NumberOfElements);
        Console.WriteLine($"{parameters.Length} parameters, {count:N0} float32 elements; libtorch threads {get_num_threads()}; OMP_NUM_THREADS={Environment.GetEnvironmentVariable("OMP_NUM_THREADS") ?? "(unset)"}; fused pass's vectors {FusedAdamStep.VectorBits} bits");
        using (no_grad())
        {
            using var generator = new Generator(1, CPU);
            using var scale = 1e-3.ToScalar();
            foreach (var p in parameters)
                p.grad = randn(p.shape, generator: generator).mul_(scale);
        }
        var evict = new float[evictMegabytes * (1 << 18)];
        if (evictMegabytes > 0)
            Console.WriteLine($"between timed steps: {evictMegabytes} MB written (untimed)");
        // A B A B: each configuration twice, alternating.
        var configurations = new (string Name, bool Fused, int Threads)[]
        {
            ("op-by-op (libtorch)", false, 1), ("fused, 1 thread", true, 1), ($"fused, {threads} threads", true, threads),
        };
        foreach (var round in new[] { 1, 2 })
        {
            foreach (var (name, fused, t) in configurations)
            {
                using var optimizer = ExplicitScalarAdam.Create(parameters, 1e-3, 0, decoupled: false, fused);
                ((ExplicitScalarAdam.IFusedAdam)optimizer).Threads = t;
                for (int s = 0; s < 3; s++)
                    optimizer.step();
                double wallMs, threadMs, processMs;
                if (evict.Length == 0)
                {
                    double cpu = SvaeStepBreakdown.PhaseClock.ThreadCpuMs();
                    var process = System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime;
                    var wall = System.Diagnostics.Stopwatch.StartNew();
                    for (int s = 0; s < steps; s++)
                        optimizer.step();
                    wallMs = wall.Elapsed.TotalMilliseconds / steps;
                    threadMs = (SvaeStepBreakdown.PhaseClock.ThreadCpuMs() - cpu) / steps;
                    processMs = (System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime - process).TotalMilliseconds / steps;
                }
                else
                {
                    // Each step timed alone, after the eviction buffer is written.
                    wallMs = threadMs = processMs = 0;
                    for (int s = 0; s < steps; s++)
                    {
                        Array.Fill(evict, s);
                        double cpu = SvaeStepBreakdown.PhaseClock.ThreadCpuMs();
                        var process = System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime;
                        long start = System.Diagnostics.Stopwatch.GetTimestamp();
                        optimizer.step();
                        wallMs += System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalMilliseconds / steps;
                        threadMs += (SvaeStepBreakdown.PhaseClock.ThreadCpuMs() - cpu) / steps;
                        processMs += (System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime - process).TotalMilliseconds / steps;
                    }
                }
                Console.WriteLine(FormattableString.Invariant($"round {round}  {name,-22} {wallMs,7:F2} wall ms  {processMs,7:F2} process CPU ms  {threadMs,7:F2} calling-thread CPU ms per step"));
            }
        }
        return 0;
    }
}
