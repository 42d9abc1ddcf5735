using Microsoft.ML.Svae;

namespace Microsoft.ML;

/// <summary>Entry point: <c>mlContext.Recommendation()</c>.</summary>
public static class RecommendationCatalogExtensions
{
    /// <summary>The sequence-recommendation catalog of MLNet.Svae: trainers, data protocol and evaluation.</summary>
    public static RecommendationCatalog Recommendation(this MLContext mlContext)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        return new RecommendationCatalog(mlContext);
    }
}

/// <summary>
/// Trainers, data steps and evaluation for sequence recommendation (Sachdeva et al., WSDM 2019).
/// Reached through <c>mlContext.Recommendation()</c>.
/// </summary>
public sealed class RecommendationCatalog
{
    internal RecommendationCatalog(MLContext mlContext)
    {
        Environment = mlContext;
        Trainers = new RecommendationTrainers(mlContext);
        Data = new RecommendationDataCatalog(mlContext);
    }

    internal MLContext Environment { get; }

    /// <summary>The recommenders: POP, SVAE, MVAE, RVAE, BPR, FPMC, Caser.</summary>
    public RecommendationTrainers Trainers { get; }

    /// <summary>The data protocol of section 5: readers, binarization, sequences, user split, fold-in/fold-out, statistics, synthetic data.</summary>
    public RecommendationDataCatalog Data { get; }

    /// <summary>
    /// Evaluates recommendations as section 5.2 defines: for each held-out user, NDCG, Recall (hits / |R|)
    /// and Precision at each cutoff, ranking all items not in the user's history against the fold-out R.
    /// </summary>
    /// <param name="data">A transformer's output: the history (fold-in), the fold-out and the top-K items (or a full score vector).</param>
    /// <param name="foldOutColumnName">The relevant items R (<c>Vector&lt;Key&lt;UInt32&gt;&gt;</c>).</param>
    /// <param name="historyColumnName">The fold-in, whose items are excluded from the ranking.</param>
    /// <param name="topItemsColumnName">The ranked items, best first.</param>
    /// <param name="cutoffs">The cutoffs n; default 10 and 100.</param>
    public RecommendationMetrics Evaluate(IDataView data, string foldOutColumnName = SequenceColumns.FoldOut,
        string historyColumnName = SequenceColumns.History, string topItemsColumnName = SequenceColumns.TopItems, IReadOnlyList<int>? cutoffs = null)
        => Evaluate(data, new RecommendationEvaluatorOptions
        {
            FoldOutColumnName = foldOutColumnName,
            HistoryColumnName = historyColumnName,
            TopItemsColumnName = topItemsColumnName,
            Cutoffs = cutoffs ?? new[] { 10, 100 },
        });

    /// <summary>Evaluates recommendations with all options (e.g. a full score column instead of a top-K list).</summary>
    public RecommendationMetrics Evaluate(IDataView data, RecommendationEvaluatorOptions options)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(options);
        return RecommendationEvaluator.Evaluate(data, options);
    }
}

/// <summary>The trainers of <see cref="RecommendationCatalog"/>.</summary>
public sealed class RecommendationTrainers
{
    private readonly MLContext _mlContext;

    internal RecommendationTrainers(MLContext mlContext) => _mlContext = mlContext;

    /// <summary>POP: the most popular training items the user has not seen.</summary>
    /// <param name="historyColumnName">The history column (variable-length <c>Vector&lt;Key&lt;UInt32&gt;&gt;</c>).</param>
    /// <param name="topK">The length of the recommendation list.</param>
    public PopularityTrainer Popularity(string historyColumnName = SequenceColumns.History, int topK = 100)
        => Popularity(new PopularityTrainer.Options { HistoryColumnName = historyColumnName, TopK = topK });

    /// <summary>POP with all options.</summary>
    public PopularityTrainer Popularity(PopularityTrainer.Options options)
        => new(_mlContext, options);

    /// <summary>SVAE, the sequential variational autoencoder (Sachdeva et al., WSDM 2019), with the paper's architecture.</summary>
    /// <param name="historyColumnName">The history column (variable-length <c>Vector&lt;Key&lt;UInt32&gt;&gt;</c>, time-ordered).</param>
    /// <param name="numberOfEpochs">The maximum number of epochs.</param>
    /// <param name="nextK">k, the number of next items each step predicts (eq. 4.9).</param>
    /// <param name="learningRate">Adam's learning rate.</param>
    public SvaeTrainer Svae(string historyColumnName = SequenceColumns.History, int numberOfEpochs = SvaeTrainer.Defaults.NumberOfEpochs,
        int nextK = SvaeTrainer.Defaults.NextK, double learningRate = SvaeTrainer.Defaults.LearningRate)
        => Svae(new SvaeTrainer.Options { HistoryColumnName = historyColumnName, NumberOfEpochs = numberOfEpochs, NextK = nextK, LearningRate = learningRate });

    /// <summary>SVAE with all options.</summary>
    public SvaeTrainer Svae(SvaeTrainer.Options options)
        => new(_mlContext, options);
}
