using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using Microsoft.ML;
using Microsoft.ML.Svae;

namespace Svae.Benchmarks;

/// <summary>
/// Issue 12: many short trainings of every neural model under garbage-collector pressure, to show whether TorchSharp's
/// implicit Scalars (freed by the finalizer while libtorch reads them) still break training, with the no-GC-region guard
/// on and off. The trainings run in child processes (a batch each) so that a native crash is seen as an exit code
/// rather than ending the benchmark; each child trains in-process and reports every training's outcome.
/// </summary>
internal sealed class NativeStressBenchmark : IBenchmark
{
    private const string GuardVariable = "MLNET_SVAE_DISABLE_NATIVE_CALL_GUARD";

    private static readonly string[] Models =
    [
        "SVAE", "MVAE", "RVAE", "BPR", "FPMC", "Caser", "GRU4Rec", "SASRec",
        "SeqVAE-GlobalLatent", "SeqVAE-LatentInRecurrence", "SeqVAE-LearnedPrior", "SeqVAE-GlobalRecurrence",
    ];

    public string Name => "stress";

    public string Usage => "[--trainings N] [--per-process M] [--guard on|off|both] [--gen0size HEX|none] [--no-gc-thread]: N short " +
        "trainings of all neural models per guard setting, M per child process, under GC pressure; counts failures and crashes";

    public int Run(string[] args)
    {
        int trainings = 200, perProcess = 25, first = 0;
        string guard = "both", gen0size = "0x10000";
        bool child = false, gcThread = true;
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--trainings" && i + 1 < args.Length) trainings = int.Parse(args[++i], CultureInfo.InvariantCulture);
            else if (args[i] == "--per-process" && i + 1 < args.Length) perProcess = int.Parse(args[++i], CultureInfo.InvariantCulture);
            else if (args[i] == "--guard" && i + 1 < args.Length) guard = args[++i];
            else if (args[i] == "--gen0size" && i + 1 < args.Length) gen0size = args[++i];
            else if (args[i] == "--no-gc-thread") gcThread = false;
            else if (args[i] == "--child-first" && i + 1 < args.Length) { child = true; first = int.Parse(args[++i], CultureInfo.InvariantCulture); }
            else
            {
                Console.Error.WriteLine($"unknown argument '{args[i]}'; usage: stress {Usage}");
                return 2;
            }
        }
        if (child)
            return RunChild(first, perProcess, gcThread);
        if (guard is not ("on" or "off" or "both") || trainings < 1 || perProcess < 1)
        {
            Console.Error.WriteLine($"usage: stress {Usage}");
            return 2;
        }

        Console.WriteLine($"{trainings} trainings per setting ({string.Join(", ", Models)} in turn, 2 epochs on tiny synthetic data), " +
                          $"{perProcess} per child process; children run with {(gen0size == "none" ? "the default gen0 size" : $"DOTNET_GCgen0size={gen0size}")}, " +
                          $"OMP_NUM_THREADS=1{(gcThread ? " and a thread calling GC.Collect() in a loop" : ", no GC.Collect() thread")}");
        int failed = 0;
        foreach (bool guardOn in guard == "both" ? new[] { true, false } : new[] { guard == "on" })
            failed += RunSetting(guardOn, trainings, perProcess, gen0size, gcThread);
        return failed == 0 ? 0 : 1;
    }

    /// <summary>Runs the trainings of one guard setting in child processes; prints and returns the failures and crashes.</summary>
    private static int RunSetting(bool guardOn, int trainings, int perProcess, string gen0size, bool gcThread)
    {
        var watch = Stopwatch.StartNew();
        int ok = 0, exceptions = 0, crashes = 0, lost = 0;
        var perModel = Models.ToDictionary(m => m, _ => 0);
        var messages = new Dictionary<string, int>();
        for (int start = 0; start < trainings; start += perProcess)
        {
            int count = Math.Min(perProcess, trainings - start);
            var (exitCode, lines, error) = RunChildProcess(guardOn, start, count, gen0size, gcThread);
            int reported = 0;
            foreach (var line in lines.Where(l => l.StartsWith("RESULT ", StringComparison.Ordinal)))
            {
                var parts = line.Split(' ', 5);
                reported++;
                if (parts[3] == "ok")
                {
                    ok++;
                    continue;
                }
                exceptions++;
                perModel[parts[2]]++;
                string message = parts.Length > 4 ? parts[4] : "";
                messages[message] = messages.GetValueOrDefault(message) + 1;
            }
            if (exitCode != 0)
            {
                crashes++;
                lost += count - reported;
                string last = error.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault() ?? "";
                Console.WriteLine($"  child for trainings {start}..{start + count - 1} exited with code {exitCode} after {reported} results: {last}");
            }
        }
        Console.WriteLine(FormattableString.Invariant(
            $"guard {(guardOn ? "ON " : "OFF")}: {trainings} trainings: {ok} ok, {exceptions} exceptions, {crashes} crashed child processes ({lost} trainings not run or not reported); {watch.Elapsed.TotalSeconds:F0} s"));
        if (exceptions > 0)
        {
            Console.WriteLine("  exceptions per model: " + string.Join(", ", perModel.Where(p => p.Value > 0).Select(p => $"{p.Key} {p.Value}")));
            foreach (var (message, n) in messages.OrderByDescending(p => p.Value))
                Console.WriteLine($"  {n} × {message}");
        }
        return exceptions + crashes;
    }

    private static (int ExitCode, List<string> Lines, string Error) RunChildProcess(bool guardOn, int first, int count, string gen0size, bool gcThread)
    {
        var info = new ProcessStartInfo(Environment.ProcessPath!)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath!) == "dotnet")
            info.ArgumentList.Add(Assembly.GetEntryAssembly()!.Location);
        foreach (var a in new[] { "stress", "--child-first", first.ToString(CultureInfo.InvariantCulture), "--per-process", count.ToString(CultureInfo.InvariantCulture) })
            info.ArgumentList.Add(a);
        if (!gcThread)
            info.ArgumentList.Add("--no-gc-thread");
        if (gen0size != "none")
            info.Environment["DOTNET_GCgen0size"] = gen0size;
        info.Environment["OMP_NUM_THREADS"] = "1";
        info.Environment["MKL_NUM_THREADS"] = "1";
        info.Environment[GuardVariable] = guardOn ? "0" : "1";
        using var process = Process.Start(info)!;
        var error = process.StandardError.ReadToEndAsync();
        var lines = new List<string>();
        while (process.StandardOutput.ReadLine() is { } line)
        {
            lines.Add(line);
            if (line.StartsWith("RESULT ", StringComparison.Ordinal) && !line.Contains(" ok ", StringComparison.Ordinal))
                Console.WriteLine("  " + line);
        }
        process.WaitForExit();
        return (process.ExitCode, lines, error.Result);
    }

    /// <summary>The child: trainings first .. first + count − 1, each reported on one line, under GC pressure.</summary>
    private static int RunChild(int first, int count, bool gcThread)
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Recommendation().Data.PrepareSequences(
            ml.Recommendation().Data.GenerateSyntheticInteractions(new SyntheticInteractionOptions
            {
                Users = 90, Items = 60, MeanHistoryLength = 14, MinHistoryLength = 8, MaxHistoryLength = 40, Genres = 4, Seed = 11,
            }),
            new SequenceProtocolOptions { ValidationUsers = 10, TestUsers = 10 });

        using var stop = new CancellationTokenSource();
        var pressure = new Thread(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                GC.Collect();
                Thread.Yield();
            }
        }) { IsBackground = true, Name = "GC pressure" };
        if (gcThread)
            pressure.Start();
        try
        {
            for (int i = first; i < first + count; i++)
            {
                string model = Models[i % Models.Length];
                try
                {
                    var losses = Train(ml, model, i, data.Train, data.Validation);
                    Console.WriteLine($"RESULT {i} {model} ok {losses}");
                }
                catch (Exception e)
                {
                    var inner = e;
                    while (inner.InnerException is not null && inner is not System.Runtime.InteropServices.ExternalException)
                        inner = inner.InnerException;
                    string message = inner.Message.Split('\n')[0].Trim();
                    Console.WriteLine($"RESULT {i} {model} FAIL {inner.GetType().Name}: {message}");
                }
            }
        }
        finally
        {
            stop.Cancel();
            if (gcThread)
                pressure.Join();
        }
        return 0;
    }

    /// <summary>
    /// One short training (2 epochs, small network); returns the epochs' training losses (round-trip format). Odd rounds
    /// of the models take the other code paths: AdamW, SVAE's mixture likelihood, RVAE's popularity negatives,
    /// SASRec's sampled loss, the sequential VAEs' next-1 likelihood and embedding dropout.
    /// </summary>
    private static string Train(MLContext ml, string model, int seed, IDataView train, IDataView validation)
    {
        var trainers = ml.Recommendation().Trainers;
        bool other = seed / Models.Length % 2 == 1;
        T Small<T>(T options) where T : SequenceTrainerOptions
        {
            options.NumberOfEpochs = 2;
            options.BatchSize = 8;
            options.Seed = seed;
            options.EarlyStoppingPatience = 0;
            if (other)
            {
                options.DecoupledWeightDecay = true;
                options.WeightDecay = 1e-3;
            }
            return options;
        }
        IReadOnlyList<TrainingEpoch> history = model switch
        {
            "SVAE" => Fit(trainers.Svae(Small(new SvaeTrainer.Options
            {
                EmbeddingSize = 8, RecurrentSize = 8, EncoderSize = 8, LatentSize = 4, DecoderSize = 8, NextK = 2,
                Likelihood = other ? NextKLikelihood.Mixture : NextKLikelihood.MultiSet,
            }))),
            "MVAE" => Fit(trainers.Mvae(Small(new MvaeTrainer.Options { EncoderSize = 16, LatentSize = 4, DecoderSize = 16 }))),
            "RVAE" => Fit(trainers.Rvae(Small(new RvaeTrainer.Options
            {
                EmbeddingSize = 8, EncoderSize = 8, LatentSize = 4,
                NegativeSampling = other ? RvaeNegativeSampling.Popularity : RvaeNegativeSampling.Uniform,
            }))),
            "BPR" => Fit(trainers.Bpr(Small(new BprTrainer.Options { EmbeddingSize = 8 }))),
            "FPMC" => Fit(trainers.Fpmc(Small(new FpmcTrainer.Options { EmbeddingSize = 8 }))),
            "Caser" => Fit(trainers.Caser(Small(new CaserTrainer.Options { EmbeddingSize = 8, SequenceLength = 3, TargetLength = 2, HorizontalFilters = 2, VerticalFilters = 2 }))),
            "GRU4Rec" => Fit(trainers.Gru4Rec(Small(new Gru4RecTrainer.Options { EmbeddingSize = 8, RecurrentSize = 8 }))),
            "SASRec" => Fit(trainers.Sasrec(Small(new SasrecTrainer.Options
            {
                EmbeddingSize = 8, NumberOfBlocks = 1, NumberOfHeads = 2,
                Loss = other ? NextItemLoss.SampledBinaryCrossEntropy : NextItemLoss.CrossEntropy,
            }))),
            _ when model.StartsWith("SeqVAE-", StringComparison.Ordinal) => Fit(trainers.SequentialVae(Small(new SequentialVaeTrainer.Options
            {
                Variant = Enum.Parse<SequentialVaeVariant>(model["SeqVAE-".Length..]),
                EmbeddingSize = 8, RecurrentSize = 8, EncoderSize = 8, LatentSize = 4, DecoderSize = 8,
                NextK = other ? 1 : 2, DropoutRate = other ? 0.2 : 0,
            }))),
            _ => throw new ArgumentOutOfRangeException(nameof(model)),
        };
        return string.Join(",", history.Select(e => e.TrainingLoss.ToString("R", CultureInfo.InvariantCulture)));

        IReadOnlyList<TrainingEpoch> Fit<TTransformer>(RecommendationTrainerBase<TTransformer> trainer)
            where TTransformer : TrainedRecommendationTransformer
        {
            using var fitted = trainer.Fit(train, validation);
            return fitted.TrainingHistory.ToArray();
        }
    }
}
