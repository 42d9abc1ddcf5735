using Microsoft.Data.Analysis;
using Microsoft.ML.Svae;
using ScottPlot;

namespace Svae.Cli;

/// <summary>The paper's figures 4-6 as PNG files.</summary>
internal static class Figures
{
    private const int Width = 900;
    private const int Height = 520;

    /// <summary>Fig. 4: NDCG@100 by fold-in history length, one line per model.</summary>
    public static void HistoryLength(string path, IReadOnlyList<(string Model, RecommendationMetrics Metrics)> models, string dataset)
    {
        var plot = new Plot();
        string[]? labels = null;
        foreach (var (name, metrics) in models)
        {
            DataFrame table = metrics.ByHistoryLength;
            var buckets = table.Columns["Bucket"];
            var users = table.Columns["Users"];
            var ndcg = table.Columns["NDCG@100"];
            var xs = new List<double>();
            var ys = new List<double>();
            labels ??= Enumerable.Range(0, (int)table.Rows.Count).Select(i => Convert.ToString(buckets[i]) ?? "").ToArray();
            for (int i = 0; i < table.Rows.Count; i++)
                if (Convert.ToInt32(users[i]) > 0 && ndcg[i] is double value)
                {
                    xs.Add(i);
                    ys.Add(100 * value);
                }
            var line = plot.Add.Scatter(xs.ToArray(), ys.ToArray());
            line.LegendText = name;
        }
        if (labels is not null)
            plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
                Enumerable.Range(0, labels.Length).Select(i => (double)i).ToArray(), labels);
        plot.Title($"NDCG@100 by history length ({dataset})");
        plot.XLabel("fold-in length");
        plot.YLabel("NDCG@100 (%)");
        plot.ShowLegend();
        AtomicFile.Write(path, temporary => plot.SavePng(temporary, Width, Height));
    }

    /// <summary>Fig. 5: SVAE's NDCG@100 against k, the number of next items predicted.</summary>
    public static void NextK(string path, IReadOnlyList<(int K, double Ndcg)> points, string dataset)
    {
        var plot = new Plot();
        var line = plot.Add.Scatter(points.Select(p => (double)p.K).ToArray(), points.Select(p => 100 * p.Ndcg).ToArray());
        line.LegendText = "SVAE";
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            points.Select(p => (double)p.K).ToArray(), points.Select(p => p.K.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray());
        plot.Title($"SVAE NDCG@100 against k ({dataset})");
        plot.XLabel("k (next items predicted)");
        plot.YLabel("NDCG@100 (%)");
        AtomicFile.Write(path, temporary => plot.SavePng(temporary, Width, Height));
    }

    /// <summary>Fig. 6: SVAE's learning curves: validation NDCG@100 (left axis) and training loss (right axis) per epoch.</summary>
    public static void LearningCurves(string path, IReadOnlyList<TrainingEpoch> history, string dataset)
    {
        var plot = new Plot();
        double[] epochs = history.Select(e => (double)e.Epoch).ToArray();
        var ndcg = plot.Add.Scatter(epochs, history.Select(e => 100 * (e.ValidationNdcg ?? double.NaN)).ToArray());
        ndcg.LegendText = "validation NDCG@100 (%)";
        ndcg.Color = Colors.Blue;
        var loss = plot.Add.Scatter(epochs, history.Select(e => e.TrainingLoss).ToArray());
        loss.LegendText = "training loss";
        loss.Color = Colors.Red;
        loss.Axes.YAxis = plot.Axes.Right;
        plot.Axes.Left.Label.Text = "validation NDCG@100 (%)";
        plot.Axes.Right.Label.Text = "training loss";
        plot.XLabel("epoch");
        plot.Title($"SVAE learning curves ({dataset})");
        plot.ShowLegend();
        AtomicFile.Write(path, temporary => plot.SavePng(temporary, Width, Height));
    }
}
