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

    public string Usage => "[--rows P] [--inner D] [--items N] [--k K] [--repeats R] [--glue]: CPU ms of the output layer + next-k loss's parts, float32 and bfloat16 (--glue: the per-step glue around the products instead)";

    public int Run(string[] args)
    {
        int rows = 912, inner = 150, items = 3706, k = 4, repeats = 20;
        bool glue = false;
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--rows") rows = int.Parse(args[++i], CultureInfo.InvariantCulture);
            else if (args[i] == "--inner") inner = int.Parse(args[++i], CultureInfo.InvariantCulture);
            else if (args[i] == "--items") items = int.Parse(args[++i], CultureInfo.InvariantCulture);
            else if (args[i] == "--k") k = int.Parse(args[++i], CultureInfo.InvariantCulture);
            else if (args[i] == "--repeats") repeats = int.Parse(args[++i], CultureInfo.InvariantCulture);
            else if (args[i] == "--glue") glue = true;
            else { Console.Error.WriteLine($"usage: {Name} {Usage}"); return 2; }
        }
        Console.WriteLine($"P {rows}, D {inner}, N {items}, k {k}; libtorch threads {get_num_threads()}");
        using var generator = new Generator(1, CPU);
        using var hidden = randn(new long[] { rows, inner }, generator: generator).tanh();
        using var weight = (randn(new long[] { items, inner }, generator: generator) * 0.1).requires_grad_();
        using var bias = zeros(items).requires_grad_();
        using var targets = randint(0, items, new long[] { rows, k }, generator: generator);
        using var weights = ones(rows, k);

        if (glue)
            return Glue(hidden, weight.detach(), repeats);

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
            ("NextKOutputLayer BFloat16, libtorch's casts (UseLibTorchGlue)", () => LibTorchGlue(() => Step(input => NextKOutputLayer.MultiSetNll(input, weight, bias, targets, weights, TrainingPrecision.BFloat16)))),
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

    /// <summary>
    /// The glue around the output layer's products, each variant alone (CPU ms of this thread, medians, in alternating
    /// order): the bfloat16 product into a fresh buffer against one kept across calls (addmm_ with β = 0), the same in
    /// float32, the weight's bfloat16 cast by libtorch against a managed cast, and the backward's bfloat16 results to
    /// float32 then scaled by g against one managed pass.
    /// </summary>
    private static int Glue(Tensor hidden, Tensor weight, int repeats)
    {
        long rows = hidden.shape[0], items = weight.shape[0], inner = weight.shape[1];
        using var left = BFloat16Rows.Copy(hidden);
        using var right = weight.to(ScalarType.BFloat16);
        using var keptReduced = empty(new[] { left.shape[0], items }, ScalarType.BFloat16);
        using var keptSingle = empty(new[] { rows, items });
        using var keptCast = empty(new[] { items, inner }, ScalarType.BFloat16);
        using var gradient = left.mm(right.t());
        using var scale = tensor(0.37f);
        var variants = new (string Name, Func<double> Run)[]
        {
            ("bfloat16 product, fresh buffer (mm)", () => Timed(() => left.mm(right.t()))),
            ("bfloat16 product, kept buffer (addmm_, beta 0)", () => Timed(() => keptReduced.addmm_(left, right.t(), 0, 1).alias())),
            ("float32 product, fresh buffer (mm)", () => Timed(() => hidden.mm(weight.t()))),
            ("float32 product, kept buffer (addmm_, beta 0)", () => Timed(() => keptSingle.addmm_(hidden, weight.t(), 0, 1).alias())),
            ("weight to bfloat16, libtorch (to)", () => Timed(() => weight.to(ScalarType.BFloat16))),
            ("weight to bfloat16, bfloat16 rows copy (copy_)", () => Timed(() => BFloat16Rows.Copy(weight))),
            ("activations to bfloat16 rows (BFloat16Rows.Copy)", () => Timed(() => BFloat16Rows.Copy(hidden))),
            ("∂W: Gᵀ·a, to(float32), mul_(g)", () => Timed(() => gradient.t().mm(left).to(ScalarType.Float32).mul_(scale))),
            ("∂W: Gᵀ·a alone (bfloat16)", () => Timed(() => gradient.t().mm(left))),
            ("∂a: G·W, narrow, to(float32), mul_(g)", () => Timed(() => gradient.mm(right).narrow(0, 0, rows).to(ScalarType.Float32).mul_(scale))),
            ("∂a: G·W alone (bfloat16)", () => Timed(() => gradient.mm(right))),
            ("empty [P, N] float32 + fill_(0)", () => Timed(() => empty(new[] { rows, items }).fill_(0))),
        };
        var results = variants.Select(_ => new List<double>()).ToArray();
        for (int repeat = 0; repeat < repeats + 3; repeat++)
        {
            for (int v = 0; v < variants.Length; v++)
            {
                int index = repeat % 2 == 0 ? v : variants.Length - 1 - v;
                double ms = variants[index].Run();
                if (repeat >= 3)
                    results[index].Add(ms);
            }
        }
        Console.WriteLine("| glue variant | CPU ms (median) |");
        Console.WriteLine("| --- | ---: |");
        for (int v = 0; v < variants.Length; v++)
        {
            var sorted = results[v].OrderBy(x => x).ToList();
            Console.WriteLine(FormattableString.Invariant($"| {variants[v].Name} | {sorted[sorted.Count / 2]:F3} |"));
        }
        return 0;
    }

    /// <summary>Runs <paramref name="run"/> with the output layer's casts in libtorch, as before issue 16's managed glue.</summary>
    private static (double, double) LibTorchGlue(Func<(double, double)> run)
    {
        NextKOutputLayer.UseLibTorchGlue = true;
        try
        {
            return run();
        }
        finally
        {
            NextKOutputLayer.UseLibTorchGlue = false;
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
