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
    }

    internal MLContext Environment { get; }

    /// <summary>The recommenders: POP, SVAE, MVAE, RVAE, BPR, FPMC, Caser.</summary>
    public RecommendationTrainers Trainers { get; }
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
}
