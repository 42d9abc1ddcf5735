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

    public string Usage => "[--rows P] [--inner D] [--items N] [--k K] [--repeats R] [--glue] [--dropout B,T,E]: CPU ms of the output layer + next-k loss's parts, float32 and bfloat16 (--glue: the per-step glue around the products instead; --dropout: SVAE's embedding dropout at [B, T, E], libtorch's composition against the managed pass)";

    public int Run(string[] args)
    {
        int rows = 912, inner = 150, items = 3706, k = 4, repeats = 20;
        bool glue = false;
        long[]? dropout = null;
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--rows") rows = int.Parse(args[++i], CultureInfo.InvariantCulture);
            else if (args[i] == "--inner") inner = int.Parse(args[++i], CultureInfo.InvariantCulture);
            else if (args[i] == "--items") items = int.Parse(args[++i], CultureInfo.InvariantCulture);
            else if (args[i] == "--k") k = int.Parse(args[++i], CultureInfo.InvariantCulture);
            else if (args[i] == "--repeats") repeats = int.Parse(args[++i], CultureInfo.InvariantCulture);
            else if (args[i] == "--glue") glue = true;
            else if (args[i] == "--dropout") dropout = args[++i].Split(',').Select(v => long.Parse(v, CultureInfo.InvariantCulture)).ToArray();
            else { Console.Error.WriteLine($"usage: {Name} {Usage}"); return 2; }
        }
        if (dropout is not null)
            return Dropout(dropout, repeats);
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
    /// float32, the bfloat16 casts of the weight and the activations, the backward's bfloat16 products with and without
    /// their cast to float32 and scaling by g, and a fresh float32 [P × N] buffer filled (allocation and page faults).
    /// </summary>
    private static int Glue(Tensor hidden, Tensor weight, int repeats)
    {
        long rows = hidden.shape[0], items = weight.shape[0];
        using var left = BFloat16Rows.Copy(hidden);
        using var right = weight.to(ScalarType.BFloat16);
        using var keptReduced = empty(new[] { left.shape[0], items }, ScalarType.BFloat16);
        using var keptSingle = empty(new[] { rows, items });
        using var gradient = left.mm(right.t());
        using var scale = tensor(0.37f);
        using var hiddenProduct = gradient.mm(right);
        using var weightProduct = gradient.t().mm(left);
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
            ("∂a's product kept: narrow, to(float32), mul_(g)", () => Timed(() => hiddenProduct.narrow(0, 0, rows).to(ScalarType.Float32).mul_(scale))),
            ("∂W's product kept: to(float32), mul_(g)", () => Timed(() => weightProduct.to(ScalarType.Float32).mul_(scale))),
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

    /// <summary>
    /// SVAE's embedding dropout (rate 0.2) on <c>[B, T, E]</c> input that needs a gradient: forward, and backward from a given
    /// gradient, libtorch's composition (rand, ge, to, mul, div) against the managed pass (the same rand, then one pass each
    /// way); CPU ms of this thread, medians, in alternating order.
    /// </summary>
    private static int Dropout(long[] shape, int repeats)
    {
        Console.WriteLine($"dropout on [{string.Join(", ", shape)}], rate 0.2; libtorch threads {get_num_threads()}");
        using var generator = new Generator(1, CPU);
        using var values = randn(shape, generator: generator);
        using var outputGradient = randn(shape, generator: generator);
        var variants = new (string Name, Func<Tensor, Tensor> Apply)[]
        {
            ("libtorch composition", input => SeededDropout.Composed(input, 0.2, generator)),
            ("SeededDropout.Apply (managed pass)", input => SeededDropout.Apply(input, 0.2, generator)),
        };
        var results = variants.Select(_ => (Forward: new List<double>(), Backward: new List<double>())).ToArray();
        for (int repeat = 0; repeat < repeats + 3; repeat++)
        {
            for (int v = 0; v < variants.Length; v++)
            {
                int index = repeat % 2 == 0 ? v : variants.Length - 1 - v;
                using var scope = NewDisposeScope();
                var input = values.detach().requires_grad_();
                double start = SvaeStepBreakdown.PhaseClock.ThreadCpuMs();
                var output = variants[index].Apply(input);
                double middle = SvaeStepBreakdown.PhaseClock.ThreadCpuMs();
                output.backward([outputGradient]);
                double end = SvaeStepBreakdown.PhaseClock.ThreadCpuMs();
                if (repeat >= 3)
                {
                    results[index].Forward.Add(middle - start);
                    results[index].Backward.Add(end - middle);
                }
            }
        }
        Console.WriteLine("| variant | forward CPU ms (median) | backward | total |");
        Console.WriteLine("| --- | ---: | ---: | ---: |");
        for (int v = 0; v < variants.Length; v++)
        {
            double Median(List<double> list) { var sorted = list.OrderBy(x => x).ToList(); return sorted[sorted.Count / 2]; }
            double forward = Median(results[v].Forward), backward = Median(results[v].Backward);
            Console.WriteLine(FormattableString.Invariant($"| {variants[v].Name} | {forward:F3} | {backward:F3} | {forward + backward:F3} |"));
        }
        return 0;
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
