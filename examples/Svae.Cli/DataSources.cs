using Microsoft.ML;
using Microsoft.ML.Svae;

namespace Svae.Cli;

/// <summary>The data sets the runner reads: files in the formats of section 5.1, or the built-in synthetic log.</summary>
internal static class DataSources
{
    public static readonly string[] Formats = { "ml-1m", "ml-100k", "ml-csv", "netflix", "synthetic" };

    /// <summary>
    /// Loads interactions. With no path the built-in synthetic data set is used (so the runner works on a
    /// fresh machine without any download); <paramref name="small"/> selects its quick size.
    /// </summary>
    public static (IDataView Interactions, string Name) Load(MLContext ml, string? path, string? format, bool small)
    {
        if (path is null)
        {
            if (format is not null && format != "synthetic")
                throw new ArgumentException($"--format {format} needs --data <path> (or --download).");
            var options = small
                ? new SyntheticInteractionOptions { Users = 600, Items = 300, MeanHistoryLength = 40, MaxHistoryLength = 200, Seed = 42 }
                : SyntheticInteractionOptions.MovieLens1MShape();
            return (ml.Recommendation().Data.GenerateSyntheticInteractions(options), small ? "synthetic (small)" : "synthetic (ML-1M shape)");
        }
        format ??= Guess(path);
        var data = ml.Recommendation().Data;
        return format switch
        {
            "ml-1m" => (data.LoadMovieLens1M(path), "MovieLens-1M"),
            "ml-100k" => (data.LoadMovieLens100K(path), "MovieLens-100K"),
            "ml-csv" => (data.LoadMovieLensCsv(path), "MovieLens (CSV)"),
            "netflix" => (data.LoadNetflixPrize(path), "Netflix Prize"),
            _ => throw new ArgumentException($"Unknown --format '{format}'. Known formats: {string.Join(", ", Formats)}."),
        };
    }

    private static string Guess(string path)
    {
        string name = Path.GetFileName(path.TrimEnd('/'));
        if (name.EndsWith(".dat", StringComparison.OrdinalIgnoreCase)) return "ml-1m";
        if (name.Equals("u.data", StringComparison.OrdinalIgnoreCase)) return "ml-100k";
        if (name.EndsWith(".csv", StringComparison.OrdinalIgnoreCase)) return "ml-csv";
        if (Directory.Exists(path) || name.StartsWith("mv_", StringComparison.OrdinalIgnoreCase)) return "netflix";
        throw new ArgumentException($"Cannot tell the format of '{path}': give --format ({string.Join(", ", Formats)}).");
    }

    /// <summary>What to change when a data set is too small for the held-out users of <c>reproduce</c>.</summary>
    public const string ReproduceAdvice = "hold out fewer users with --validation-users and --test-users";

    /// <summary>What to change when a data set is too small for the held-out users of <c>stats</c> and <c>split</c>.</summary>
    public const string HeldOutAdvice = "hold out fewer users with --held-out-users";

    /// <summary>
    /// Runs the protocol; a data set it cannot split (too few users, no positive ratings, bad columns) becomes a
    /// <see cref="CliException"/> that says what to change (<paramref name="advice"/>).
    /// </summary>
    public static SequenceDataset Prepare(MLContext ml, IDataView interactions, SequenceProtocolOptions options, string advice)
    {
        try
        {
            return ml.Recommendation().Data.PrepareSequences(interactions, options);
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException && e is not ArgumentNullException)
        {
            throw new CliException($"The data cannot be split as the protocol asks: {CliErrors.OneLine(e.Message)} To fix: {advice}.", e);
        }
    }

    /// <summary>
    /// The protocol of section 5: ratings &gt; 3, users with ≥ 5 items, a user split and an 80/20 fold split; or, with
    /// <paramref name="evaluation"/> = <see cref="SequenceSplit.LeaveOneOut"/>, the same data split leave-last-one-out.
    /// </summary>
    public static SequenceProtocolOptions Protocol(int validationUsers, int testUsers, int seed, FoldSplit split,
        SequenceSplit evaluation = SequenceSplit.Paper) => new()
    {
        RatingThreshold = 3,
        MinItemsPerUser = 5,
        ValidationUsers = validationUsers,
        TestUsers = testUsers,
        Seed = seed,
        FoldSplit = split,
        Split = evaluation,
    };

    /// <summary>Parses <c>--protocol</c>: <c>paper</c> or <c>leave-one-out</c>.</summary>
    public static SequenceSplit ParseProtocol(string text) => text.ToLowerInvariant() switch
    {
        "paper" => SequenceSplit.Paper,
        "leave-one-out" => SequenceSplit.LeaveOneOut,
        _ => throw new CliException($"--protocol must be paper or leave-one-out (got '{text}')."),
    };
}
