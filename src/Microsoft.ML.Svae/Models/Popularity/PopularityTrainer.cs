using Microsoft.ML.Svae.Onnx;

namespace Microsoft.ML.Svae;

/// <summary>
/// POP: recommends the items most often seen in the training histories, excluding the user's own
/// history. The baseline of section 5.3 of Sachdeva et al. (WSDM 2019).
/// </summary>
/// <remarks>
/// <format type="text/markdown"><![CDATA[
/// ### Input and Output Columns
/// | Column | Type | Description |
/// | -- | -- | -- |
/// | `History` (input) | variable `Vector<Key<UInt32>>` | the user's items (fold-in for held-out users) |
/// | `TopItems` | `Vector<Key<UInt32>>` of length K | the K most popular items the user has not seen, best first |
/// | `TopScores` | `Vector<Single>` of length K | their training counts |
/// | `Scores` (optional) | `Vector<Single>` of length N | every item's count, seen items at -∞ |
///
/// ### Trainer Characteristics
/// | | |
/// | -- | -- |
/// | Machine learning task | Recommendation (top-N ranking) |
/// | Is normalization required? | No |
/// | Is caching required? | No |
/// | Required NuGet in addition to Microsoft.ML | Microsoft.ML.Svae (training); Microsoft.ML.OnnxTransformer + Microsoft.ML.OnnxRuntime (scoring) |
/// | Exportable to ONNX | Yes (the model is an ONNX graph) |
///
/// ### Training Algorithm Details
/// Counts every event of every training history (an item a user interacted with twice counts twice).
/// Ties are broken by the lower item key. Deviations from the paper: none.
/// ]]></format>
/// </remarks>
/// <seealso cref="SequenceRecommendationTrainers.Popularity(string, int)"/>
public sealed class PopularityTrainer : RecommendationTrainerBase<PopularityTransformer>
{
    /// <summary>Options of <see cref="PopularityTrainer"/>.</summary>
    public sealed class Options : RecommendationTrainerOptions
    {
    }

    internal PopularityTrainer(IHostEnvironment env, Options options)
        : base(env, options, nameof(PopularityTrainer))
    {
    }

    private protected override PopularityTransformer Train(IDataView trainData, UserSequences train, IDataView? validationData)
    {
        var counts = ItemCounts.Of(train);
        var description = Describe(trainData, "POP", train.ItemCount);
        return new PopularityTransformer(Host, description, counts, PopularityGraph.Write(description, counts));
    }
}

/// <summary>The fitted POP model: ranks unseen items by training popularity.</summary>
public sealed class PopularityTransformer : RecommendationTransformer
{
    internal PopularityTransformer(IHostEnvironment env, RecommendationModelDescription description, float[] counts, byte[] onnx)
        : base(env, description, onnx)
    {
        ItemCounts = counts;
    }

    /// <summary>How often each item (index = key − 1) occurs in the training histories.</summary>
    public IReadOnlyList<float> ItemCounts { get; }
}
