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

        void Time(string name, Action op)
        {
            for (int i = 0; i < 3; i++)
                op();
            var ms = new List<double>();
            for (int i = 0; i < repeats; i++)
            {
                double start = SvaeStepBreakdown.PhaseClock.ThreadCpuMs();
                op();
                ms.Add(SvaeStepBreakdown.PhaseClock.ThreadCpuMs() - start);
            }
            ms.Sort();
            Console.WriteLine(FormattableString.Invariant($"{name,-58} {ms.Average(),8:F2} CPU ms mean {ms[ms.Count / 2],8:F2} median"));
        }

        for (int round = 0; round < 2; round++)
        {
            foreach (var precision in new[] { TrainingPrecision.Float32, TrainingPrecision.BFloat16 })
            {
                if (precision == TrainingPrecision.Float32)
                    Time("float32 product h·Wᵀ alone", () => { using var scope = NewDisposeScope(); hidden.mm(weight.detach().t()); });
                else
                    Time("bfloat16 copies + product alone", () =>
                    {
                        using var scope = NewDisposeScope();
                        var left = BFloat16Rows.Copy(hidden);
                        left.mm(weight.detach().to(ScalarType.BFloat16).t());
                    });
                Time($"{precision}: loss only (no_grad: product + pass without gradient)", () =>
                {
                    using var scope = NewDisposeScope();
                    using var noGrad = no_grad();
                    NextKOutputLayer.MultiSetNll(hidden, weight, bias, targets, weights, precision);
                });
                Time($"{precision}: forward (product + pass)", () =>
                {
                    using var scope = NewDisposeScope();
                    var input = hidden.detach().requires_grad_();
                    NextKOutputLayer.MultiSetNll(input, weight, bias, targets, weights, precision);
                    // (the graph goes with the scope, unused)
                });
                double forward = 0, backward = 0;
                var forwards = new List<double>();
                var backwards = new List<double>();
                for (int i = 0; i < repeats + 3; i++)
                {
                    using var scope = NewDisposeScope();
                    var input = hidden.detach().requires_grad_();
                    double start = SvaeStepBreakdown.PhaseClock.ThreadCpuMs();
                    var loss = NextKOutputLayer.MultiSetNll(input, weight, bias, targets, weights, precision);
                    double middle = SvaeStepBreakdown.PhaseClock.ThreadCpuMs();
                    loss.backward();
                    double end = SvaeStepBreakdown.PhaseClock.ThreadCpuMs();
                    if (i >= 3)
                    {
                        forwards.Add(middle - start);
                        backwards.Add(end - middle);
                    }
                    weight.grad!.zero_();
                    bias.grad!.zero_();
                }
                forward = forwards.Average();
                backward = backwards.Average();
                Console.WriteLine(FormattableString.Invariant($"{precision + ": forward + backward, forward",-58} {forward,8:F2} CPU ms mean; backward {backward,8:F2}"));
            }
            var libForwards = new List<double>();
            var libBackwards = new List<double>();
            for (int i = 0; i < repeats + 3; i++)
            {
                using var scope = NewDisposeScope();
                var input = hidden.detach().requires_grad_();
                double start = SvaeStepBreakdown.PhaseClock.ThreadCpuMs();
                var loss = NextKTargets.MultiSetNll(bias.addmm(input, weight.t()), targets, weights);
                double middle = SvaeStepBreakdown.PhaseClock.ThreadCpuMs();
                loss.backward();
                double end = SvaeStepBreakdown.PhaseClock.ThreadCpuMs();
                if (i >= 3)
                {
                    libForwards.Add(middle - start);
                    libBackwards.Add(end - middle);
                }
                weight.grad!.zero_();
                bias.grad!.zero_();
            }
            Console.WriteLine(FormattableString.Invariant($"{"libtorch (addmm, then NextKTargets' fused loss), forward",-58} {libForwards.Average(),8:F2} CPU ms mean; backward {libBackwards.Average(),8:F2}"));
        }
        return 0;
    }
}
