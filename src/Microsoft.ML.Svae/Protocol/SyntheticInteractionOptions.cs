namespace Microsoft.ML.Svae;

/// <summary>
/// Options of <see cref="SequenceDataCatalog.GenerateSyntheticInteractions(SyntheticInteractionOptions)"/>:
/// a SYNTHETIC rating log with learnable sequential structure (not real user data).
/// </summary>
/// <remarks>
/// <para>Model. Items have Zipf popularity (<see cref="ZipfExponent"/>) and belong to one of <see cref="Genres"/>
/// genres; each item has <see cref="SuccessorsPerItem"/> preferred successors (mostly of its genre, weights 1/2, 1/4, …).
/// Each user has a log-normal history length (mean <see cref="MeanHistoryLength"/>, log-scale spread
/// <see cref="HistoryLengthSigma"/>) clipped to [<see cref="MinHistoryLength"/>, <see cref="MaxHistoryLength"/>],
/// and a current genre that drifts (<see cref="GenreDriftRate"/> per positive event).</para>
/// <para>Each event is positive (rating 4 or 5) with probability <see cref="PositiveFraction"/>, otherwise a negative
/// (rating 1, 2 or 3) on a popularity-drawn item: negatives are noise that binarization (rating &gt; 3) removes. A
/// positive event follows a preferred successor of the user's previous positive item with probability
/// <see cref="TransitionStrength"/>, else an item of the user's current genre with probability
/// <see cref="GenreAffinity"/>, else a popularity-drawn item. A user never interacts with the same item twice.
/// The structure is therefore sequential (the next positive item depends on the previous one), which a sequence
/// model can learn and POP cannot.</para>
/// <para>Timestamps: each user starts at a random time in 2000–2002; an event shares the second of the previous
/// event with probability <see cref="TieProbability"/>, else follows after an exponential gap (mostly about a
/// minute, sometimes days). Rows are emitted user by user in the true event order, so the protocol's tie rule
/// (input order) recovers the generated order. Users have raw ids 1..Users; item raw ids are a seeded permutation
/// of 1..Items (unrelated to popularity).</para>
/// </remarks>
public sealed class SyntheticInteractionOptions
{
    /// <summary>Number of users. Default 1,000.</summary>
    public int Users { get; set; } = 1000;

    /// <summary>Number of items. Default 500.</summary>
    public int Items { get; set; } = 500;

    /// <summary>Mean of the (unclipped) log-normal history length, all ratings included. Default 60.</summary>
    public double MeanHistoryLength { get; set; } = 60;

    /// <summary>Standard deviation of the logarithm of the history length. Default 1.0.</summary>
    public double HistoryLengthSigma { get; set; } = 1.0;

    /// <summary>Shortest history (all ratings included). Default 20 (as MovieLens).</summary>
    public int MinHistoryLength { get; set; } = 20;

    /// <summary>Longest history (all ratings included; also capped at <see cref="Items"/>). Default 400.</summary>
    public int MaxHistoryLength { get; set; } = 400;

    /// <summary>Probability that an event is positive (rating 4 or 5). Default 0.575 (MovieLens-1M's share of ratings above 3).</summary>
    public double PositiveFraction { get; set; } = 0.575;

    /// <summary>Probability that a positive event follows a preferred successor of the previous positive item. Default 0.5.</summary>
    public double TransitionStrength { get; set; } = 0.5;

    /// <summary>Preferred successors per item. Default 3.</summary>
    public int SuccessorsPerItem { get; set; } = 3;

    /// <summary>Number of genres (item clusters). Default 20.</summary>
    public int Genres { get; set; } = 20;

    /// <summary>Probability that a positive event not following a successor comes from the user's current genre. Default 0.7.</summary>
    public double GenreAffinity { get; set; } = 0.7;

    /// <summary>Probability, per positive event, that the user's current genre changes. Default 0.02.</summary>
    public double GenreDriftRate { get; set; } = 0.02;

    /// <summary>Exponent s of the Zipf popularity 1/rank^s. Default 0.9.</summary>
    public double ZipfExponent { get; set; } = 0.9;

    /// <summary>Probability that an event has the same timestamp (second) as the previous event of the user. Default 0.6.</summary>
    public double TieProbability { get; set; } = 0.6;

    /// <summary>Seed: the same options and seed always give the same log. Default 42.</summary>
    public int Seed { get; set; } = 42;

    /// <summary>
    /// A log shaped like MovieLens-1M: 6,040 users, 3,706 items, history lengths with mean about 165, median about
    /// 96 and maximum 2,314 (all ratings), about 57.5% of the ratings above 3 (about 575K positive interactions).
    /// </summary>
    public static SyntheticInteractionOptions MovieLens1MShape(int seed = 42) => new()
    {
        Users = 6040,
        Items = 3706,
        MeanHistoryLength = 165,
        HistoryLengthSigma = 1.04,
        MinHistoryLength = 20,
        MaxHistoryLength = 2314,
        PositiveFraction = 0.575,
        Seed = seed,
    };

    internal void Validate()
    {
        static void Check(bool ok, string name, object value, string rule)
        {
            if (!ok)
                throw new ArgumentOutOfRangeException(name, $"{name} {rule} (got {value}).");
        }
        Check(Users >= 1, nameof(Users), Users, "must be at least 1");
        Check(Items >= 2, nameof(Items), Items, "must be at least 2");
        Check(MeanHistoryLength >= 1 && double.IsFinite(MeanHistoryLength), nameof(MeanHistoryLength), MeanHistoryLength, "must be at least 1");
        Check(HistoryLengthSigma >= 0 && HistoryLengthSigma <= 5, nameof(HistoryLengthSigma), HistoryLengthSigma, "must be in [0, 5]");
        Check(MinHistoryLength >= 1, nameof(MinHistoryLength), MinHistoryLength, "must be at least 1");
        Check(MaxHistoryLength >= MinHistoryLength, nameof(MaxHistoryLength), MaxHistoryLength, $"must be at least MinHistoryLength = {MinHistoryLength}");
        Check(MinHistoryLength <= Items, nameof(MinHistoryLength), MinHistoryLength, $"must not exceed Items = {Items} (users never repeat an item)");
        Check(PositiveFraction is >= 0 and <= 1, nameof(PositiveFraction), PositiveFraction, "must be in [0, 1]");
        Check(TransitionStrength is >= 0 and <= 1, nameof(TransitionStrength), TransitionStrength, "must be in [0, 1]");
        Check(SuccessorsPerItem >= 1 && SuccessorsPerItem < Items, nameof(SuccessorsPerItem), SuccessorsPerItem, "must be between 1 and Items - 1");
        Check(Genres >= 1 && Genres <= Items, nameof(Genres), Genres, "must be between 1 and Items");
        Check(GenreAffinity is >= 0 and <= 1, nameof(GenreAffinity), GenreAffinity, "must be in [0, 1]");
        Check(GenreDriftRate is >= 0 and <= 1, nameof(GenreDriftRate), GenreDriftRate, "must be in [0, 1]");
        Check(ZipfExponent >= 0 && ZipfExponent <= 5, nameof(ZipfExponent), ZipfExponent, "must be in [0, 5]");
        Check(TieProbability is >= 0 and < 1, nameof(TieProbability), TieProbability, "must be in [0, 1)");
    }
}
