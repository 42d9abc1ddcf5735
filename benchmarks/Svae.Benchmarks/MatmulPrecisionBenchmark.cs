using System.Globalization;
using TorchSharp;
using static TorchSharp.torch;

namespace Svae.Benchmarks;

/// <summary>Probe: the decoder output layer's products in float32 and bfloat16 on the CPU.</summary>
internal sealed class MatmulPrecisionBenchmark : IBenchmark
{
    public string Name => "matmul-precision";

    public string Usage => "[--rows P] [--inner K] [--items N] [--repeats R]: CPU ms of [P×K]·[K×N] and its two backward products, float32 against bfloat16";

    public int Run(string[] args)
    {
        int rows = 1600, inner = 150, items = 3706, repeats = 20;
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--rows") rows = int.Parse(args[++i], CultureInfo.InvariantCulture);
            else if (args[i] == "--inner") inner = int.Parse(args[++i], CultureInfo.InvariantCulture);
            else if (args[i] == "--items") items = int.Parse(args[++i], CultureInfo.InvariantCulture);
            else if (args[i] == "--repeats") repeats = int.Parse(args[++i], CultureInfo.InvariantCulture);
            else { Console.Error.WriteLine($"usage: {Name} {Usage}"); return 2; }
        }
        Console.WriteLine($"threads {get_num_threads()}");
        foreach (var type in new[] { ScalarType.Float32, ScalarType.BFloat16, ScalarType.Float32, ScalarType.BFloat16 })
        {
            using var scope = NewDisposeScope();
            var h = randn(rows, inner).to(type);
            var w = randn(items, inner).to(type);
            var g = randn(rows, items).to(type);
            void Time(string name, Func<Tensor> op, double flops)
            {
                for (int i = 0; i < 3; i++) using (op()) { }
                double start = SvaeStepBreakdown.PhaseClock.ThreadCpuMs();
                double wall = Environment.TickCount64;
                for (int i = 0; i < repeats; i++) using (op()) { }
                double ms = (SvaeStepBreakdown.PhaseClock.ThreadCpuMs() - start) / repeats;
                double wms = (Environment.TickCount64 - wall) / repeats;
                Console.WriteLine(FormattableString.Invariant($"{type,-9} {name,-28} {ms,8:F2} CPU ms {wms,8:F2} wall ms  {flops / ms / 1e6,7:F1} GFLOP/CPU s"));
            }
            double f = 2.0 * rows * inner * items;
            Time("h·Wᵀ (forward)", () => h.mm(w.t()), f);
            Time("g·W (input gradient)", () => g.mm(w), f);
            Time("gᵀ·h (weight gradient)", () => g.t().mm(h), f);
            Time("log_softmax", () => g.log_softmax(1), rows * (double)items);
            var wt = w.t().contiguous();
            Time("h·(Wᵀ contiguous)", () => h.mm(wt), f);
            var bias = zeros(items).to(type);
            Time("addmm b + h·Wᵀ", () => bias.addmm(h, w.t()), f);
            Time("linear(h, W, b)", () => nn.functional.linear(h, w, bias), f);
            if (type == ScalarType.BFloat16)
            {
                var gf = randn(rows, items);
                Time("[P×N] float32 → bfloat16", () => gf.to(ScalarType.BFloat16), rows * (double)items);
                Time("[P×N] bfloat16 → float32", () => g.to(ScalarType.Float32), rows * (double)items);
                var hf = randn(rows, inner); var wf = randn(items, inner);
                Time("fwd: cast h,W; mm; to f32", () => { using var a = hf.to(type); using var c = wf.to(type); using var o = a.mm(c.t()); return o.to(ScalarType.Float32); }, f);
            }
        }
        return 0;
    }
}
