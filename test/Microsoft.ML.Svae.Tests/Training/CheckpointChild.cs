using System.Globalization;
using System.Text;

namespace Microsoft.ML.Svae.Tests.Training;

/// <summary>
/// The training run of the kill-and-resume test, shared by the test and the child process that runs it
/// (<c>dotnet Microsoft.ML.Svae.Tests.dll checkpoint-child FOLDER OUTPUT [STALL-EPOCH STALL-BATCH]</c>): SVAE on
/// small cyclic data, a checkpoint after every update; with a stall position the child prints
/// <see cref="StalledLine"/> after writing that checkpoint and waits to be killed.
/// </summary>
internal static class CheckpointChild
{
    public const string Command = "checkpoint-child";
    public const string StalledLine = "stalled after the checkpoint";
    private const int Items = 20;

    public static SvaeTrainer.Options Options(string? folder)
    {
        var options = TinySequences.SmallOptions(epochs: 3);
        options.Seed = 11;
        options.BatchSize = 16;
        options.OutputScores = true;
        options.TopK = 5;
        options.CheckpointFolder = folder;
        options.CheckpointInterval = 1;
        return options;
    }

    public static (IDataView Train, IDataView Validation) Data(MLContext ml) => UserSequenceTestData.CycleProtocol(ml, Items);

    /// <summary>The child process: trains, and writes <see cref="Describe"/> of the result to the output file.</summary>
    public static int Run(string[] args)
    {
        string folder = args[1], output = args[2];
        var ml = new MLContext(seed: 1);
        var (train, validation) = Data(ml);
        var options = Options(folder);
        if (args.Length == 5)
        {
            int epoch = int.Parse(args[3], CultureInfo.InvariantCulture), batches = int.Parse(args[4], CultureInfo.InvariantCulture);
            options.CheckpointWritten = (e, b) =>
            {
                if (e == epoch && b == batches)
                {
                    Console.Out.WriteLine(StalledLine);
                    Console.Out.Flush();
                    Thread.Sleep(Timeout.Infinite);
                }
            };
        }
        using var model = ml.Recommendation().Trainers.Svae(options).Fit(train, validation);
        File.WriteAllText(output, Describe(model, validation));
        return 0;
    }

    /// <summary>
    /// A fitted model as exact text: every learning-curve value and every score of the validation users as the bits of
    /// its floating-point number, so that equal text means bit-for-bit equal results.
    /// </summary>
    public static string Describe(TrainedRecommendationTransformer model, IDataView validation)
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"best {model.BestEpoch} stopped {model.StoppedEarly}\n");
        foreach (var e in model.TrainingHistory)
        {
            text.Append(CultureInfo.InvariantCulture, $"epoch {e.Epoch} updates {e.Updates} loss {Bits(e.TrainingLoss)} beta {Bits(e.KlWeight)} ndcg {Bits(e.ValidationNdcg ?? double.NaN)}");
            foreach (var (name, value) in e.ValidationMetrics.OrderBy(m => m.Key, StringComparer.Ordinal))
                text.Append(CultureInfo.InvariantCulture, $" {name} {Bits(value)}");
            text.Append('\n');
        }
        foreach (var scores in SequenceTestData.FloatColumn(model.Transform(validation), SequenceColumns.Scores))
            text.Append(string.Join(' ', scores.Select(s => BitConverter.SingleToInt32Bits(s).ToString("x8", CultureInfo.InvariantCulture)))).Append('\n');
        return text.ToString();
    }

    private static string Bits(double value) => BitConverter.DoubleToInt64Bits(value).ToString("x16", CultureInfo.InvariantCulture);
}
