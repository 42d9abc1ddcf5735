using Microsoft.Data.Analysis;
using Microsoft.ML.Data;
using Microsoft.ML.Svae.Protocol;

namespace Microsoft.ML.Svae;

/// <summary>
/// The data protocol of section 5 of Sachdeva et al. (WSDM 2019): rating-file readers, binarization, grouping
/// into time-ordered sequences, the user split with fold-in/fold-out, the stratified user subsample, the Table 1
/// statistics and a synthetic data generator. Reached through <c>mlContext.Recommendation().Data</c> or
/// <c>mlContext.SequenceRecommendation().Data</c> (see <see cref="SequenceRecommendationExtensions"/>).
/// </summary>
/// <remarks>
/// The readers return an <see cref="IDataView"/> with the columns of <see cref="InteractionColumns"/>:
/// UserId (UInt32), ItemId (UInt32), Rating (Single) and Timestamp (Int64, seconds since the Unix epoch), one row
/// per line in file order. They parse strictly: a line with the wrong number of fields or a value that does not
/// parse raises <see cref="InteractionFormatException"/> naming the file, the 1-based line number, the line and what
/// was expected; blank lines are skipped; a file without interactions raises <see cref="InvalidDataException"/>.
/// The data is held in memory as arrays (about 20 bytes per interaction).
/// </remarks>
public sealed class SequenceDataCatalog
{
    private readonly MLContext _mlContext;

    /// <summary>Creates the catalog for <paramref name="mlContext"/>.</summary>
    public SequenceDataCatalog(MLContext mlContext)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        _mlContext = mlContext;
    }

    // ---------------------------------------------------------------- readers

    /// <summary>Reads MovieLens-1M <c>ratings.dat</c>: lines <c>UserID::MovieID::Rating::Timestamp</c>.</summary>
    /// <param name="path">The <c>ratings.dat</c> file.</param>
    public IDataView LoadMovieLens1M(string path)
        => InteractionReaders.ReadMovieLens1M(CheckPath(path)).ToDataView();

    /// <summary>Reads MovieLens-100K <c>u.data</c>: tab-separated lines <c>user item rating timestamp</c>.</summary>
    /// <param name="path">The <c>u.data</c> file.</param>
    public IDataView LoadMovieLens100K(string path)
        => InteractionReaders.ReadMovieLens100K(CheckPath(path)).ToDataView();

    /// <summary>
    /// Reads a MovieLens 20M/25M/latest <c>ratings.csv</c>: the header <c>userId,movieId,rating,timestamp</c>, then
    /// lines such as <c>1,296,5.0,1147880044</c> (half-star ratings such as 3.5 are kept as they are).
    /// </summary>
    /// <param name="path">The <c>ratings.csv</c> file.</param>
    public IDataView LoadMovieLensCsv(string path)
        => InteractionReaders.ReadMovieLensCsv(CheckPath(path)).ToDataView();

    /// <summary>
    /// Reads Netflix Prize ratings. <paramref name="directoryOrFile"/> is a rating file or a directory: from a
    /// directory the per-movie files <c>mv_*.txt</c> (the <c>training_set</c> folder) are read, or, if there are none,
    /// the Kaggle files <c>combined_data_*.txt</c>, in ordinal file-name order. A file holds blocks made of a line
    /// <c>MovieID:</c> followed by lines <c>CustomerID,Rating,YYYY-MM-DD</c>; the date becomes the Timestamp in Unix
    /// seconds at 00:00 UTC (so a user's ratings of one day tie, and keep the file order).
    /// </summary>
    /// <param name="directoryOrFile">A directory with the rating files, or a single file.</param>
    public IDataView LoadNetflixPrize(string directoryOrFile)
    {
        ArgumentException.ThrowIfNullOrEmpty(directoryOrFile);
        if (File.Exists(directoryOrFile))
            return LoadNetflixPrize(new[] { directoryOrFile });
        if (!Directory.Exists(directoryOrFile))
            throw new DirectoryNotFoundException($"'{directoryOrFile}' is neither a Netflix Prize rating file nor a directory.");
        var files = Directory.GetFiles(directoryOrFile, "mv_*.txt");
        if (files.Length == 0)
            files = Directory.GetFiles(directoryOrFile, "combined_data_*.txt");
        if (files.Length == 0)
            throw new FileNotFoundException($"The directory '{directoryOrFile}' holds no Netflix Prize rating files (mv_*.txt or combined_data_*.txt).");
        Array.Sort(files, StringComparer.Ordinal);
        return LoadNetflixPrize(files);
    }

    /// <summary>Reads the given Netflix Prize rating files, in the given order (see <see cref="LoadNetflixPrize(string)"/>).</summary>
    /// <param name="files">The rating files.</param>
    public IDataView LoadNetflixPrize(IEnumerable<string> files)
    {
        ArgumentNullException.ThrowIfNull(files);
        var list = files.ToList();
        foreach (var file in list)
            CheckPath(file);
        return InteractionReaders.ReadNetflix(list).ToDataView();
    }

    /// <summary>
    /// Reads a delimited text file whose first non-blank line is a header naming the columns (no quoting of
    /// separators; a field wholly enclosed in double quotes loses them). Every line must have as many fields as the
    /// header. Ids must be unsigned 32-bit integers (text ids are rejected with an error that names the line: map
    /// them to integers first). Without a rating column every rating is 1; without a timestamp column the
    /// Timestamp is the 0-based data row index, so the file order is the time order. Timestamps are integer Unix
    /// seconds or ISO 8601 dates/times (UTC unless an offset is given).
    /// </summary>
    /// <param name="path">The file.</param>
    /// <param name="separator">The field separator, e.g. ',' or '\t'.</param>
    /// <param name="userColumn">The header name of the user id column.</param>
    /// <param name="itemColumn">The header name of the item id column.</param>
    /// <param name="ratingColumn">The header name of the rating column, or null.</param>
    /// <param name="timestampColumn">The header name of the timestamp column, or null.</param>
    public IDataView LoadDelimited(string path, char separator, string userColumn, string itemColumn, string? ratingColumn = null, string? timestampColumn = null)
        => InteractionReaders.ReadDelimited(CheckPath(path), separator, userColumn, itemColumn, ratingColumn, timestampColumn).ToDataView();

    // ---------------------------------------------------------------- protocol

    /// <summary>
    /// Keeps the interactions whose rating is STRICTLY greater than <paramref name="threshold"/> (section 5.1: "strictly
    /// greater than 3"), with ML.NET's <c>FilterRowsByColumn</c> and a lower bound just above the threshold. A Single
    /// or Double rating column is filtered directly; an integer column is first converted to Single with
    /// <c>ConvertType</c> into a temporary column that is dropped afterwards. The result is lazy and keeps the input's
    /// columns and row order.
    /// </summary>
    /// <remarks>
    /// A Single or Double rating column is checked first, in one pass: a NaN (a missing rating) or an infinite rating
    /// raises <see cref="InvalidDataException"/> naming the 0-based row and the value (remove missing ratings first,
    /// e.g. with <c>mlContext.Data.FilterRowsByMissingValues</c>). Every finite rating is compared with the threshold as
    /// it is, whatever its scale: negative and zero ratings (e.g. dislikes) are below the default threshold and dropped
    /// like any other low rating, and a huge finite rating such as 1e30 is a positive; no rating scale is assumed.
    /// </remarks>
    /// <param name="interactions">The interactions.</param>
    /// <param name="threshold">Ratings must be greater than this (compared as a Double).</param>
    /// <param name="ratingColumnName">The numeric rating column.</param>
    public IDataView Binarize(IDataView interactions, float threshold = 3, string ratingColumnName = InteractionColumns.Rating)
    {
        ArgumentNullException.ThrowIfNull(interactions);
        if (!float.IsFinite(threshold))
            throw new ArgumentOutOfRangeException(nameof(threshold), $"The rating threshold must be a finite number (got {threshold}).");
        var column = SchemaChecks.Column(interactions.Schema, ratingColumnName, "rating");
        double lowerBound = Math.BitIncrement((double)threshold);
        if (column.Type == NumberDataViewType.Single || column.Type == NumberDataViewType.Double)
        {
            InteractionViewReader.CheckFiniteRatings(interactions, column);
            return _mlContext.Data.FilterRowsByColumn(interactions, ratingColumnName, lowerBound: lowerBound);
        }
        if (column.Type is NumberDataViewType)
        {
            const string temporary = "__SvaeRatingAsSingle";
            var converted = _mlContext.Transforms.Conversion.ConvertType(temporary, ratingColumnName, DataKind.Single)
                .Fit(interactions).Transform(interactions);
            var filtered = _mlContext.Data.FilterRowsByColumn(converted, temporary, lowerBound: lowerBound);
            return _mlContext.Transforms.DropColumns(temporary).Fit(filtered).Transform(filtered);
        }
        throw new ArgumentOutOfRangeException(ratingColumnName,
            $"The rating column '{ratingColumnName}' must be numeric (Single, Double or an integer type) to be binarized, but its type is {SchemaChecks.Describe(column.Type)}.");
    }

    /// <summary>
    /// Runs the protocol of section 5 and returns the training, validation and test users' sequences.
    /// </summary>
    /// <remarks>
    /// <para>Steps, in order:</para>
    /// <list type="number">
    /// <item><description>If <see cref="SequenceProtocolOptions.RatingThreshold"/> is set, only ratings greater than the threshold
    /// are kept, compared as <see cref="Binarize"/> does; a NaN or infinite rating is an error naming its row. Without a
    /// threshold the rating column is not read. Row numbers in errors always count the rows of <paramref name="interactions"/>.</description></item>
    /// <item><description>Users with fewer than <see cref="SequenceProtocolOptions.MinItemsPerUser"/> events are dropped.</description></item>
    /// <item><description>Each user's events are sorted stably by (timestamp, input row order): events in the same second
    /// keep the order in which they appear in the input (on MovieLens about two thirds of the positive events share
    /// their second with another event of the same user, so this tie rule matters). Repeated (user, item) events are kept.</description></item>
    /// <item><description>If <see cref="SequenceProtocolOptions.MaxHistoryLength"/> is set, only the most recent events are kept.</description></item>
    /// <item><description>Users are split into train, validation and test: the users, in ascending raw id order, are
    /// permuted with <c>new Random(Seed)</c> (Fisher–Yates); the last TestUsers users are test, the ValidationUsers
    /// before them validation, the rest train (counts from the options, or round(fraction × users)).</description></item>
    /// <item><description>The item vocabulary is the set of items of the training users only, keys 1..N in ascending raw id order
    /// (ordinal order for text ids).</description></item>
    /// <item><description>Held-out users: events on items outside the vocabulary are dropped and counted; a user left with
    /// fewer than 2 events is dropped and counted; the rest is split into fold-in and fold-out with
    /// <c>clamp(floor((1 − FoldOutFraction)·n), 1, n − 1)</c> fold-in events: the first ones in time order
    /// (<see cref="FoldSplit.Temporal"/>) or a seeded random subset kept in time order (<see cref="FoldSplit.Random"/>).</description></item>
    /// </list>
    /// <para>The grouping, sorting and splitting are array code (about 0.1–0.3 s for MovieLens-1M).</para>
    /// </remarks>
    /// <param name="interactions">The interactions (e.g. from a reader).</param>
    /// <param name="options">The options; null for the defaults.</param>
    public SequenceDataset PrepareSequences(IDataView interactions, SequenceProtocolOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(interactions);
        options = (options ?? new SequenceProtocolOptions()).Clone();
        options.Validate();
        var schema = interactions.Schema;
        SchemaChecks.Column(schema, options.UserIdColumnName, "user id");
        SchemaChecks.Column(schema, options.ItemIdColumnName, "item id");
        if (options.TimestampColumnName is not null)
            SchemaChecks.Column(schema, options.TimestampColumnName, "timestamp");

        long eventsRead = InteractionViewReader.CountRows(interactions);
        if (eventsRead == 0)
            throw new ArgumentException("The interaction data view is empty (0 rows): there is nothing to prepare.", nameof(interactions));
        // Binarization (as Binarize does) happens while reading, so that errors name the rows of the input.
        var table = InteractionViewReader.Read(interactions, options.UserIdColumnName, options.ItemIdColumnName,
            options.RatingThreshold is null ? null : options.RatingColumnName, options.TimestampColumnName, options.RatingThreshold);
        if (table.Count == 0)
            throw new InvalidOperationException(
                $"No interaction has a rating greater than {options.RatingThreshold} in column '{options.RatingColumnName}' ({eventsRead} interactions read): " +
                "check the threshold or set RatingThreshold = null for implicit data.");
        return SequenceProtocol.Run(_mlContext, table, options, eventsRead, table.Count);
    }

    /// <summary>
    /// Stratified user subsample (section 5.1, the Netflix subset): returns the interactions of about
    /// <paramref name="targetUsers"/> users (exactly that many if there are more users), all their rows, with the
    /// input's schema and row order.
    /// </summary>
    /// <remarks>
    /// A user's history length is their number of rows in <paramref name="interactions"/> (binarize first to stratify
    /// on positive histories as the authors did). Strata are log2 bins of the length: lengths 1, 2–3, 4–7, 8–15, …
    /// Stratum s with N_s users contributes <c>n_s = min(N_s, λ·N_s^(1 − α))</c> users, λ set so that the n_s sum to
    /// the target (largest remainders for the rounding). With α = <paramref name="allocationExponent"/> = 1 the sampling
    /// fraction of a stratum is inversely proportional to its size (the paper's rule): every stratum gets the same
    /// number of users unless it has fewer, in which case all are kept — short histories (the crowded strata) are
    /// undersampled and long histories kept. Smaller α keeps more of the original shape (α = 0: uniform sampling).
    /// Within a stratum, users (in ascending raw id order) are drawn without replacement with <c>new Random(seed)</c>.
    /// If <paramref name="targetUsers"/> is at least the number of users, the input is returned unchanged.
    /// </remarks>
    /// <param name="interactions">The interactions.</param>
    /// <param name="targetUsers">The number of users to keep.</param>
    /// <param name="seed">The seed of the draw.</param>
    /// <param name="userColumnName">The user id column (the types of <see cref="SequenceProtocolOptions.UserIdColumnName"/>).</param>
    /// <param name="allocationExponent">α in [0, 1]; 1 (default) = sampling fraction inversely proportional to stratum size.</param>
    public IDataView StratifiedUserSample(IDataView interactions, int targetUsers, int seed = 98765,
        string userColumnName = InteractionColumns.UserId, double allocationExponent = 1.0)
    {
        ArgumentNullException.ThrowIfNull(interactions);
        if (targetUsers < 1)
            throw new ArgumentOutOfRangeException(nameof(targetUsers), $"targetUsers must be at least 1 (got {targetUsers}).");
        if (!(allocationExponent >= 0 && allocationExponent <= 1))
            throw new ArgumentOutOfRangeException(nameof(allocationExponent), $"allocationExponent must be in [0, 1] (got {allocationExponent}).");
        var users = InteractionViewReader.ReadIds(interactions, userColumnName, "user id");
        if (users.Length == 0)
            throw new ArgumentException("The interaction data view is empty (0 rows): there are no users to sample.", nameof(interactions));
        var result = StratifiedUserSampler.Sample(users, targetUsers, seed, allocationExponent);
        if (result.Users.Count == users.Distinct().Count())
            return interactions;
        return new RowMaskDataView(interactions, result.KeepRow);
    }

    /// <summary>
    /// The Table 1 statistics of a prepared data set, as a one-row <see cref="DataFrame"/> with the columns
    /// <c>Dataset</c> (the name), <c>Users</c> (all three splits), <c>Items</c> (<see cref="SequenceDataset.ItemCount"/>),
    /// <c>Interactions</c> (training histories plus held-out fold-in and fold-out events), <c>Density (%)</c>
    /// (100·interactions / (users·items)), <c>Avg history</c>, <c>Median history</c> (the mean of the two middle values
    /// for an even count), <c>Max history</c> (per user, fold-in + fold-out for held-out users) and
    /// <c>Held-out users</c> (validation + test). Rows of several data sets can be combined with <c>DataFrame.Append</c>.
    /// </summary>
    /// <param name="dataset">The prepared data set.</param>
    /// <param name="datasetName">The name shown in the Dataset column.</param>
    public DataFrame ComputeStatistics(SequenceDataset dataset, string datasetName = "")
    {
        ArgumentNullException.ThrowIfNull(dataset);
        return DatasetStatistics.FromDataset(dataset, datasetName ?? "");
    }

    /// <summary>
    /// The Table 1 statistics of an interaction log (as <see cref="ComputeStatistics(SequenceDataset, string)"/>, with
    /// every row counted, Items = distinct item ids and Held-out users = 0), e.g. for the "Netflix-Full" column.
    /// </summary>
    /// <param name="interactions">The interactions.</param>
    /// <param name="datasetName">The name shown in the Dataset column.</param>
    /// <param name="userColumnName">The user id column.</param>
    /// <param name="itemColumnName">The item id column.</param>
    public DataFrame ComputeStatistics(IDataView interactions, string datasetName = "",
        string userColumnName = InteractionColumns.UserId, string itemColumnName = InteractionColumns.ItemId)
    {
        ArgumentNullException.ThrowIfNull(interactions);
        var table = InteractionViewReader.Read(interactions, userColumnName, itemColumnName, null, null);
        return DatasetStatistics.FromInteractions(table, datasetName ?? "");
    }

    // ---------------------------------------------------------------- synthetic data

    /// <summary>
    /// Generates a SYNTHETIC interaction log (not real data) with the reader's columns, ratings 1–5 (so that
    /// binarization matters), timestamps with ties, and learnable sequential structure; see
    /// <see cref="SyntheticInteractionOptions"/> for the model. The same options always give the same log.
    /// <see cref="SyntheticInteractionOptions.MovieLens1MShape"/> is shaped like MovieLens-1M.
    /// </summary>
    /// <param name="options">The options.</param>
    public IDataView GenerateSyntheticInteractions(SyntheticInteractionOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return SyntheticInteractions.Generate(options).ToDataView();
    }

    private static string CheckPath(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path))
            throw new FileNotFoundException($"The interaction file '{path}' does not exist.", path);
        return path;
    }
}
