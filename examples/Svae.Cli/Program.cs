using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Svae;
using Svae.Cli;
using Svae.Examples;

// svae: reproduce the paper's study, print Table 1, sweep hyperparameters, score with a saved model.
return Cli.Run(args);

namespace Svae.Cli
{
    internal static class Cli
    {
        public static RootCommand Build()
        {
            var root = new RootCommand("MLNet.Svae: sequential variational autoencoders for collaborative filtering (Sachdeva et al., WSDM 2019) on ML.NET.");
            root.Subcommands.Add(Reproduce());
            root.Subcommands.Add(Stats());
            root.Subcommands.Add(Split());
            root.Subcommands.Add(Sweep());
            root.Subcommands.Add(Score());
            root.Options.Add(VerboseOption);
            root.Subcommands.Add(OnnxExport.Command());
            return root;
        }

        /// <summary>
        /// Parses and runs a command line. An error the user can fix (a bad option name or value, an unreadable or
        /// corrupt input, data too small for the protocol, an unwritable output folder) prints one line
        /// <c>svae: error: ...</c> on <paramref name="error"/> and returns 2; an unexpected internal error prints one
        /// line too and returns 3, with the stack trace when <c>--verbose</c> is given.
        /// </summary>
        public static int Run(string[] args, TextWriter? output = null, TextWriter? error = null)
        {
            output ??= Console.Out;
            error ??= Console.Error;
            var parse = Build().Parse(args);
            if (parse.Errors.Count > 0)
            {
                error.WriteLine(CliErrors.Prefix + CliErrors.OneLine(string.Join(" ", parse.Errors.Select(e => CliErrors.Readable(e.Message)))) + " (see svae --help)");
                return CliErrors.UsageExitCode;
            }
            bool verbose = parse.GetValue(VerboseOption);
            try
            {
                return parse.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false, Output = output, Error = error });
            }
            catch (Exception e) when (CliErrors.UserMessage(e) is string message)
            {
                error.WriteLine(CliErrors.Prefix + CliErrors.OneLine(message));
                if (verbose) error.WriteLine(e);
                return CliErrors.UsageExitCode;
            }
            catch (Exception e)
            {
                var inner = CliErrors.Unwrap(e);
                error.WriteLine(CliErrors.Prefix + $"internal error, {inner.GetType().Name}: {CliErrors.OneLine(inner.Message)}" +
                    (verbose ? "" : " (run with --verbose for the stack trace)"));
                if (verbose) error.WriteLine(e);
                return CliErrors.InternalExitCode;
            }
        }

        private static readonly Option<bool> VerboseOption = new("--verbose") { Description = "Show the stack trace of an error.", Recursive = true };

        // Options shared by the commands that read a data set.
        private static readonly Option<string?> DataOption = new("--data") { Description = "Ratings file or folder (MovieLens ratings.dat / u.data / ratings.csv, Netflix training_set). Default: the built-in synthetic data set." };
        private static readonly Option<string?> FormatOption = new("--format") { Description = "ml-1m, ml-100k, ml-csv, netflix or synthetic (guessed from the file name when omitted)." };
        private static readonly Option<string?> DownloadOption = new("--download") { Description = "ml-1m or ml-100k: fetch the GroupLens archive into the cache (once), verify its SHA-256, and use it." };
        private static readonly Option<string> CacheOption = new("--cache") { Description = "Download cache folder.", DefaultValueFactory = _ => Downloads.DefaultCache() };
        private static readonly Option<bool> FullSyntheticOption = new("--full-synthetic") { Description = "Without --data: the synthetic data set of MovieLens-1M's shape instead of the quick small one." };
        private static readonly Option<bool> PlainOption = new("--plain") { Description = "Plain log lines instead of a live progress display (also when output is redirected or CI is set)." };

        private static void AddDataOptions(Command command)
        {
            foreach (var option in new Option[] { DataOption, FormatOption, DownloadOption, CacheOption, FullSyntheticOption, PlainOption })
                command.Options.Add(option);
        }

        private static (IDataView Interactions, string Name, string Format) LoadData(MLContext ml, ParseResult parse, TextWriter log)
        {
            string? path = parse.GetValue(DataOption);
            string? format = parse.GetValue(FormatOption);
            if (parse.GetValue(DownloadOption) is string download)
            {
                if (!Downloads.Known.TryGetValue(download, out var source))
                    throw new ArgumentException($"Unknown --download '{download}': use {string.Join(" or ", Downloads.Known.Keys)}.");
                using var http = new HttpClient();
                path = Downloads.EnsureAsync(source, parse.GetValue(CacheOption)!, http, log).GetAwaiter().GetResult();
                format = source.Format;
            }
            var (interactions, name) = DataSources.Load(ml, path, format, small: path is null && !parse.GetValue(FullSyntheticOption));
            return (interactions, name, path is null ? "synthetic" : format ?? name);
        }

        private static Command Reproduce()
        {
            var models = new Option<string>("--models") { Description = "Comma-separated models (default: the models of Table 2; add GRU4Rec, SASRec, SeqVAE-<Variant> by name; '<model>+fold-in' runs a history-only model on the held-out users' fold-ins too, the row --history-models-also-on-fold-in adds).", DefaultValueFactory = _ => string.Join(",", ModelRegistry.Table2.Select(m => m.Name)) };
            var seeds = new Option<string>("--seeds") { Description = "Comma-separated seeds of the user split; metrics are averaged over them.", DefaultValueFactory = _ => "98765" };
            var validationUsers = new Option<int?>("--validation-users") { Description = "Held-out validation users (default: 750 on ML-1M, else 100)." };
            var testUsers = new Option<int?>("--test-users") { Description = "Held-out test users (default: 750 on ML-1M, else 100)." };
            var epochs = new Option<int?>("--epochs") { Description = "Override every neural model's number of epochs." };
            var kValues = new Option<string>("--k-values") { Description = "Values of k for fig. 5 (SVAE trained once per k, on the first split), e.g. 1-10; 'none' skips it.", DefaultValueFactory = _ => "1-10" };
            var output = new Option<string>("--output") { Description = "Folder for results.md, results.csv, the figures and the models.", DefaultValueFactory = _ => "results" };
            var saveModels = new Option<bool>("--save-models") { Description = "Also save each model of the first split as <model>.zip." };
            var set = new Option<string[]>("--set") { Description = "Name=Value: set an Options property of every model that has it (e.g. --set LearningRate=0.003 --set BatchSize=8).", AllowMultipleArgumentsPerToken = false };
            var checkpoint = new Option<string?>("--checkpoint") { Description = "Folder for training checkpoints (one sub-folder per model and split): written every epoch; a run started again with the same folder, data and options resumes where it stopped." };
            var protocol = new Option<string>("--protocol") { Description = "paper (held-out users, 80/20 fold-in/fold-out) or leave-one-out (every user's last event is the test target, the one before it the validation target; each seed is then the models' training seed).", DefaultValueFactory = _ => "paper" };
            var sequentialVaes = new Option<bool>("--variants") { Description = "Also run the four sequential VAEs of section 4.3.2 (fig. 2a-d): " + string.Join(", ", ModelRegistry.SequentialVaes.Select(m => m.Name)) + "." };
            var foldInVariants = new Option<bool>("--history-models-also-on-fold-in") { Description = "Under the paper's protocol, also train every model that trains on the training users only (POP, RVAE, MVAE, SVAE, GRU4Rec, SASRec) on the held-out users' fold-ins too, as BPR*, FPMC and Caser are (never the fold-outs); reported as extra '<model>+fold-in' rows." };
            var command = new Command("reproduce", "Run the models of Table 2 (and GRU4Rec, SASRec) under the paper's protocol or leave-one-out and write results.md, results.csv and figures 4-6.")
            {
                models, seeds, validationUsers, testUsers, epochs, kValues, output, saveModels, set, checkpoint, protocol, foldInVariants,
                sequentialVaes,
            };
            AddDataOptions(command);
            command.SetAction(parse =>
            {
                var ml = new MLContext(seed: 1);
                var display = new ProgressDisplay(ml, parse.GetValue(PlainOption));
                var clock = Stopwatch.StartNew();
                // Arguments are checked before any data is read or model trained.
                var entries = parse.GetValue(models)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(ModelRegistry.Find).ToList();
                if (entries.Count == 0)
                    throw new CliException($"--models names no model. Known models: {string.Join(", ", ModelRegistry.All.Select(m => m.Name))}.");
                if (parse.GetValue(sequentialVaes))
                    entries.AddRange(ModelRegistry.SequentialVaes.Where(v => !entries.Contains(v)));
                var split = DataSources.ParseProtocol(parse.GetValue(protocol)!);
                if (split == SequenceSplit.LeaveOneOut && entries.FirstOrDefault(e => e.Name.EndsWith(ModelRegistry.FoldInSuffix, StringComparison.Ordinal)) is { } foldInEntry)
                    throw new CliException($"--models {foldInEntry.Name} applies to --protocol paper only: under leave-one-out every user already trains on all but the two targets.");
                if (parse.GetValue(foldInVariants))
                {
                    if (split == SequenceSplit.LeaveOneOut)
                        throw new CliException("--history-models-also-on-fold-in applies to --protocol paper only: under leave-one-out every user already trains on all but the two targets.");
                    entries = ModelRegistry.WithFoldInVariants(entries);
                }
                var splitSeeds = ParseInts(parse.GetValue(seeds)!, "--seeds");
                var ks = ParseRange(parse.GetValue(kValues)!, "--k-values");
                var overrides = ParseOverrides(parse.GetValue(set));
                ModelRegistry.CheckOverrides(overrides, entries);
                if (parse.GetValue(epochs) is < 1)
                    throw new CliException($"--epochs must be at least 1 (got {parse.GetValue(epochs)}).");
                NotNegative(parse.GetValue(validationUsers), "--validation-users");
                NotNegative(parse.GetValue(testUsers), "--test-users");
                string outputDir = OutputFolder(parse.GetValue(output)!);
                string? checkpointRoot = parse.GetValue(checkpoint) is { } checkpointPath ? CheckpointRoot(checkpointPath) : null;
                var (interactions, name, format) = LoadData(ml, parse, display.Writer);
                bool small = format == "synthetic" && !parse.GetValue(FullSyntheticOption);
                int defaultHeldOut = format == "ml-1m" ? 750 : 100;
                var settings = new RunSettings(parse.GetValue(epochs), small, Seed: 42) { Overrides = overrides };
                var options = new ExperimentOptions(entries, splitSeeds, parse.GetValue(validationUsers) ?? defaultHeldOut, parse.GetValue(testUsers) ?? defaultHeldOut, settings, split)
                {
                    CheckpointRoot = checkpointRoot,
                };
                bool leaveOneOut = split == SequenceSplit.LeaveOneOut;

                var firstSplit = new Dictionary<string, RecommendationMetrics>();
                IReadOnlyList<TrainingEpoch>? svaeCurve = null;
                var failures = new List<string>();
                var runs = display.Run($"reproduce on {name}", () => Experiment.Run(ml, interactions, options, display.Writer, failures, (model, seed, fitted, dataset) =>
                {
                    if (seed != splitSeeds[0]) return;
                    if (model.Name == "SVAE") svaeCurve = Experiment.HistoryOf(fitted);
                    if (parse.GetValue(saveModels))
                        ml.Recommendation().SaveModel(fitted, dataset.Train.Schema, Path.Combine(outputDir, model.Name.Replace("*", "-star").ToLowerInvariant() + ".zip"));
                }));
                foreach (var run in runs.Where(r => r.SplitSeed == splitSeeds[0])) firstSplit[run.Model.Name] = run.Metrics;

                var table = leaveOneOut ? Results.LeaveOneOutTable(runs) : Results.Table(runs, withPaper: format == "ml-1m");
                Results.WriteCsv(table, Path.Combine(outputDir, "results.csv"));
                var notes = leaveOneOut
                    ? new List<string>
                    {
                        $"Data: {name}; leave-last-one-out (every user's last event is the test target, the one before it the validation target); model seeds {string.Join(", ", splitSeeds)}.",
                        "Metrics in percent over all users' test targets, ranked against every item the user has not seen: HR@n = share of users whose target is in the top n, NDCG@n = mean 1/log2(rank + 1); mean and sample sd over the seeds.",
                    }
                    : new List<string>
                    {
                        $"Data: {name}; {options.ValidationUsers} validation + {options.TestUsers} test users; split seeds {string.Join(", ", splitSeeds)}.",
                        "Metrics in percent on the test users (section 5.2), mean over the split seeds; training time in seconds per model and split.",
                    };
                if (entries.Any(e => e.Name.EndsWith(ModelRegistry.FoldInSuffix, StringComparison.Ordinal)))
                    notes.Add("Rows '<model>+fold-in': the model also trained on the held-out users' fold-ins (never their fold-outs), the training data of BPR*, FPMC and Caser.");

                // Fig. 4 (history length), fig. 5 (next k), fig. 6 (learning curves).
                var byLength = new[] { "MVAE", "Caser", "SVAE" }.Concat(ModelRegistry.SequentialVaes.Select(m => m.Name)).Where(firstSplit.ContainsKey).Select(m => (m, firstSplit[m])).ToList();
                if (byLength.Count > 0)
                    Figures.HistoryLength(Path.Combine(outputDir, "fig4-history-length.png"), byLength, name);
                if (svaeCurve is { Count: > 0 })
                    Figures.LearningCurves(Path.Combine(outputDir, "fig6-learning-curves.png"), svaeCurve, name);
                if (ks.Count > 0 && !leaveOneOut && entries.Any(e => e.Name == "SVAE"))
                {
                    var points = display.Run("fig. 5: SVAE against k", () => NextKSweep(ml, interactions, options, ks, display));
                    Figures.NextK(Path.Combine(outputDir, "fig5-next-k.png"), points, name);
                    notes.Add("fig. 5: SVAE test NDCG@100 for k = " + string.Join(", ", points.Select(p => FormattableString.Invariant($"{p.K}: {100 * p.Ndcg:F2}"))) + $" (split seed {splitSeeds[0]}).");
                }
                foreach (string failure in failures)
                    notes.Add($"FAILED, not in the table's means: {failure}.");
                notes.Add(FormattableString.Invariant($"Wall time of the whole run: {clock.Elapsed.TotalSeconds:F0} s."));
                AtomicFile.WriteAllText(Path.Combine(outputDir, "results.md"), Results.Markdown(table, leaveOneOut ? $"Leave-one-out on {name}" : $"Table 2 on {name}", notes));
                display.Line(File.ReadAllText(Path.Combine(outputDir, "results.md")));
                display.Line($"Wrote {Path.GetFullPath(outputDir)}.");
                return failures.Count == 0 ? 0 : 1;
            });
            return command;
        }

        private static List<(int K, double Ndcg)> NextKSweep(MLContext ml, IDataView interactions, ExperimentOptions options, IReadOnlyList<int> ks, ProgressDisplay display)
        {
            var dataset = DataSources.Prepare(ml, interactions,
                DataSources.Protocol(options.ValidationUsers, options.TestUsers, options.SplitSeeds[0], FoldSplit.Temporal), DataSources.ReproduceAdvice);
            var points = new List<(int, double)>();
            foreach (int k in ks)
            {
                using var model = ml.Recommendation().Trainers.Svae(ModelRegistry.SvaeOptions(options.SettingsFor($"SVAE-k{k}", options.SplitSeeds[0]) with { NextK = k })).Fit(dataset.Train, dataset.Validation);
                double ndcg = ml.Recommendation().Evaluate(model.Transform(dataset.Test)).Ndcg(100);
                display.Line(FormattableString.Invariant($"SVAE k = {k}: test NDCG@100 {100 * ndcg:F2}"));
                points.Add((k, ndcg));
            }
            return points;
        }

        private static Command Stats()
        {
            var command = new Command("stats", "Print Table 1 (users, items, interactions, density, history lengths, held-out users) for a data set.");
            var heldOut = new Option<int?>("--held-out-users") { Description = "Validation and test users each (default: 750 on ML-1M, else 100)." };
            command.Options.Add(heldOut);
            AddDataOptions(command);
            command.SetAction(parse =>
            {
                var ml = new MLContext(seed: 1);
                int? heldOutUsers = NotNegative(parse.GetValue(heldOut), "--held-out-users");
                var (interactions, name, format) = LoadData(ml, parse, Console.Out);
                int users = heldOutUsers ?? (format == "ml-1m" ? 750 : 100);
                var dataset = DataSources.Prepare(ml, interactions, DataSources.Protocol(users, users, 98765, FoldSplit.Temporal), DataSources.HeldOutAdvice);
                var table = ml.Recommendation().Data.ComputeStatistics(interactions, name + " (all ratings)");
                table.Append(ml.Recommendation().Data.ComputeStatistics(dataset, name + " (ratings > 3, ≥ 5 items)").Rows, inPlace: true);
                Console.WriteLine(table.ToText());
                Console.WriteLine();
                Console.WriteLine(dataset.Report);
                return 0;
            });
            return command;
        }

        private static Command Split()
        {
            var seeds = new Option<string>("--seeds") { Description = "Comma-separated seeds of the user split; one folder per seed.", DefaultValueFactory = _ => "98765" };
            var heldOut = new Option<int?>("--held-out-users") { Description = "Validation and test users each (default: 750 on ML-1M, else 100)." };
            var output = new Option<string>("--output") { Description = "Folder that receives split-<seed>/ with train.csv and the held-out fold-in/fold-out files.", DefaultValueFactory = _ => "splits" };
            var command = new Command("split", "Write the protocol's user split (training histories, validation and test fold-in/fold-out) as CSV files in raw ids, to run other implementations on the same users.")
            {
                seeds, heldOut, output,
            };
            AddDataOptions(command);
            command.SetAction(parse =>
            {
                var ml = new MLContext(seed: 1);
                var splitSeeds = ParseInts(parse.GetValue(seeds)!, "--seeds");
                int? heldOutUsers = NotNegative(parse.GetValue(heldOut), "--held-out-users");
                string outputDir = OutputFolder(parse.GetValue(output)!);
                var (interactions, _, format) = LoadData(ml, parse, Console.Out);
                int users = heldOutUsers ?? (format == "ml-1m" ? 750 : 100);
                foreach (int seed in splitSeeds)
                {
                    var dataset = DataSources.Prepare(ml, interactions, DataSources.Protocol(users, users, seed, FoldSplit.Temporal), DataSources.HeldOutAdvice);
                    string directory = Path.Combine(outputDir, FormattableString.Invariant($"split-{seed}"));
                    SplitExport.Write(dataset, directory);
                    Console.WriteLine(FormattableString.Invariant(
                        $"split seed {seed}: {dataset.TrainUserCount} training, {dataset.ValidationUserCount} validation and {dataset.TestUserCount} test users written to {directory}"));
                }
                return 0;
            });
            return command;
        }

        /// <summary>The models <c>svae sweep</c> can search: every neural model of the registry, and the history-only ones' <c>+fold-in</c> rows.</summary>
        internal static IEnumerable<string> SweepableModels()
            => ModelRegistry.All.Where(m => m.Sweep is not null).Select(m => m.Name)
                .Concat(ModelRegistry.All.Where(m => m.Sweep is not null && m.Protocol == ModelProtocol.Temporal).Select(m => m.Name + ModelRegistry.FoldInSuffix));

        private static Command Sweep()
        {
            var model = new Option<string>("--model") { Description = "The model whose Options to sweep: any neural model of reproduce (SVAE, MVAE, GRU4Rec, SASRec, Caser, RVAE, BPR*, FPMC, MVAE*, SeqVAE-<Variant>), or a history-only model's '<model>+fold-in' row (paper protocol).", DefaultValueFactory = _ => "SVAE" };
            var trials = new Option<int>("--trials") { Description = "Trial budget (trial 1 is the model's options as reproduce runs them).", DefaultValueFactory = _ => 8 };
            var epochs = new Option<int?>("--epochs") { Description = "Epochs of a full trial (default: the model's default, as in reproduce)." };
            var seed = new Option<int>("--seed") { Description = "Seed of the sampler and of the user split (under leave-one-out, of the models' training).", DefaultValueFactory = _ => 98765 };
            var output = new Option<string>("--output") { Description = "Folder for trials.csv and trials.md.", DefaultValueFactory = _ => "results" };
            var protocol = new Option<string>("--protocol") { Description = "paper (held-out users, 80/20 fold-in/fold-out; each model trains on the data reproduce gives it) or leave-one-out.", DefaultValueFactory = _ => "paper" };
            var options = new Option<string?>("--options") { Description = "Comma-separated options to sweep (default: every option with a sweep attribute, less those fixed with --set), e.g. LearningRate,DropoutRate." };
            var range = new Option<string[]>("--range") { Description = "Name=min:max: narrow a swept option's range (inside its declared one), e.g. --range LearningRate=3e-4:3e-3.", AllowMultipleArgumentsPerToken = false };
            var set = new Option<string[]>("--set") { Description = "Name=Value: fix an Options property for every trial (as in reproduce); a fixed option is not swept.", AllowMultipleArgumentsPerToken = false };
            var validationUsers = new Option<int?>("--validation-users") { Description = "Held-out validation users under --protocol paper (default: 750 on ML-1M, else 100; ignored under leave-one-out)." };
            var command = new Command("sweep", "Random search over a neural model's Options (the [Range]/[Choice] attributes AutoML reads), maximising validation NDCG; bad trials stop early.")
            {
                model, trials, epochs, seed, output, protocol, options, range, set, validationUsers,
            };
            AddDataOptions(command);
            command.SetAction(parse =>
            {
                var ml = new MLContext(seed: 1);
                var display = new ProgressDisplay(ml, parse.GetValue(PlainOption));
                // Arguments are checked before any data is read or model trained.
                string modelName = parse.GetValue(model)!;
                var entry = SweepableModels().FirstOrDefault(n => string.Equals(n, modelName, StringComparison.OrdinalIgnoreCase)) is { } known
                    ? ModelRegistry.Find(known)
                    : throw new CliException($"--model {modelName}: not a model sweep can search. Valid models: {string.Join(", ", SweepableModels())}.");
                var split = DataSources.ParseProtocol(parse.GetValue(protocol)!);
                if (split == SequenceSplit.LeaveOneOut && entry.Name.EndsWith(ModelRegistry.FoldInSuffix, StringComparison.Ordinal))
                    throw new CliException($"--model {entry.Name} applies to --protocol paper only: under leave-one-out every user already trains on all but the two targets.");
                if (parse.GetValue(trials) < 1)
                    throw new CliException($"--trials must be at least 1 (got {parse.GetValue(trials)}).");
                if (parse.GetValue(epochs) is < 1)
                    throw new CliException($"--epochs must be at least 1 (got {parse.GetValue(epochs)}).");
                NotNegative(parse.GetValue(validationUsers), "--validation-users");
                if (split == SequenceSplit.Paper && parse.GetValue(validationUsers) == 0)
                    throw new CliException("--validation-users must be at least 1 for a sweep under --protocol paper: trials are ranked on the validation users' NDCG.");
                var overrides = ParseOverrides(parse.GetValue(set));
                ModelRegistry.CheckOverrides(overrides, new[] { entry });
                var swept = parse.GetValue(options) is { } list ? ParseNames(list, "--options") : null;
                var ranges = ParseSweepRanges(parse.GetValue(range));
                string outputDir = OutputFolder(parse.GetValue(output)!);
                int sweepSeed = parse.GetValue(seed);
                // Under leave-one-out the split has no randomness and the seed is the models' training seed, as in reproduce.
                var probeSettings = Experiment.SettingsOf(new RunSettings(parse.GetValue(epochs), false, 42) { Overrides = overrides }, split, sweepSeed);
                entry.CheckSweep!(new SweepRequest(ml, probeSettings, parse.GetValue(trials), sweepSeed, swept, ranges, display));

                var (interactions, name, format) = LoadData(ml, parse, display.Writer);
                bool small = format == "synthetic" && !parse.GetValue(FullSyntheticOption);
                int heldOut = parse.GetValue(validationUsers) ?? (format == "ml-1m" ? 750 : 100);
                var dataset = DataSources.Prepare(ml, interactions, DataSources.Protocol(heldOut, heldOut, sweepSeed, Experiment.FoldSplitOf(entry, split), split),
                    "hold out fewer users with --validation-users (the sweep holds out as many test users, unused)");
                var settings = probeSettings with { Small = small };
                var request = new SweepRequest(ml, settings, parse.GetValue(trials), sweepSeed, swept, ranges, display);
                string protocolText = split == SequenceSplit.LeaveOneOut
                    ? "leave-last-one-out (validation target: each user's second-to-last event)"
                    : $"the paper's protocol ({dataset.ValidationUserCount} validation users, split seed {sweepSeed}; {entry.ProtocolDescription})";
                display.Writer.WriteLine($"sweep {entry.Name} under {protocolText}");
                var trialsTable = display.Run($"sweep {entry.Name} on {name}", () => entry.Sweep!(request, dataset, Experiment.TrainingData(entry, dataset)));
                Results.WriteCsv(trialsTable, Path.Combine(outputDir, "trials.csv"));
                var notes = new List<string>
                {
                    trialsTable.Columns.IndexOf(HyperparameterSweep.StoppedEarlyColumn) >= 0
                        ? "Validation NDCG (%) per trial; trials below the median after the short first round were stopped early."
                        : "Validation NDCG (%) per trial; every trial trained in full (with one epoch per trial there is no short first round).",
                    $"Protocol: {protocolText}. Trial 1 is the options reproduce trains with; sampler seed {sweepSeed}.",
                };
                if (HyperparameterSweep.HasDivergedTrials(trialsTable))
                    notes.Add("A diverged trial stopped when an epoch's mean loss was not a finite number (usually too high a learning rate); it has no score for that round.");
                if (overrides.Count > 0)
                    notes.Add("Fixed with --set: " + string.Join(", ", overrides.Select(o => $"{o.Key}={o.Value}")) + ".");
                AtomicFile.WriteAllText(Path.Combine(outputDir, "trials.md"), Results.Markdown(trialsTable, $"{entry.Name} sweep on {name}", notes));
                display.Line(File.ReadAllText(Path.Combine(outputDir, "trials.md")));
                return 0;
            });
            return command;
        }

        /// <summary>A comma-separated list of option names (exact case), e.g. "LearningRate,DropoutRate".</summary>
        internal static List<string> ParseNames(string text, string option)
        {
            var names = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Distinct(StringComparer.Ordinal).ToList();
            if (names.Count == 0)
                throw new CliException($"{option} needs at least one option name (got '{text}').");
            return names;
        }

        /// <summary><c>--range Name=min:max</c> values: two invariant numbers, the minimum first.</summary>
        internal static Dictionary<string, (double Min, double Max)> ParseSweepRanges(string[]? pairs)
        {
            var result = new Dictionary<string, (double, double)>(StringComparer.Ordinal);
            foreach (string pair in pairs ?? Array.Empty<string>())
            {
                int eq = pair.IndexOf('=');
                string[] bounds = eq > 0 ? pair[(eq + 1)..].Split(':', StringSplitOptions.TrimEntries) : Array.Empty<string>();
                if (bounds.Length != 2
                    || !double.TryParse(bounds[0], NumberStyles.Float, CultureInfo.InvariantCulture, out double min)
                    || !double.TryParse(bounds[1], NumberStyles.Float, CultureInfo.InvariantCulture, out double max))
                    throw new CliException($"--range takes Name=min:max with two numbers (e.g. LearningRate=3e-4:3e-3), got '{pair}'.");
                string name = pair[..eq].Trim();
                if (result.ContainsKey(name))
                    throw new CliException($"--range {name} is given twice.");
                result[name] = (min, max);
            }
            return result;
        }

        private static Command Score()
        {
            var modelPath = new Argument<string>("model") { Description = "A model zip saved by reproduce --save-models or mlContext.Recommendation().SaveModel." };
            var histories = new Argument<string[]>("histories") { Description = "Histories: comma-separated item keys, one per argument.", Arity = ArgumentArity.ZeroOrMore };
            var input = new Option<string?>("--input") { Description = "A file with one history per line." };
            var command = new Command("score", "Print the top-K items for histories, with a saved model (public ML.NET only).") { modelPath, histories, input };
            command.SetAction(parse =>
            {
                var lines = new List<string>(parse.GetValue(histories) ?? Array.Empty<string>());
                if (parse.GetValue(input) is string file)
                {
                    if (!File.Exists(file))
                        throw new CliException($"The history file '{file}' does not exist.");
                    lines.AddRange(File.ReadAllLines(file).Where(l => !string.IsNullOrWhiteSpace(l)));
                }
                var ml = new MLContext();
                string path = parse.GetValue(modelPath)!;
                CheckModel(ml, path);
                IEnumerable<string> scored;
                try
                {
                    scored = ModelScoring.Score(ml, path, lines, ml.Recommendation().LoadModel);
                }
                catch (Exception e) when (e is FormatException or OverflowException)
                {
                    throw new CliException(
                        $"A history is not a comma-separated list of item keys, optionally after a user key and a colon (e.g. 3,17,42 or 7:3,17,42): {e.Message}", e);
                }
                foreach (string line in scored)
                    Console.WriteLine(line);
                return 0;
            });
            return command;
        }

        /// <summary>Checks that <paramref name="path"/> is a model zip with a history input before scoring with it.</summary>
        private static void CheckModel(MLContext ml, string path)
        {
            if (!File.Exists(path))
                throw new CliException($"The model file '{path}' does not exist.");
            ITransformer model;
            DataViewSchema input;
            try
            {
                model = ml.Recommendation().LoadModel(path, out input);
            }
            catch (InvalidDataException e)
            {
                // LoadModel's message says what is damaged (an unreadable zip, an ONNX graph that cannot be read).
                throw new CliException(CliErrors.OneLine(e.Message), e);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                throw new CliException($"Cannot load the model '{path}': it is not an ML.NET model zip or it is damaged ({CliErrors.OneLine(CliErrors.Unwrap(e).Message)}).", e);
            }
            try
            {
                if (input.GetColumnOrNull(SequenceColumns.History) is null)
                    throw new CliException($"The model '{path}' has no '{SequenceColumns.History}' input column: it is not a recommender saved by MLNet.Svae.");
            }
            finally
            {
                (model as IDisposable)?.Dispose();
            }
        }

        /// <summary>
        /// Creates <paramref name="path"/> if needed and checks that a file can be written in it, before any work is done.
        /// </summary>
        /// <summary>The --checkpoint folder, created and writable; a usage error otherwise.</summary>
        internal static string CheckpointRoot(string path)
        {
            if (File.Exists(path))
                throw new CliException($"--checkpoint '{path}' is a file; it must name a folder.");
            try
            {
                return OutputFolder(path);
            }
            catch (CliException e)
            {
                throw new CliException($"--checkpoint: {e.Message}", e);
            }
        }

        internal static string OutputFolder(string path)
        {
            try
            {
                Directory.CreateDirectory(path);
                string probe = Path.Combine(path, $".svae-write-test-{Environment.ProcessId}-{Guid.NewGuid():N}");
                File.WriteAllBytes(probe, Array.Empty<byte>());
                File.Delete(probe);
                return path;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
            {
                throw new CliException($"Cannot write to the output folder '{path}': {CliErrors.OneLine(e.Message)}", e);
            }
        }

        internal static Dictionary<string, string> ParseOverrides(string[]? pairs)
        {
            var result = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (string pair in pairs ?? Array.Empty<string>())
            {
                int eq = pair.IndexOf('=');
                if (eq <= 0) throw new CliException($"--set takes Name=Value, got '{pair}'.");
                result[pair[..eq].Trim()] = pair[(eq + 1)..].Trim();
            }
            return result;
        }

        /// <summary>Checks that an optional count given on the command line is not negative.</summary>
        private static int? NotNegative(int? value, string option)
            => value is < 0 ? throw new CliException($"{option} must be at least 0 (got {value}).") : value;

        /// <summary>A comma-separated list of integers, e.g. "1,2,4"; <paramref name="option"/> names the option in errors.</summary>
        internal static List<int> ParseInts(string text, string option = "value")
        {
            var values = new List<int>();
            foreach (string part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                if (!int.TryParse(part, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value))
                    throw new CliException($"{option} takes comma-separated integers, but '{part}' is not an integer.");
                values.Add(value);
            }
            if (values.Count == 0)
                throw new CliException($"{option} needs at least one integer (got '{text}').");
            return values;
        }

        /// <summary>"1-10", "1,2,4" or "none".</summary>
        internal static List<int> ParseRange(string text, string option = "value")
        {
            if (text.Equals("none", StringComparison.OrdinalIgnoreCase)) return new List<int>();
            var parts = text.Split('-', StringSplitOptions.TrimEntries);
            if (parts.Length == 2 && int.TryParse(parts[0], CultureInfo.InvariantCulture, out int from) && int.TryParse(parts[1], CultureInfo.InvariantCulture, out int to))
            {
                if (to < from)
                    throw new CliException($"{option}: the range '{text}' is empty (it ends before it starts).");
                return Enumerable.Range(from, to - from + 1).ToList();
            }
            return ParseInts(text, option);
        }
    }
}
