using System.Globalization;
using Microsoft.ML.Svae;
using static TorchSharp.torch;

namespace Svae.Benchmarks;

/// <summary>
/// Probe (issue 16): the parts of SVAE's output layer + next-k loss on the CPU (<c>NextKOutputLayer</c>) at one shape —
/// the forward product alone, the whole forward (product + the managed pass), the loss alone (no gradient), the backward
/// (two products), and libtorch's path (Linear, then the fused loss) for comparison — in CPU ms of this thread.
/// </summary>
internal sealed class OutputPassProbe : IBenchmark
{
    public string Name => "output-pass";

    public string Usage => "[--rows P] [--inner D] [--items N] [--k K] [--repeats R]: CPU ms of the output layer + next-k loss's parts, float32 and bfloat16";

    public int Run(string[] args)
    {
        int rows = 912, inner = 150, items = 3706, k = 4, repeats = 20;
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--rows") rows = int.Parse(args[++i], CultureInfo.InvariantCulture);
            else if (args[i] == "--inner") inner = int.Parse(args[++i], CultureInfo.InvariantCulture);
            else if (args[i] == "--items") items = int.Parse(args[++i], CultureInfo.InvariantCulture);
            else if (args[i] == "--k") k = int.Parse(args[++i], CultureInfo.InvariantCulture);
            else if (args[i] == "--repeats") repeats = int.Parse(args[++i], CultureInfo.InvariantCulture);
            else { Console.Error.WriteLine($"usage: {Name} {Usage}"); return 2; }
        }
        Console.WriteLine($"P {rows}, D {inner}, N {items}, k {k}; libtorch threads {get_num_threads()}");
        using var generator = new Generator(1, CPU);
        using var hidden = randn(new long[] { rows, inner }, generator: generator).tanh();
        using var weight = (randn(new long[] { items, inner }, generator: generator) * 0.1).requires_grad_();
        using var bias = zeros(items).requires_grad_();
        using var targets = randint(0, items, new long[] { rows, k }, generator: generator);
        using var weights = ones(rows, k);

        Console.WriteLine("| variant | forward CPU ms (median) | backward | total |");
        Console.WriteLine("| --- | ---: | ---: | ---: |");
        // Each repeat runs every variant once, in an order that alternates, so that the machine's load falls on all alike;
        // medians of the CPU ms of this thread.
        var variants = new (string Name, Func<(double Forward, double Backward)> Run)[]
        {
            ("float32 product h·Wᵀ alone", () => (Timed(() => hidden.mm(weight.detach().t())), 0)),
            ("float32 products alone (h·Wᵀ; G·W, Gᵀ·h)", () => ProductsAlone(hidden, weight.detach())),
            ("libtorch: addmm, then NextKTargets' fused loss", () => Step(input => NextKTargets.MultiSetNll(bias.addmm(input, weight.t()), targets, weights))),
            ("NextKOutputLayer Float32 (products + one pass)", () => Step(input => NextKOutputLayer.MultiSetNll(input, weight, bias, targets, weights, TrainingPrecision.Float32))),
            ("NextKOutputLayer Float32, loss only (no_grad)", () => (Timed(() => { using var noGrad = no_grad(); return NextKOutputLayer.MultiSetNll(hidden, weight, bias, targets, weights, TrainingPrecision.Float32); }), 0)),
            ("bfloat16 copies + product alone", () => (Timed(() => BFloat16Rows.Copy(hidden).mm(weight.detach().to(ScalarType.BFloat16).t())), 0)),
            ("NextKOutputLayer BFloat16 (products + one pass)", () => Step(input => NextKOutputLayer.MultiSetNll(input, weight, bias, targets, weights, TrainingPrecision.BFloat16))),
            ("NextKOutputLayer BFloat16, loss only (no_grad)", () => (Timed(() => { using var noGrad = no_grad(); return NextKOutputLayer.MultiSetNll(hidden, weight, bias, targets, weights, TrainingPrecision.BFloat16); }), 0)),
        };
        var results = variants.Select(_ => (Forward: new List<double>(), Backward: new List<double>())).ToArray();
        for (int repeat = 0; repeat < repeats + 3; repeat++)
        {
            for (int v = 0; v < variants.Length; v++)
            {
                int index = repeat % 2 == 0 ? v : variants.Length - 1 - v;
                var (f, b) = variants[index].Run();
                if (repeat >= 3)
                {
                    results[index].Forward.Add(f);
                    results[index].Backward.Add(b);
                }
            }
        }
        for (int v = 0; v < variants.Length; v++)
        {
            double Median(List<double> values) { var sorted = values.OrderBy(x => x).ToList(); return sorted[sorted.Count / 2]; }
            double forward = Median(results[v].Forward), backward = Median(results[v].Backward);
            Console.WriteLine(FormattableString.Invariant($"| {variants[v].Name} | {forward:F2} | {backward:F2} | {forward + backward:F2} |"));
        }
        return 0;

        (double, double) Step(Func<Tensor, Tensor> loss)
        {
            using var scope = NewDisposeScope();
            var input = hidden.detach().requires_grad_();
            weight.grad?.zero_();
            bias.grad?.zero_();
            double start = SvaeStepBreakdown.PhaseClock.ThreadCpuMs();
            var value = loss(input);
            double middle = SvaeStepBreakdown.PhaseClock.ThreadCpuMs();
            value.backward();
            double end = SvaeStepBreakdown.PhaseClock.ThreadCpuMs();
            return (middle - start, end - middle);
        }
        }

    /// <summary>CPU ms of this thread to run <paramref name="op"/> and free its result.</summary>
    private static double Timed(Func<Tensor> op)
    {
        using var scope = NewDisposeScope();
        double start = SvaeStepBreakdown.PhaseClock.ThreadCpuMs();
        op().Dispose();
        return SvaeStepBreakdown.PhaseClock.ThreadCpuMs() - start;
    }

    /// <summary>The three float32 products alone: the forward h·Wᵀ, then G·W and Gᵀ·h from a G of that shape.</summary>
    private static (double Forward, double Backward) ProductsAlone(Tensor hidden, Tensor weight)
    {
        using var scope = NewDisposeScope();
        double start = SvaeStepBreakdown.PhaseClock.ThreadCpuMs();
        var logits = hidden.mm(weight.t());
        double middle = SvaeStepBreakdown.PhaseClock.ThreadCpuMs();
        logits.mm(weight).Dispose();
        logits.t().mm(hidden).Dispose();
        double end = SvaeStepBreakdown.PhaseClock.ThreadCpuMs();
        return (middle - start, end - middle);
    }
}
