using System.Globalization;
using System.Text;
using Microsoft.Data.Analysis;
using Microsoft.ML.Svae;

namespace Svae.Cli;

/// <summary>The results table: one row per model, the six metrics of Table 2 (percent, mean over split seeds).</summary>
internal static class Results
{
    public static readonly string[] Metrics = { "NDCG@10", "NDCG@100", "Recall@10", "Recall@100", "Precision@10", "Precision@100" };

    /// <summary>The leave-one-out table's metrics: one target per user, so HR@n (= Recall@n) and NDCG@n.</summary>
    public static readonly string[] LeaveOneOutMetrics = { "NDCG@10", "HR@10", "NDCG@100", "HR@100" };

    /// <summary>A metric's value: <c>HR@n</c> from <see cref="RecommendationMetrics.HitRate(int)"/>, the others from the means.</summary>
    public static double Value(RecommendationMetrics metrics, string name)
        => name.StartsWith("HR@", StringComparison.Ordinal) ? metrics.HitRate(int.Parse(name[3..], CultureInfo.InvariantCulture)) : metrics.Means[name];

    /// <summary>
    /// The leave-one-out table: NDCG@10, HR@10, NDCG@100, HR@100 (percent, mean over the seeds), the standard deviation of
    /// NDCG@10 and HR@10 over the seeds (empty with one seed), and the training time.
    /// </summary>
    public static DataFrame LeaveOneOutTable(IReadOnlyList<ModelRun> runs)
    {
        var groups = runs.GroupBy(r => r.Model.Name).ToList();
        var columns = new List<DataFrameColumn>
        {
            new StringDataFrameColumn("Model", groups.Select(g => g.Key)),
            new StringDataFrameColumn("Protocol", groups.Select(_ => "leave-last-one-out")),
            new Int32DataFrameColumn("Seeds", groups.Select(g => g.Count())),
        };
        foreach (string metric in LeaveOneOutMetrics)
            columns.Add(new DecimalDataFrameColumn(metric, groups.Select(g => Percent(g.Average(r => Value(r.Metrics, metric))))));
        foreach (string metric in LeaveOneOutMetrics[..2])
            columns.Add(new DecimalDataFrameColumn(metric + " sd", groups.Select(g => g.Count() < 2 ? (decimal?)null : Percent(StandardDeviation(g.Select(r => Value(r.Metrics, metric)).ToList())))));
        columns.Add(new DecimalDataFrameColumn("Train seconds", groups.Select(g => Math.Round((decimal)g.Average(r => r.TrainSeconds), 1))));
        return new DataFrame(columns);
    }

    /// <summary>The sample standard deviation of two or more values.</summary>
    private static double StandardDeviation(IReadOnlyList<double> values)
    {
        double mean = values.Average();
        return Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Count - 1));
    }

    public static DataFrame Table(IReadOnlyList<ModelRun> runs, bool withPaper)
    {
        var groups = runs.GroupBy(r => r.Model.Name).ToList();
        var columns = new List<DataFrameColumn>
        {
            new StringDataFrameColumn("Model", groups.Select(g => g.Key)),
            new StringDataFrameColumn("Protocol", groups.Select(g => g.First().Model.ProtocolDescription)),
            new Int32DataFrameColumn("Splits", groups.Select(g => g.Count())),
        };
        foreach (string metric in Metrics)
            columns.Add(new DecimalDataFrameColumn(metric, groups.Select(g => Percent(g.Average(r => r.Metrics.Means[metric])))));
        columns.Add(new DecimalDataFrameColumn("NDCG@100 min", groups.Select(g => Percent(g.Min(r => r.Metrics.Means["NDCG@100"])))));
        columns.Add(new DecimalDataFrameColumn("NDCG@100 max", groups.Select(g => Percent(g.Max(r => r.Metrics.Means["NDCG@100"])))));
        columns.Add(new DecimalDataFrameColumn("Train seconds", groups.Select(g => Math.Round((decimal)g.Average(r => r.TrainSeconds), 1))));
        if (withPaper)
            for (int m = 0; m < Metrics.Length; m++)
            {
                int index = m;
                columns.Add(new DecimalDataFrameColumn("Paper " + Metrics[m], groups.Select(g => (decimal?)g.First().Model.PaperMovieLens1M?[index])));
            }
        return new DataFrame(columns);
    }

    /// <summary>A fraction as a percentage with two decimals (decimal, so the CSV shows 36.61, not 36.609999999999999).</summary>
    private static decimal Percent(double fraction) => Math.Round((decimal)(100 * fraction), 2);

    public static void WriteCsv(DataFrame table, string path)
        => AtomicFile.Write(path, temporary => DataFrame.SaveCsv(table, temporary, cultureInfo: CultureInfo.InvariantCulture));

    public static string Markdown(DataFrame table, string title, IEnumerable<string> notes)
    {
        var text = new StringBuilder();
        text.AppendLine($"# {title}").AppendLine();
        foreach (string note in notes) text.AppendLine(note);
        text.AppendLine();
        text.AppendLine("| " + string.Join(" | ", table.Columns.Select(c => c.Name)) + " |");
        text.AppendLine("|" + string.Concat(table.Columns.Select(c => c is StringDataFrameColumn ? " --- |" : " ---: |")));
        for (long row = 0; row < table.Rows.Count; row++)
            text.AppendLine("| " + string.Join(" | ", table.Columns.Select(c => Format(c[row]))) + " |");
        return text.ToString();
    }

    private static string Format(object? value) => value switch
    {
        null => "",
        double d => d.ToString("0.00", CultureInfo.InvariantCulture),
        decimal m => m.ToString("0.00", CultureInfo.InvariantCulture),
        _ => Convert.ToString(value, CultureInfo.InvariantCulture) ?? "",
    };
}
