using System.Globalization;
using System.Text;
using Microsoft.Data.Analysis;

namespace Microsoft.ML.Svae;

/// <summary>
/// Top-n recommendation metrics of section 5.2 of Sachdeva et al. (WSDM 2019) over held-out users:
/// NDCG@n, Recall@n and Precision@n for each cutoff n, averaged over the users whose fold-out is not empty.
/// </summary>
/// <remarks>
/// <para>For each user, all items not in the fold-in are ranked and the first n are compared with the
/// fold-out set R (duplicates counted once):</para>
/// <list type="bullet">
/// <item><c>NDCG@n = DCG@n / IDCG@n</c> with <c>DCG@n = Σ_{i=1..n} r_i / log2(i + 1)</c> and
/// <c>IDCG@n = Σ_{i=1..min(|R|, n)} 1 / log2(i + 1)</c>;</item>
/// <item><c>Recall@n = Hits@n / |R|</c> (so it stays below 1 when |R| &gt; n);</item>
/// <item><c>Precision@n = Hits@n / n</c>.</item>
/// </list>
/// <para>An item that is in both the fold-in and the fold-out stays in R but can never be hit, because seen
/// items are never recommended. Users with an empty fold-out are left out of every mean and counted in
/// <see cref="SkippedUsers"/>.</para>
/// </remarks>
public sealed class RecommendationMetrics
{
    private static readonly string[] s_metricNames = ["NDCG", "Recall", "Precision"];
    private const int NdcgIndex = 0, RecallIndex = 1, PrecisionIndex = 2;

    private readonly int[] _cutoffs;
    private readonly long[] _users;
    private readonly int[] _historyLengths;
    private readonly int[] _foldOutSizes;
    // Row-major: user u's values start at u * _stride, metric m's block at m * cutoffs, cutoff c within it.
    private readonly double[] _values;
    private readonly int _stride;
    private readonly double[] _means;
    private readonly int[] _bucketEdges;
    private readonly string[] _columnNames;
    private readonly Dictionary<string, double> _meansByName;
    private DataFrame? _perUser;
    private DataFrame? _byHistoryLength;

    internal RecommendationMetrics(
        int[] cutoffs,
        long[] users,
        int[] historyLengths,
        int[] foldOutSizes,
        double[] values,
        int skippedUsers,
        int[] bucketEdges)
    {
        _cutoffs = cutoffs;
        _users = users;
        _historyLengths = historyLengths;
        _foldOutSizes = foldOutSizes;
        _values = values;
        _stride = s_metricNames.Length * cutoffs.Length;
        _bucketEdges = bucketEdges;
        SkippedUsers = skippedUsers;

        _means = new double[_stride];
        int userCount = users.Length;
        for (int u = 0; u < userCount; u++)
        {
            var row = values.AsSpan(u * _stride, _stride);
            for (int j = 0; j < _stride; j++)
                _means[j] += row[j];
        }
        for (int j = 0; j < _stride; j++)
            _means[j] = userCount == 0 ? double.NaN : _means[j] / userCount;

        _columnNames = new string[_stride];
        _meansByName = new Dictionary<string, double>(_stride, StringComparer.Ordinal);
        for (int m = 0; m < s_metricNames.Length; m++)
        {
            for (int c = 0; c < cutoffs.Length; c++)
            {
                string name = MetricName(s_metricNames[m], cutoffs[c]);
                _columnNames[m * cutoffs.Length + c] = name;
                _meansByName.Add(name, _means[m * cutoffs.Length + c]);
            }
        }
    }

    /// <summary>The cutoffs n, ascending and distinct.</summary>
    public IReadOnlyList<int> Cutoffs => _cutoffs;

    /// <summary>The number of users evaluated (those with a non-empty fold-out).</summary>
    public int UserCount => _users.Length;

    /// <summary>The number of users left out because their fold-out was empty.</summary>
    public int SkippedUsers { get; }

    /// <summary>
    /// The lower edges of the fold-in-length buckets of <see cref="ByHistoryLength"/>, ascending and starting at 0:
    /// bucket i holds lengths in <c>[edges[i], edges[i + 1])</c>, the last bucket lengths ≥ its edge.
    /// </summary>
    public IReadOnlyList<int> HistoryLengthBucketEdges => _bucketEdges;

    /// <summary>
    /// The mean of each metric over the evaluated users, keyed <c>"NDCG@10"</c>, <c>"Recall@10"</c>,
    /// <c>"Precision@10"</c>, ... (NaN when no user was evaluated). Enumerates NDCG at every cutoff, then
    /// Recall, then Precision.
    /// </summary>
    public IReadOnlyDictionary<string, double> Means => _meansByName;

    /// <summary>The mean NDCG@<paramref name="n"/>; <paramref name="n"/> must be one of <see cref="Cutoffs"/>.</summary>
    public double Ndcg(int n) => _means[NdcgIndex * _cutoffs.Length + CutoffIndex(n)];

    /// <summary>The mean Recall@<paramref name="n"/> (hits / |R|); <paramref name="n"/> must be one of <see cref="Cutoffs"/>.</summary>
    public double Recall(int n) => _means[RecallIndex * _cutoffs.Length + CutoffIndex(n)];

    /// <summary>The mean Precision@<paramref name="n"/> (hits / n); <paramref name="n"/> must be one of <see cref="Cutoffs"/>.</summary>
    public double Precision(int n) => _means[PrecisionIndex * _cutoffs.Length + CutoffIndex(n)];

    /// <summary>
    /// The hit rate HR@<paramref name="n"/>: the share of evaluated users with at least one fold-out item among their
    /// first n recommendations (NaN when no user was evaluated); <paramref name="n"/> must be one of <see cref="Cutoffs"/>.
    /// </summary>
    /// <remarks>
    /// With a single target per user (<see cref="SequenceSplit.LeaveOneOut"/>), HR@n equals Recall@n and NDCG@n is
    /// <c>1 / log2(rank + 1)</c> for a target at rank ≤ n, else 0.
    /// </remarks>
    public double HitRate(int n)
    {
        int offset = RecallIndex * _cutoffs.Length + CutoffIndex(n);
        int users = _users.Length, hits = 0;
        for (int u = 0; u < users; u++)
            if (_values[u * _stride + offset] > 0)
                hits++;
        return users == 0 ? double.NaN : (double)hits / users;
    }

    /// <summary>
    /// One row per evaluated user, in input order: <c>User</c> (the user id when the data has one, else the
    /// 0-based row index), <c>HistoryLength</c> (fold-in length), <c>FoldOutSize</c> (|R|, distinct items),
    /// then one column per metric, named as in <see cref="Means"/>. Built on first access and cached.
    /// </summary>
    public DataFrame PerUser => _perUser ??= BuildPerUser();

    /// <summary>
    /// The metrics by fold-in length (figure 4 of the paper): one row per bucket of
    /// <see cref="HistoryLengthBucketEdges"/>, with columns <c>Bucket</c> (e.g. <c>"[10,20)"</c>,
    /// <c>"[320,inf)"</c>), <c>Users</c>, then the mean of each metric in the bucket (missing when the bucket
    /// is empty). Built on first access and cached.
    /// </summary>
    public DataFrame ByHistoryLength => _byHistoryLength ??= BuildByHistoryLength();

    /// <summary>A one-line summary, e.g. <c>NDCG@10 0.1234 NDCG@100 0.2345 ... (1000 users, 2 skipped)</c>.</summary>
    public override string ToString()
    {
        var text = new StringBuilder();
        for (int j = 0; j < _stride; j++)
        {
            if (j > 0)
                text.Append(' ');
            text.Append(_columnNames[j]).Append(' ').Append(_means[j].ToString("F4", CultureInfo.InvariantCulture));
        }
        text.Append(CultureInfo.InvariantCulture, $" ({UserCount} users, {SkippedUsers} skipped)");
        return text.ToString();
    }

    /// <summary>
    /// The mean metrics as a readable table, one row per metric and one column per cutoff, then the user counts:
    /// <code>
    /// Metric        @10    @100
    /// ---------  ------  ------
    /// NDCG       0.1234  0.2345
    /// Recall     0.0987  0.4321
    /// Precision  0.0500  0.0150
    /// 1000 users evaluated, 2 skipped (empty fold-out)
    /// </code>
    /// Values have four decimals (invariant culture); lines end with <see cref="Environment.NewLine"/>. For the
    /// per-user and per-history-length tables, see <see cref="PerUser"/>, <see cref="ByHistoryLength"/> and
    /// <see cref="DataFrameText.ToText(DataFrame, int)"/>.
    /// </summary>
    public string ToText()
    {
        var headers = new List<string> { "Metric" };
        headers.AddRange(_cutoffs.Select(c => "@" + c.ToString(CultureInfo.InvariantCulture)));
        var rightAligned = headers.Select((_, i) => i > 0).ToArray();
        var rows = new List<IReadOnlyList<string>>();
        for (int m = 0; m < s_metricNames.Length; m++)
        {
            var row = new List<string> { s_metricNames[m] };
            for (int c = 0; c < _cutoffs.Length; c++)
                row.Add(DataFrameText.FormatCell(_means[m * _cutoffs.Length + c]));
            rows.Add(row);
        }
        return DataFrameText.Format(headers, rightAligned, rows) + Environment.NewLine +
            string.Create(CultureInfo.InvariantCulture, $"{UserCount} users evaluated, {SkippedUsers} skipped (empty fold-out)");
    }

    internal static string MetricName(string metric, int cutoff) => metric + "@" + cutoff.ToString(CultureInfo.InvariantCulture);

    /// <summary>User <paramref name="user"/>'s (0-based among evaluated users) value of a metric; for tests.</summary>
    internal double UserValue(int user, string metricName)
    {
        int j = Array.IndexOf(_columnNames, metricName);
        if (j < 0)
            throw new ArgumentOutOfRangeException(nameof(metricName), $"Unknown metric '{metricName}'.");
        return _values[user * _stride + j];
    }

    private int CutoffIndex(int n)
    {
        int index = Array.IndexOf(_cutoffs, n);
        if (index < 0)
            throw new ArgumentOutOfRangeException(nameof(n),
                $"No metric at cutoff {n} was computed; the cutoffs are {string.Join(", ", _cutoffs)}.");
        return index;
    }

    private DataFrame BuildPerUser()
    {
        int userCount = _users.Length;
        var columns = new List<DataFrameColumn>
        {
            new Int64DataFrameColumn("User", _users),
            new Int32DataFrameColumn("HistoryLength", _historyLengths),
            new Int32DataFrameColumn("FoldOutSize", _foldOutSizes),
        };
        for (int j = 0; j < _stride; j++)
        {
            var values = new double[userCount];
            for (int u = 0; u < userCount; u++)
                values[u] = _values[u * _stride + j];
            columns.Add(new DoubleDataFrameColumn(_columnNames[j], values));
        }
        return new DataFrame(columns);
    }

    private DataFrame BuildByHistoryLength()
    {
        int bucketCount = _bucketEdges.Length;
        var users = new int[bucketCount];
        var sums = new double[bucketCount * _stride];
        for (int u = 0; u < _users.Length; u++)
        {
            int b = BucketOf(_historyLengths[u]);
            users[b]++;
            var row = _values.AsSpan(u * _stride, _stride);
            var sum = sums.AsSpan(b * _stride, _stride);
            for (int j = 0; j < _stride; j++)
                sum[j] += row[j];
        }

        var labels = new string[bucketCount];
        for (int b = 0; b < bucketCount; b++)
        {
            string upper = b + 1 < bucketCount ? _bucketEdges[b + 1].ToString(CultureInfo.InvariantCulture) : "inf";
            labels[b] = "[" + _bucketEdges[b].ToString(CultureInfo.InvariantCulture) + "," + upper + ")";
        }

        var columns = new List<DataFrameColumn>
        {
            new StringDataFrameColumn("Bucket", labels),
            new Int32DataFrameColumn("Users", users),
        };
        for (int j = 0; j < _stride; j++)
        {
            var means = new double?[bucketCount];
            for (int b = 0; b < bucketCount; b++)
                means[b] = users[b] == 0 ? null : sums[b * _stride + j] / users[b];
            columns.Add(new DoubleDataFrameColumn(_columnNames[j], means));
        }
        return new DataFrame(columns);
    }

    private int BucketOf(int length)
    {
        // The last edge ≤ length; edges start at 0 and lengths are ≥ 0.
        int index = Array.BinarySearch(_bucketEdges, length);
        return index >= 0 ? index : ~index - 1;
    }
}
