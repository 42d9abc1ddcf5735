using static TorchSharp.torch;

namespace Microsoft.ML.Svae.Tests.Models;

public class SvaeTests : VariationalModelTests<SvaeTrainer.Options, SvaeTransformer>
{
    private const int Items = 30;

    private protected override int ItemCount => Items;

    private protected override SvaeTrainer.Options SmallOptions(int epochs, int seed) => Small(epochs, seed);

    private protected override SequenceTrainerBase<SvaeTransformer> Trainer(MLContext ml, SvaeTrainer.Options options) => ml.Recommendation().Trainers.Svae(options);

    private protected override (IDataView Train, IDataView Validation) PlantedData(MLContext ml) => CycleViews(ml);

    private protected override uint[][] ServingHistories => [[3, 4, 5], [], [30]];

    private static SvaeTrainer.Options Small(int epochs = 12, int seed = 7) => new()
    {
        EmbeddingSize = 16,
        RecurrentSize = 24,
        EncoderSize = 16,
        LatentSize = 8,
        DecoderSize = 16,
        NextK = 2,
        NumberOfEpochs = epochs,
        BatchSize = 16,
        LearningRate = 1e-2,
        Seed = seed,
        TopK = 10,
        EarlyStoppingPatience = 0,
    };

    private static (IDataView Train, IDataView Validation) CycleViews(MLContext ml)
    {
        var train = SequenceTestData.Histories(ml, Items, CycleData.Walks(120, Items, 6, 14, seed: 1));
        var (foldIn, foldOut) = CycleData.Split(CycleData.Walks(40, Items, 6, 14, seed: 2), 2);
        return (train, SequenceTestData.Histories(ml, Items, foldIn, foldOut));
    }

    [Fact]
    public void OnnxGraphMatchesTheTorchSharpForwardPass()
    {
        var ml = new MLContext(seed: 1);
        var train = UserSequences.Read(SequenceTestData.Histories(ml, Items, CycleData.Walks(60, Items, 6, 14, seed: 3)), SequenceColumns.History, "history");
        var options = Small(epochs: 2);
        options.OutputScores = true;
        var trainer = ml.Recommendation().Trainers.Svae(options);
        using var trained = trainer.TrainModel(new TrainingData(train));
        var network = ((SvaeModel)trained.Model).Network;
        var description = new RecommendationModelDescription("SVAE", SequenceColumns.History, Items, options.TopK, true,
            Enumerable.Range(1, Items).Select(i => (long)i).ToArray());
        using var model = trainer.CreateTransformer(description, trained);

        var known = new List<uint[]>
        {
            new uint[] { 5 },
            new uint[] { 3, 4, 5, 6, 9 },
            Enumerable.Range(0, 300).Select(i => (uint)(i % Items + 1)).ToArray(),
            new uint[] { 0, 7, 0, 8 }, // unknown keys (0) are dropped inside the graph
        };
        var histories = known.Concat(new[] { new uint[] { 0, 0 }, Array.Empty<uint>() }).ToList();
        var output = model.Transform(SequenceTestData.Histories(ml, Items, histories));
        var scores = SequenceTestData.FloatColumn(output, SequenceColumns.Scores);
        var top = SequenceTestData.KeyColumn(output, SequenceColumns.TopItems);

        for (int u = 0; u < known.Count; u++)
        {
            var items = known[u].Where(k => k > 0).Select(k => (long)k - 1).ToArray();
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var logits = network.ScoreLast(tensor(items).unsqueeze(0), tensor(new long[] { items.Length })).squeeze(0).data<float>().ToArray();
            // Fewer unseen items than K (the long history has seen them all): the rest is the missing key 0.
            OnnxParity.AssertScoresAndTop(u, items, logits, scores[u], top[u], Items, options.TopK);
        }

        // No known item: the graph skips the GRU (ONNX Runtime aborts on empty sequences) and ranks by popularity.
        var popular = OnnxParity.PopularTop(train, Items, options.TopK);
        Assert.Equal(popular, top[^2]);
        Assert.Equal(popular, top[^1]);
    }

    [Theory]
    [InlineData(nameof(SvaeTrainer.Options.NextK), 0)]
    [InlineData(nameof(SvaeTrainer.Options.LatentSize), 0)]
    [InlineData(nameof(SvaeTrainer.Options.NumberOfEpochs), 0)]
    [InlineData(nameof(SvaeTrainer.Options.BatchSize), -1)]
    public void BadOptionsFailWithTheOptionsName(string option, int value)
    {
        var options = Small();
        typeof(SvaeTrainer.Options).GetProperty(option)!.SetValue(options, value);
        var error = Assert.ThrowsAny<ArgumentException>(() => new MLContext().Recommendation().Trainers.Svae(options));
        Assert.Contains(option, error.Message);
    }

}
