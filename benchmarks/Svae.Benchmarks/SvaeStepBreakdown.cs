using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Microsoft.ML;
using Microsoft.ML.Svae;
using static TorchSharp.torch;

namespace Svae.Benchmarks;

/// <summary>
/// Where the time of one SVAE training step goes (issue 16), on the ML-1M-shaped synthetic training set with the
/// paper's network: each phase of a step timed on its own (forward, then backward from a fixed random gradient of the
/// phase's output), the whole step as the training loop runs it, batching and padding, and validation of one epoch.
/// </summary>
internal sealed class SvaeStepBreakdown : IBenchmark
{
    /// <summary>Wall time and this thread's CPU time since the last restart (CLOCK_THREAD_CPUTIME_ID; wall only elsewhere than Linux).</summary>
    internal sealed class PhaseClock
    {
        private readonly Stopwatch _wall = new();
        private double _cpuStart;

        [StructLayout(LayoutKind.Sequential)]
        private struct Timespec
        {
            public long Seconds;
            public long Nanoseconds;
        }

        [DllImport("libc", EntryPoint = "clock_gettime")]
        private static extern int ClockGetTime(int clock, out Timespec time);

        public static double ThreadCpuMs()
        {
            if (!OperatingSystem.IsLinux() || ClockGetTime(3, out var time) != 0)
                return double.NaN;
            return time.Seconds * 1e3 + time.Nanoseconds / 1e6;
        }

        public PhaseClock Restart()
        {
            _cpuStart = ThreadCpuMs();
            _wall.Restart();
            return this;
        }

        public (double Wall, double Cpu) Elapsed => (_wall.Elapsed.TotalMilliseconds, ThreadCpuMs() - _cpuStart);
    }

    public string Name => "svae-breakdown";

    public string Usage => "[--data ml-100k/u.data] [--steps N] [--batch-size B] [--order pooled|buckets] [--threads T] [--max-length L] [--seed S] [--gru fused|libtorch] [--set Name=Value]...: per-phase time of an SVAE training step (the GRU phases both ways, the whole step with --gru) and the padding share";

    public int Run(string[] args)
    {
        int steps = 40;
        int maxLength = 1000;
        int? batchSize = null;
        int? threads = null;
        int seed = 1;
        var order = BatchOrder.Pooled;
        bool wholeStepLibTorch = false;
        string? movieLens100K = null;
        var settings = new List<string>();
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--steps") steps = int.Parse(args[++i], CultureInfo.InvariantCulture);
            else if (args[i] == "--batch-size") batchSize = int.Parse(args[++i], CultureInfo.InvariantCulture);
            else if (args[i] == "--threads") threads = int.Parse(args[++i], CultureInfo.InvariantCulture);
            else if (args[i] == "--max-length") maxLength = int.Parse(args[++i], CultureInfo.InvariantCulture);
            else if (args[i] == "--seed") seed = int.Parse(args[++i], CultureInfo.InvariantCulture);
            else if (args[i] == "--order") order = args[++i] == "buckets" ? BatchOrder.LengthBuckets : BatchOrder.Pooled;
            else if (args[i] == "--data") movieLens100K = args[++i];
            else if (args[i] == "--set" && i + 1 < args.Length) settings.Add(args[++i]);
            else if (args[i] == "--gru" && i + 1 < args.Length && args[i + 1] is "fused" or "libtorch") wholeStepLibTorch = args[++i] == "libtorch";
            else { Console.Error.WriteLine($"usage: {Name} {Usage}"); return 2; }
        }
        if (threads is int t)
            set_num_threads(t);

        var ml = new MLContext(seed: 1);
        var data = movieLens100K is null
            ? ml.Recommendation().Data.PrepareSequences(
                ml.Recommendation().Data.GenerateSyntheticInteractions(SyntheticInteractionOptions.MovieLens1MShape()),
                SequenceProtocolOptions.MovieLens1M())
            : ml.Recommendation().Data.PrepareSequences(ml.Recommendation().Data.LoadMovieLens100K(movieLens100K),
                new SequenceProtocolOptions { RatingThreshold = 3, MinItemsPerUser = 5, ValidationUsers = 100, TestUsers = 100, Seed = seed, FoldSplit = FoldSplit.Temporal });
        var train = UserSequences.Read(data.Train, SequenceColumns.History, "history");
        var validationIn = UserSequences.Read(data.Validation, SequenceColumns.History, "history");
        var validationOut = UserSequences.Read(data.Validation, SequenceColumns.FoldOut, "fold-out");
        var options = new SvaeTrainer.Options { MaxHistoryLength = maxLength, BatchOrder = order };
        if (batchSize is int b)
            options.BatchSize = b;
        foreach (var setting in settings)
            SvaeTimeToQuality.Set(options, setting);

        Console.WriteLine($"training set: {train.Count:N0} users, {train.EventCount:N0} events, {train.ItemCount:N0} items; histories capped at {maxLength}");
        Console.WriteLine($"libtorch threads: {get_num_threads()} intra-op, {get_num_interop_threads()} inter-op; OMP_NUM_THREADS={Environment.GetEnvironmentVariable("OMP_NUM_THREADS") ?? "(unset)"}");
        Console.WriteLine($"users per step: {options.BatchSize}; batch order: {options.BatchOrder}; GRU of the whole step: {(wholeStepLibTorch ? "libtorch" : "fused")} (the GRU phases are timed both ways on each batch); training precision: {options.TrainingPrecision}; {string.Join(" ", settings)}");

        long budget = Math.Max(1, EpochRunner.DefaultLogitBudget / train.ItemCount);
        var batcher = new SequenceBatcher(train, options.BatchSize, budget, maxLength, length => SvaeObjective.Units(length) > 0, options.BatchOrder);
        var planWatch = new PhaseClock().Restart();
        var plan = batcher.Plan(new Random(seed));
        var planMs = planWatch.Elapsed;
        PrintPadding(batcher, plan);

        using var model = new SvaeModel(train, options, CPU);
        var network = model.Network;
        network.train();
        using var optimizer = ExplicitScalarAdam.Create(network.parameters(), options.LearningRate, options.WeightDecay, options.DecoupledWeightDecay);
        double normalizer = (double)batcher.PositionCount / batcher.Users.Count * options.BatchSize;

        var phases = new Dictionary<string, List<(double Wall, double Cpu)>>();
        void Add(string phase, (double Wall, double Cpu) ms)
        {
            if (!phases.TryGetValue(phase, out var list))
                phases[phase] = list = new List<(double, double)>();
            list.Add(ms);
        }

        const int warmUp = 3;
        steps = Math.Min(steps, plan.Count - warmUp);
        long timedPositions = 0, timedPadded = 0;
        var cpuStart = Process.GetCurrentProcess().TotalProcessorTime;
        var wallStart = Stopwatch.StartNew();
        for (int s = 0; s < steps + warmUp; s++)
        {
            bool record = s >= warmUp;
            var users = plan[s];
            using var scope = NewDisposeScope();
            var watch = new PhaseClock().Restart();
            var batch = batcher.Pack(users, CPU);
            var packMs = watch.Elapsed;

            // The whole step, as EpochRunner runs it.
            watch.Restart();
            network.zero_grad();                                 // as EpochRunner: set_to_none
            GruSequence.UseLibTorch = wholeStepLibTorch;
            var loss = model.Loss(batch, 0.1);
            var forwardMs = watch.Elapsed;
            watch.Restart();
            (loss / normalizer).backward();
            var backwardMs = watch.Elapsed;
            watch.Restart();
            optimizer.step();
            var stepMs = watch.Elapsed;

            // Each phase alone, on the same batch.
            var phaseTimes = Phases(network, batch, options.NextK, alternate: s % 2 == 0, options.TrainingPrecision);
            if (!record)
                continue;
            timedPositions += batch.Lengths.Sum();
            timedPadded += (long)batch.Count * batch.MaxLength;
            Add("batching + padding (Pack)", packMs);
            Add("batch planning (per step)", (planMs.Wall / plan.Count, planMs.Cpu / plan.Count));
            foreach (var (phase, ms) in phaseTimes)
                Add(phase, ms);
            Add("whole step: forward (loss)", forwardMs);
            Add("whole step: backward", backwardMs);
            Add("whole step: Adam step", stepMs);
            Add("whole step: total", (packMs.Wall + forwardMs.Wall + backwardMs.Wall + stepMs.Wall, packMs.Cpu + forwardMs.Cpu + backwardMs.Cpu + stepMs.Cpu));
        }
        double cpuSeconds = (Process.GetCurrentProcess().TotalProcessorTime - cpuStart).TotalSeconds;
        double wallSeconds = wallStart.Elapsed.TotalSeconds;

        // Validation of one epoch: the top-100 of every validation user, then the metrics.
        var validationWatch = new PhaseClock().Restart();
        var top = SequenceScoring.TopItems(model, validationIn, 100, CPU);
        var scoringMs = validationWatch.Elapsed;
        validationWatch.Restart();
        var metrics = RecommendationEvaluator.Compute(top, 100, validationIn, validationOut, [10, 100]);
        var metricsMs = validationWatch.Elapsed;

        // This machine's sgemm per CPU-second (one 2048² matmul on each libtorch thread's share): the compute floor
        // in CPU seconds, which the load of other processes changes less than wall seconds.
        using (var a = randn(2048, 2048))
        using (var m = randn(2048, 2048))
        {
            using (var warm = a.mm(m)) { }
            var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
            var sgemmWatch = Stopwatch.StartNew();
            const int repeats = 10;
            for (int r = 0; r < repeats; r++)
                using (var c = a.mm(m)) { }
            double flops = repeats * 2.0 * 2048 * 2048 * 2048;
            double sgemmCpu = (Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalSeconds;
            Console.WriteLine(FormattableString.Invariant(
                $"sgemm 2048²: {flops / sgemmWatch.Elapsed.TotalSeconds / 1e9:F1} GFLOP per wall second, {flops / sgemmCpu / 1e9:F1} GFLOP per CPU second"));
        }

        double total = phases["whole step: total"].Average(x => x.Cpu);
        Console.WriteLine();
        Console.WriteLine(FormattableString.Invariant(
            $"{steps} timed steps (after {warmUp} warm-up steps) of the seeded plan: {timedPositions:N0} positions, {timedPadded:N0} padded positions ({100.0 * (timedPadded - timedPositions) / timedPadded:F1}% padding); wall {wallSeconds:F1} s, CPU {cpuSeconds:F1} s (phases run twice: alone and in the whole step)"));
        Console.WriteLine("| phase | CPU ms per step (mean, this thread) | share of the whole step's CPU | wall ms per step (median) |");
        Console.WriteLine("| --- | ---: | ---: | ---: |");
        foreach (var (phase, list) in phases)
        {
            var wallSorted = list.Select(x => x.Wall).OrderBy(x => x).ToList();
            double cpu = list.Average(x => x.Cpu);
            Console.WriteLine(FormattableString.Invariant(
                $"| {phase} | {cpu:F2} | {100 * cpu / total:F1}% | {wallSorted[wallSorted.Count / 2]:F2} |"));
        }
        if (get_num_threads() > 1)
            Console.WriteLine("note: with more than one libtorch thread, the CPU column counts the calling thread only.");
        Console.WriteLine(FormattableString.Invariant(
            $"validation of one epoch ({validationIn.Count} users): scoring {scoringMs.Cpu:F0} ms CPU ({scoringMs.Wall:F0} ms wall), metrics {metricsMs.Cpu:F0} ms CPU ({metricsMs.Wall:F0} ms wall) (NDCG@100 {metrics.Ndcg(100):F4}); the epoch has {plan.Count} steps, the mean whole step × steps = {total * plan.Count / 1000:F1} s CPU"));
        return 0;
    }

    /// <summary>The padded share of the positions of one epoch's plan, over all batches and per batch.</summary>
    private static void PrintPadding(SequenceBatcher batcher, List<int[]> plan)
    {
        long positions = 0, padded = 0;
        var shares = new List<double>();
        foreach (var users in plan)
        {
            int longest = users.Max(batcher.Length);
            long valid = users.Sum(u => (long)batcher.Length(u));
            positions += valid;
            padded += (long)users.Length * longest;
            shares.Add(1 - (double)valid / ((long)users.Length * longest));
        }
        shares.Sort();
        Console.WriteLine(FormattableString.Invariant(
            $"epoch plan: {plan.Count} batches, {positions:N0} positions, {padded:N0} padded positions: {100.0 * (padded - positions) / padded:F1}% padding overall; per batch median {100 * shares[shares.Count / 2]:F1}%, p90 {100 * shares[(int)(shares.Count * 0.9)]:F1}%, max {100 * shares[^1]:F1}%"));
    }

    /// <summary>
    /// Each phase of SVAE's step on <paramref name="batch"/>, alone: forward, then backward from a fixed gradient
    /// of its output (inputs detached, so the backward of a phase stops at its input).
    /// </summary>
    private static List<(string Phase, (double Wall, double Cpu) Ms)> Phases(SvaeNetwork network, SequenceBatch batch, int nextK, bool alternate,
        TrainingPrecision precision)
    {
        var result = new List<(string, (double, double))>();
        using var scope = NewDisposeScope();
        long b = batch.Count, t = batch.MaxLength;
        var positions = arange(t, ScalarType.Int64);
        var unitMask = positions.unsqueeze(0) < (batch.LengthTensor - 1).unsqueeze(1);
        var units = unitMask.reshape(-1).nonzero().squeeze(1);
        long p = units.shape[0];

        // The GRU both ways on the same batch and the same gradient (libtorch's module, then the fused GRU), and
        // their difference; the whole step above used the path of --gru. Even steps run the fused GRU first.
        Tensor? grad = null;
        Tensor? states = null;
        var embeddingGradients = new Tensor[2];
        bool previousSetting = GruSequence.UseLibTorch;
        var ways = new[] { ("libtorch", true, 0), ("fused", false, 1) };
        if (alternate)
            Array.Reverse(ways);
        foreach (var (label, libtorch, index) in ways)
        {
            GruSequence.UseLibTorch = libtorch;
            network.itemEmbedding.weight!.grad?.zero_();
            // The same dropout masks both ways.
            using var masks = new Generator(unchecked((ulong)batch.MaxLength * 7919 + (ulong)batch.Count), CPU);
            network.NoiseGenerator = masks;
            var watch0 = new PhaseClock().Restart();
            var recurrent = network.Recurrent(batch.Items, precision);
            result.Add(($"embedding + GRU forward ({label}{(libtorch ? "" : ", " + precision)})", watch0.Elapsed));
            grad ??= randn_like(recurrent);
            watch0.Restart();
            recurrent.backward([grad]);
            result.Add(($"embedding + GRU backward ({label}{(libtorch ? "" : ", " + precision)})", watch0.Elapsed));
            embeddingGradients[index] = network.itemEmbedding.weight!.grad!.clone();
            if (states is not null)
            {
                double valueDifference = states.detach().sub(recurrent.detach()).abs().max().item<float>();
                double embeddingDifference = embeddingGradients[0].sub(embeddingGradients[1]).abs().max().item<float>();
                double gradientScale = embeddingGradients[0].abs().max().item<float>();
                if (precision == TrainingPrecision.Float32 && (valueDifference > 1e-5 || embeddingDifference > 1e-4 * Math.Max(1, gradientScale)))
                    Console.WriteLine(FormattableString.Invariant($"WARNING: fused GRU differs: outputs max abs {valueDifference:E2}, embedding gradient max abs {embeddingDifference:E2} (of {gradientScale:E2})"));
            }
            states = recurrent;
            network.NoiseGenerator = null;
        }
        GruSequence.UseLibTorch = previousSetting;
        var watch = new PhaseClock();

        var unitStates = states!.detach().reshape(b * t, network.RecurrentSize).index_select(0, units).requires_grad_();
        // The encoder and the latent composed of libtorch operations (before), then as training runs them (the fused
        // sample and KL on the CPU, GaussianLatent.SampleWithKl).
        watch.Restart();
        var (mean, logVariance) = network.Encode(unitStates);
        var composedZ = network.Sample(mean, logVariance);
        var composedKl = GaussianLatent.KlDivergence(mean, logVariance).sum();
        var encodeMs = watch.Elapsed;
        var zGrad = randn_like(composedZ);
        watch.Restart();
        TorchSharp.torch.autograd.backward([composedZ, composedKl], [zGrad, ones_like(composedKl)]);
        result.Add(("encoder + sampling + KL forward (composed)", encodeMs));
        result.Add(("encoder + sampling + KL backward (composed)", watch.Elapsed));
        watch.Restart();
        var (z, kl) = network.SampleWithKl(unitStates);
        encodeMs = watch.Elapsed;
        watch.Restart();
        TorchSharp.torch.autograd.backward([z, kl], [zGrad, ones_like(kl)]);
        result.Add(("encoder + sampling + KL forward (fused)", encodeMs));
        result.Add(("encoder + sampling + KL backward (fused)", watch.Elapsed));

        var zIn = z.detach().requires_grad_();
        watch.Restart();
        var logits = network.Decode(zIn);
        result.Add(("decoder (tanh layer + [P×150]·[150×N] matmul) forward", watch.Elapsed));
        var logitGrad = randn_like(logits);
        watch.Restart();
        logits.backward([logitGrad]);
        result.Add(("decoder backward", watch.Elapsed));

        var padded = cat(new[] { batch.Items, zeros(b, nextK, ScalarType.Int64) }, 1);
        var targets = padded.unfold(1, nextK, 1).narrow(1, 1, t).reshape(b * t, nextK).index_select(0, units);
        var offsets = arange(1, nextK + 1, ScalarType.Int64);
        var mask = ((positions.view(1, t, 1) + offsets.view(1, 1, nextK)) < batch.LengthTensor.view(b, 1, 1))
            .reshape(b * t, nextK).index_select(0, units);
        var weights = mask.to(ScalarType.Float32);

        var old = logits.detach().requires_grad_();
        watch.Restart();
        var logProbabilities = old.log_softmax(1);
        var gathered = logProbabilities.gather(1, targets);
        var nllOld = -((gathered * weights).sum(1) / weights.sum(1)).sum();
        result.Add(("log-softmax + gather forward (before)", watch.Elapsed));
        watch.Restart();
        nllOld.backward();
        result.Add(("log-softmax + gather backward (before)", watch.Elapsed));

        var fused = logits.detach().requires_grad_();
        watch.Restart();
        var nllNew = NextKTargets.MultiSetNll(fused, targets, weights);
        result.Add(("fused next-k cross-entropy forward (after)", watch.Elapsed));
        watch.Restart();
        nllNew.backward();
        result.Add(("fused next-k cross-entropy backward (after)", watch.Elapsed));
        double difference = Math.Abs(nllNew.item<float>() - nllOld.item<float>()) / Math.Max(1e-12, Math.Abs(nllOld.item<float>()));
        double gradientDifference = (fused.grad!.sub(old.grad!)).abs().max().item<float>();
        if (difference > 1e-5 || gradientDifference > 1e-5)
            Console.WriteLine(FormattableString.Invariant($"WARNING: fused loss differs: relative {difference:E2}, gradient max abs {gradientDifference:E2} ({p} units)"));

        // The decoder's output layer and the loss as one function (Layers/NextKOutputLayer.cs: the products and one managed
        // pass over the logits on the CPU; the whole step's path in both formats), both number formats, from the same decoder
        // activations; compare with the decoder's output layer + the fused loss above (libtorch's elementwise kernels).
        var hidden = network.DecodeHidden(zIn).detach();
        var output = network.decoderOut;
        var orders = alternate ? new[] { TrainingPrecision.BFloat16, TrainingPrecision.Float32 } : new[] { TrainingPrecision.Float32, TrainingPrecision.BFloat16 };
        foreach (var format in orders)
        {
            var input = hidden.detach().requires_grad_();
            output.weight!.grad?.zero_();
            watch.Restart();
            var nllLayer = NextKOutputLayer.MultiSetNll(input, output.weight!, output.bias!, targets, weights, format);
            result.Add(($"output layer + next-k loss, products + one pass ({format}) forward", watch.Elapsed));
            watch.Restart();
            nllLayer.backward();
            result.Add(($"output layer + next-k loss, products + one pass ({format}) backward", watch.Elapsed));
            double layerDifference = Math.Abs(nllLayer.item<float>() - nllNew.item<float>()) / Math.Max(1e-12, Math.Abs(nllNew.item<float>()));
            if (format == TrainingPrecision.Float32 ? layerDifference > 1e-5 : layerDifference > 1e-2)
                Console.WriteLine(FormattableString.Invariant($"WARNING: the output layer + loss ({format}) differs from the decoder + fused loss: relative {layerDifference:E2}"));
        }
        return result;
    }
}
