using System.Globalization;
using Microsoft.ML;
using global::Svae.Cli;
using RunnerCli = global::Svae.Cli.Cli;

namespace Microsoft.ML.Svae.Tests.Cli;

/// <summary><c>svae sweep</c> for any neural model, under both protocols, with a chosen and narrowed search space.</summary>
public class SweepCommandTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"svae-sweep-{Guid.NewGuid():N}");

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    private static readonly string[] TinyGru = { "--set", "EmbeddingSize=8", "--set", "RecurrentSize=8" };

    [Fact]
    public void Gru4RecUnderThePaperProtocolSweepsOnlyTheNamedOptionsInsideTheNarrowedRange()
    {
        int code = RunnerCli.Build().Parse(new[] { "sweep", "--model", "GRU4Rec", "--trials", "4", "--epochs", "1", "--seed", "3",
            "--options", "LearningRate,BatchOrder", "--range", "LearningRate=3e-4:3e-3", "--output", _dir, "--plain" }.Concat(TinyGru).ToArray()).Invoke();
        Assert.Equal(0, code);
        var csv = File.ReadAllLines(Path.Combine(_dir, "trials.csv"));
        Assert.Equal("Trial,NDCG@100 after 1 epochs,BatchOrder,LearningRate", csv[0]);
        Assert.Equal(5, csv.Length);
        // Trial 1 is the options reproduce trains with: GRU4Rec's defaults.
        Assert.Equal(new[] { "Pooled", "0.001" }, csv[1].Split(',')[2..]);
        foreach (string row in csv.Skip(2))
        {
            var cells = row.Split(',');
            Assert.Contains(cells[2], new[] { "Pooled", "LengthBuckets" });
            Assert.InRange(double.Parse(cells[3], CultureInfo.InvariantCulture), 3e-4, 3e-3);
            Assert.InRange(double.Parse(cells[1], CultureInfo.InvariantCulture), 0, 100);
        }
        string markdown = File.ReadAllText(Path.Combine(_dir, "trials.md"));
        Assert.Contains("# GRU4Rec sweep on synthetic (small)", markdown);
        Assert.Contains("Protocol: the paper's protocol (100 validation users, split seed 3; temporal 80/20 fold-in/out).", markdown);
        Assert.Contains("Fixed with --set: EmbeddingSize=8, RecurrentSize=8.", markdown);
    }

    [Fact]
    public void SasrecUnderLeaveOneOutSweepsEveryOptionNotFixedWithSet()
    {
        int code = RunnerCli.Build().Parse(new[] { "sweep", "--model", "sasrec", "--protocol", "leave-one-out", "--trials", "2", "--epochs", "1",
            "--set", "EmbeddingSize=8", "--set", "NumberOfBlocks=1", "--set", "NumberOfHeads=1", "--set", "MaxHistoryLength=20",
            "--output", _dir, "--plain" }).Invoke();
        Assert.Equal(0, code);
        var csv = File.ReadAllLines(Path.Combine(_dir, "trials.csv"));
        Assert.Equal(3, csv.Length);
        var header = csv[0].Split(',');
        Assert.Equal(new[] { "Trial", "NDCG@100 after 1 epochs", "BatchOrder", "BatchSize", "DecoupledWeightDecay", "DropoutRate", "LearningRate",
            "LearningRateDecayEpochs", "LearningRateWarmupUpdates", "Loss", "NegativesPerPositive", "WeightDecay" }, header);
        // The training-mechanics options come from their choices.
        Assert.Contains(csv[2].Split(',')[Array.IndexOf(header, "LearningRateWarmupUpdates")], new[] { "0", "100", "1000" });
        Assert.Contains(csv[2].Split(',')[Array.IndexOf(header, "LearningRateDecayEpochs")], new[] { "0", "5", "10", "20" });
        Assert.Contains(csv[2].Split(',')[Array.IndexOf(header, "WeightDecay")], new[] { "0", "1E-06", "1E-05", "0.0001", "0.001" });
        Assert.Contains("Protocol: leave-last-one-out (validation target: each user's second-to-last event).", File.ReadAllText(Path.Combine(_dir, "trials.md")));
    }

    [Fact]
    public void EachModelTrainsOnTheDataReproduceGivesIt()
    {
        var ml = new MLContext(seed: 1);
        var (interactions, _) = DataSources.Load(ml, null, "synthetic", small: true);
        var dataset = DataSources.Prepare(ml, interactions, DataSources.Protocol(20, 20, 1, FoldSplit.Temporal), DataSources.ReproduceAdvice);
        int Rows(IDataView view) => view.Preview(maxRows: 100_000).RowView.Length;
        int training = Rows(dataset.Train), withFoldIns = Rows(dataset.TrainWithHeldOutFoldIn());
        Assert.Equal(dataset.TrainUserCount, training);
        Assert.Equal(dataset.TrainUserCount + dataset.ValidationUserCount + dataset.TestUserCount, withFoldIns);
        Assert.Equal(training, Rows(Experiment.TrainingData(ModelRegistry.Find("GRU4Rec"), dataset)));
        Assert.Equal(withFoldIns, Rows(Experiment.TrainingData(ModelRegistry.Find("Caser"), dataset)));
        Assert.Equal(withFoldIns, Rows(Experiment.TrainingData(ModelRegistry.Find("gru4rec+fold-in"), dataset)));
        Assert.Equal("GRU4Rec+fold-in", ModelRegistry.Find("gru4rec+fold-in").Name);
        Assert.Equal(FoldSplit.Random, Experiment.FoldSplitOf(ModelRegistry.Find("MVAE*"), SequenceSplit.Paper));
        Assert.Equal(FoldSplit.Temporal, Experiment.FoldSplitOf(ModelRegistry.Find("MVAE*"), SequenceSplit.LeaveOneOut));
        Assert.Equal(FoldSplit.Temporal, Experiment.FoldSplitOf(ModelRegistry.Find("Caser"), SequenceSplit.Paper));
        // POP has no hyperparameters; every other model of the registry can be swept.
        Assert.Null(ModelRegistry.Find("POP").Sweep);
        Assert.All(ModelRegistry.All.Where(m => m.Name != "POP"), m => Assert.NotNull(m.Sweep));
    }

    [Fact]
    public void ReproduceRunsAFoldInRowAloneUnderThePaperProtocolOnly()
    {
        int code = RunnerCli.Build().Parse(new[] { "reproduce", "--models", "pop+fold-in", "--k-values", "none", "--output", _dir, "--plain" }).Invoke();
        Assert.Equal(0, code);
        var csv = File.ReadAllLines(Path.Combine(_dir, "results.csv"));
        Assert.Equal(2, csv.Length);
        Assert.StartsWith("POP+fold-in,temporal; held-out fold-in added to training,1,", csv[1]);
        Assert.Contains("Rows '<model>+fold-in': the model also trained on the held-out users' fold-ins", File.ReadAllText(Path.Combine(_dir, "results.md")));
        Assert.Equal("svae: error: --models GRU4Rec+fold-in applies to --protocol paper only: under leave-one-out every user already trains on all but the two targets.",
            UsageError("reproduce", "--models", "GRU4Rec+fold-in", "--protocol", "leave-one-out", "--output", _dir));
        Assert.StartsWith("svae: error: Unknown model 'Caser+fold-in'. Known models: POP, BPR*,", UsageError("reproduce", "--models", "Caser+fold-in", "--output", _dir));
    }

    [Fact]
    public void ParsesRangesAndOptionNames()
    {
        var ranges = RunnerCli.ParseSweepRanges(new[] { "LearningRate=3e-4:3e-3", " BatchSize = 8:64" });
        Assert.Equal((3e-4, 3e-3), ranges["LearningRate"]);
        Assert.Equal((8.0, 64.0), ranges["BatchSize"]);
        Assert.Equal(new[] { "LearningRate", "DropoutRate" }, RunnerCli.ParseNames(" LearningRate, DropoutRate,LearningRate", "--options"));
    }

    [Theory]
    [InlineData("svae: error: --range takes Name=min:max with two numbers (e.g. LearningRate=3e-4:3e-3), got 'LearningRate=1e-3'.", "--range", "LearningRate=1e-3")]
    [InlineData("svae: error: --range takes Name=min:max with two numbers (e.g. LearningRate=3e-4:3e-3), got 'LearningRate=a:b'.", "--range", "LearningRate=a:b")]
    [InlineData("svae: error: --range LearningRate=1E-06:0.001: The range 1E-06 to 0.001 of LearningRate is outside its declared sweep range: LearningRate in [0.0001, 0.1] (log scale).", "--range", "LearningRate=1e-6:1e-3")]
    [InlineData("svae: error: --range LearningRate=0.003:0.001: The range of LearningRate must have its minimum at most its maximum (got 0.003 to 0.001).", "--range", "LearningRate=3e-3:1e-3")]
    [InlineData("svae: error: --range BatchSize=4.5:8: BatchSize takes whole numbers (got 4.5 to 8).", "--range", "BatchSize=4.5:8")]
    [InlineData("svae: error: --range BatchOrder=0:1: BatchOrder in {Pooled, LengthBuckets} is a choice, not a range: fix it to one value instead, or sweep all its values.", "--range", "BatchOrder=0:1")]
    [InlineData("svae: error: --options LearningRate,Foo: 'Foo' is not an option of this search space over Gru4RecTrainer.Options. Its options: BatchOrder, BatchSize, DecoupledWeightDecay, DropoutRate, EmbeddingSize, LearningRate, LearningRateDecayEpochs, LearningRateWarmupUpdates, RecurrentSize, WeightDecay.", "--options", "LearningRate,Foo")]
    [InlineData("svae: error: --options NumberOfEpochs: 'NumberOfEpochs' is not an option of this search space over Gru4RecTrainer.Options. Its options: BatchOrder, BatchSize, DecoupledWeightDecay, DropoutRate, EmbeddingSize, LearningRate, LearningRateDecayEpochs, LearningRateWarmupUpdates, RecurrentSize, WeightDecay.", "--options", "NumberOfEpochs")]
    [InlineData("svae: error: --validation-users must be at least 1 for a sweep under --protocol paper: trials are ranked on the validation users' NDCG.", "--validation-users", "0")]
    [InlineData("svae: error: --options needs at least one option name (got ',').", "--options", ",")]
    public void BadSweepArgumentsAreOneLineErrorsNamingTheValidValues(string expected, string option, string value)
    {
        Assert.Equal(expected, UsageError("sweep", "--model", "GRU4Rec", option, value, "--output", _dir));
    }

    [Fact]
    public void BadModelsAndConflictsAreOneLineErrors()
    {
        string valid = string.Join(", ", RunnerCli.SweepableModels());
        Assert.StartsWith("svae: error: --model POP: not a model sweep can search. Valid models: BPR*, RVAE, FPMC, Caser, MVAE, SVAE, MVAE*, GRU4Rec, SASRec, SeqVAE-GlobalLatent,",
            UsageError("sweep", "--model", "POP", "--output", _dir));
        Assert.Equal($"svae: error: --model BERT4Rec: not a model sweep can search. Valid models: {valid}.", UsageError("sweep", "--model", "BERT4Rec", "--output", _dir));
        Assert.Contains("SASRec+fold-in", valid);
        Assert.Equal("svae: error: --model SVAE+fold-in applies to --protocol paper only: under leave-one-out every user already trains on all but the two targets.",
            UsageError("sweep", "--model", "svae+fold-in", "--protocol", "leave-one-out", "--output", _dir));
        Assert.Equal("svae: error: --options LearningRate: LearningRate is fixed with --set LearningRate=0.01; drop one of the two.",
            UsageError("sweep", "--model", "GRU4Rec", "--options", "LearningRate", "--set", "LearningRate=0.01", "--output", _dir));
        Assert.StartsWith("svae: error: --options Variant: Variant selects the model (--model names it), it is not swept. Options that can be swept: BatchOrder, BatchSize, DecoderSize,",
            UsageError("sweep", "--model", "SeqVAE-LearnedPrior", "--options", "Variant", "--output", _dir));
        Assert.StartsWith("svae: error: --set Foo: no option 'Foo' in the options of GRU4Rec.",
            UsageError("sweep", "--model", "GRU4Rec", "--set", "Foo=1", "--output", _dir));
        Assert.Equal("svae: error: --range LearningRate=0.001:0.002: LearningRate is not among the swept options (--options DropoutRate); add it there to sweep it in this range.",
            UsageError("sweep", "--model", "GRU4Rec", "--options", "DropoutRate", "--range", "LearningRate=1e-3:2e-3", "--output", _dir));
        Assert.Equal("svae: error: --range LearningRate=0.001:0.002: LearningRate is fixed with --set LearningRate=0.01, so it is not swept; drop one of the two.",
            UsageError("sweep", "--model", "GRU4Rec", "--set", "LearningRate=0.01", "--range", "LearningRate=1e-3:2e-3", "--output", _dir));
        Assert.Equal("svae: error: --range NumberOfEpochs=1:5: 'NumberOfEpochs' is not an option of this search space over Gru4RecTrainer.Options. Its options: BatchOrder, BatchSize, DecoupledWeightDecay, DropoutRate, EmbeddingSize, LearningRate, LearningRateDecayEpochs, LearningRateWarmupUpdates, RecurrentSize, WeightDecay.",
            UsageError("sweep", "--model", "GRU4Rec", "--range", "NumberOfEpochs=1:5", "--output", _dir));
        Assert.StartsWith("svae: error: --range NumberOfEpochs=1:5: 'NumberOfEpochs' is not an option of this search space over Gru4RecTrainer.Options.",
            UsageError("sweep", "--model", "GRU4Rec", "--set", "NumberOfEpochs=5", "--range", "NumberOfEpochs=1:5", "--output", _dir));
    }

    [Fact]
    public void ADivergedTrialIsRecordedAndTheSweepGoesOn()
    {
        // A stand-in trainer: the baseline learning rate (1e-3) scores 30 in up to 2 epochs, else 35; a sampled rate above
        // 0.065 diverges in epoch 2; any other sampled rate scores 40 in up to 2 epochs (the short round of 6) and
        // diverges in epoch 5 of a longer training. With sampler seed 1 the three sampled rates in [0.05, 0.1] are 0.0594, 0.0540 and 0.0691.
        var ml = new MLContext(1);
        var request = new SweepRequest(ml, new RunSettings(null, false, 1), 4, 1, new[] { "LearningRate" },
            new Dictionary<string, (double, double)> { ["LearningRate"] = (0.05, 0.1) }, new ProgressDisplay(ml, forcePlain: true));
        var baseline = new Gru4RecTrainer.Options { NumberOfEpochs = 6 };
        var calls = new List<(double Rate, int Epochs)>();
        double Fit(Gru4RecTrainer.Options o)
        {
            calls.Add((o.LearningRate, o.NumberOfEpochs));
            if (o.LearningRate == 1e-3) return o.NumberOfEpochs <= 2 ? 0.30 : 0.35;
            if (o.LearningRate > 0.065) throw new TrainingDivergedException("GRU4Rec training diverged in epoch 2: the mean loss is NaN.", 2, double.NaN);
            if (o.NumberOfEpochs <= 2) return 0.40;
            throw new TrainingDivergedException("GRU4Rec training diverged in epoch 5: the mean loss is Infinity.", 5, double.PositiveInfinity);
        }

        var table = HyperparameterSweep.Run(request, baseline, Fit, identity: null);

        var rates = table.Columns["LearningRate"].Cast<string>().Select(v => double.Parse(v, CultureInfo.InvariantCulture)).ToArray();
        Assert.Equal(new[] { 0.001, 0.0594, 0.054, 0.0691 }, rates.Select(r => Math.Round(r, 4)));
        // Short round: 30, 40, 40, diverged; median (third of four, diverged ranked last) 40: trials 2 and 3 go on and diverge.
        Assert.Equal(new double?[] { 30, 40, 40, null }, table.Columns["NDCG@100 after 2 epochs"].Cast<double?>());
        Assert.Equal(new double?[] { null, null, null, null }, table.Columns["NDCG@100 after 6 epochs"].Cast<double?>());
        Assert.Equal(new[] { "yes", "diverged (epoch 5)", "diverged (epoch 5)", "diverged (epoch 2)" },
            table.Columns[HyperparameterSweep.StoppedEarlyColumn].Cast<string>());
        Assert.True(HyperparameterSweep.HasDivergedTrials(table));
        Assert.Equal(6, calls.Count);
        Assert.Equal(new[] { 2, 2, 2, 2, 6, 6 }, calls.Select(c => c.Epochs));

        // One epoch per trial: no short round; the trials that diverge are named in a Diverged column.
        var once = HyperparameterSweep.Run(request, new Gru4RecTrainer.Options { NumberOfEpochs = 1 }, Fit, identity: null);
        Assert.Equal(new double?[] { 30, 40, 40, null }, once.Columns["NDCG@100 after 1 epochs"].Cast<double?>());
        Assert.Equal(new[] { "no", "no", "no", "diverged (epoch 2)" }, once.Columns[HyperparameterSweep.DivergedColumn].Cast<string>());
        Assert.True(HyperparameterSweep.HasDivergedTrials(once));
        Assert.False(HyperparameterSweep.HasDivergedTrials(HyperparameterSweep.Run(request, new Gru4RecTrainer.Options { NumberOfEpochs = 1 }, _ => 0.25, identity: null)));
    }

    private static string UsageError(params string[] args)
    {
        var error = new StringWriter();
        int code = RunnerCli.Run(args, TextWriter.Null, error);
        var lines = error.ToString().Split(new[] { '\r', '\n' }, StringSplitOptions.RemoveEmptyEntries);
        Assert.True(code == 2, $"exit code {code}, stderr: {error}");
        Assert.Single(lines);
        return lines[0];
    }
}
