using static TorchSharp.torch;

namespace Microsoft.ML.Svae.Tests.Models;

/// <summary>
/// The sequential VAEs of section 4.3.2 (fig. 2a-d), one test class per variant: each learns the planted cycle and
/// beats popularity with a decreasing loss, its ONNX graph scores as the TorchSharp network does (histories of length
/// 1, several, 300, with unknown items, only unknown items, empty), a saved model scores identically without this
/// library, and the same seed gives the same model.
/// </summary>
public abstract class SequentialVaeTests : NextItemModelTests<SequentialVaeTrainer.Options, SequentialVaeTransformer>
{
    private protected abstract SequentialVaeVariant Variant { get; }

    private protected override SequentialVaeTrainer.Options SmallOptions(int epochs, int seed) => Small(Variant, epochs, seed);

    private protected override SequenceTrainerBase<SequentialVaeTransformer> Trainer(MLContext ml, SequentialVaeTrainer.Options options)
        => ml.Recommendation().Trainers.SequentialVae(options);

    internal static SequentialVaeTrainer.Options Small(SequentialVaeVariant variant, int epochs = 10, int seed = 7) => new()
    {
        Variant = variant,
        EmbeddingSize = 16,
        RecurrentSize = 24,
        EncoderSize = 16,
        LatentSize = 8,
        DecoderSize = 16,
        // The cycle's next item must be the top recommendation: one target per step.
        NextK = 1,
        NumberOfEpochs = epochs,
        BatchSize = 16,
        LearningRate = 1e-2,
        KlAnnealingSteps = 20,
        Seed = seed,
        TopK = 10,
        EarlyStoppingPatience = 0,
    };

    [Fact]
    public void TheModelIsNamedAfterItsVariant()
    {
        var ml = new MLContext(seed: 1);
        var (train, _) = PlantedData(ml);
        using var model = Trainer(ml, SmallOptions(1, 7)).Fit(train);
        Assert.Equal("SeqVAE-" + Variant, model.Description.ModelName);
        Assert.Equal("SeqVAE-" + Variant, SequentialVaeTrainer.ModelNameOf(Variant));
    }

    [Fact]
    public void APaddedBatchScoresEachUserAsAlone()
    {
        var ml = new MLContext(seed: 1);
        var train = UserSequences.Read(SequenceTestData.Histories(ml, Items, CycleData.Walks(40, Items, 6, 14, seed: 3)), SequenceColumns.History, "history");
        var options = SmallOptions(1, 7);
        options.NextK = 3;
        using var trained = Trainer(ml, options).TrainModel(new TrainingData(train));
        long[][] histories = [[4, 5, 6, 7, 20], [9, 10], [], [3]];
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        float[] Scores(long[][] rows, int row)
        {
            int width = Math.Max(1, rows.Max(r => r.Length));
            var items = rows.SelectMany(r => r.Concat(Enumerable.Repeat(0L, width - r.Length))).ToArray();
            var batch = new SequenceBatch(Enumerable.Range(0, rows.Length).ToArray(), rows.Select(r => r.Length).ToArray(), width,
                tensor(items, new long[] { rows.Length, width }), tensor(rows.Select(r => (long)r.Length).ToArray()));
            return trained.Model.ScoreUsers(batch)[row].data<float>().ToArray();
        }
        for (int u = 0; u < histories.Length; u++)
        {
            var together = Scores(histories, u);
            var alone = Scores([histories[u]], 0);
            for (int i = 0; i < Items; i++)
                Assert.True(Math.Abs(together[i] - alone[i]) < 1e-5, $"history {u}, item {i}: {together[i]} in the batch, {alone[i]} alone");
        }
    }

    [Theory]
    [InlineData(nameof(SequentialVaeTrainer.Options.KlWeightCap), -1.0)]
    [InlineData(nameof(SequentialVaeTrainer.Options.KlAnnealingSteps), 0)]
    [InlineData(nameof(SequentialVaeTrainer.Options.EmbeddingSize), 0)]
    [InlineData(nameof(SequentialVaeTrainer.Options.RecurrentSize), 0)]
    [InlineData(nameof(SequentialVaeTrainer.Options.EncoderSize), 0)]
    [InlineData(nameof(SequentialVaeTrainer.Options.LatentSize), 0)]
    [InlineData(nameof(SequentialVaeTrainer.Options.DecoderSize), 0)]
    [InlineData(nameof(SequentialVaeTrainer.Options.NextK), 0)]
    [InlineData(nameof(SequentialVaeTrainer.Options.DropoutRate), 1.0)]
    [InlineData(nameof(SequentialVaeTrainer.Options.Variant), (SequentialVaeVariant)7)]
    public void BadOptionsFailWithTheOptionsName(string option, object value)
    {
        var options = SmallOptions(1, 7);
        typeof(SequentialVaeTrainer.Options).GetProperty(option)!.SetValue(options, value);
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => Trainer(new MLContext(), options));
        Assert.Equal(option, error.ParamName);
        Assert.StartsWith(option + " must be ", error.Message);
    }
}

public sealed class GlobalLatentVaeTests : SequentialVaeTests
{
    private protected override SequentialVaeVariant Variant => SequentialVaeVariant.GlobalLatent;
}

public sealed class LatentInRecurrenceVaeTests : SequentialVaeTests
{
    private protected override SequentialVaeVariant Variant => SequentialVaeVariant.LatentInRecurrence;
}

public sealed class LearnedPriorVaeTests : SequentialVaeTests
{
    private protected override SequentialVaeVariant Variant => SequentialVaeVariant.LearnedPrior;
}

public sealed class GlobalRecurrenceVaeTests : SequentialVaeTests
{
    private protected override SequentialVaeVariant Variant => SequentialVaeVariant.GlobalRecurrence;
}

/// <summary>The pieces the sequential VAEs share, on hand-computed values.</summary>
public class SequentialVaeLayerTests
{
    [Fact]
    public void DefaultsAreSvaesSizesAndTheSimpleOverloadSetsTheVariant()
    {
        var options = new SequentialVaeTrainer.Options();
        Assert.Equal((SequentialVaeVariant.GlobalLatent, 256, 200, 150, 64, 150, 4, 0.2),
            (options.Variant, options.EmbeddingSize, options.RecurrentSize, options.EncoderSize, options.LatentSize, options.DecoderSize, options.NextK, options.DropoutRate));
        Assert.Equal((8, 0.0, 1e-3, 0.2, 2_000), (options.BatchSize, options.WeightDecay, options.LearningRate, options.KlWeightCap, options.KlAnnealingSteps));
        Assert.NotNull(new MLContext().Recommendation().Trainers.SequentialVae(SequentialVaeVariant.GlobalRecurrence));
    }

    [Fact]
    public void TheKlOfTwoGaussiansIsTheClosedForm()
    {
        using var scope = NewDisposeScope();
        // q = N(1, e^0.5), p = N(0.5, e^−0.5) in one dimension; a second dimension with q = p contributes 0.
        var mean = tensor(new float[] { 1f, 0.3f });
        var logVariance = tensor(new float[] { 0.5f, 0.2f });
        var priorMean = tensor(new float[] { 0.5f, 0.3f });
        var priorLogVariance = tensor(new float[] { -0.5f, 0.2f });
        double expected = 0.5 * (-0.5 - 0.5 + (Math.Exp(0.5) + 0.25) / Math.Exp(-0.5) - 1);
        Assert.Equal(expected, GaussianLatent.KlDivergence(mean, logVariance, priorMean, priorLogVariance).item<float>(), 5);
        // Against N(0, I) it is the standard-normal KL.
        Assert.Equal(GaussianLatent.KlDivergence(mean, logVariance).item<float>(),
            GaussianLatent.KlDivergence(mean, logVariance, zeros(2), zeros(2)).item<float>(), 5);
    }

    [Fact]
    public void NextKTargetsAreTheNextKItemsOfEachStateWithAtLeastOne()
    {
        using var scope = NewDisposeScope();
        // Users [10, 11, 12, 13] and [20, 21] (padded), k = 2: units (0,0) (0,1) (0,2) and (1,0).
        var items = tensor(new long[] { 10, 11, 12, 13, 20, 21, 0, 0 }, new long[] { 2, 4 });
        var batch = new SequenceBatch([0, 1], [4, 2], 4, items, tensor(new long[] { 4, 2 }));
        var (units, unitMask, targets, targetMask) = NextKTargets.Of(batch, 2);
        Assert.Equal(new long[] { 0, 1, 2, 4 }, units.data<long>().ToArray());
        Assert.Equal(new[] { true, true, true, false, true, false, false, false }, unitMask.reshape(-1).data<bool>().ToArray());
        Assert.Equal(new long[] { 11, 12, 12, 13, 13, 0, 21, 0 }, targets.reshape(-1).data<long>().ToArray());
        Assert.Equal(new[] { true, true, true, true, true, false, true, false }, targetMask.reshape(-1).data<bool>().ToArray());

        // Uniform logits over 25 items: every unit's mean NLL is log 25, whatever its number of targets.
        var nll = NextKTargets.MultiSetNllSum(zeros(4, 25), targets, targetMask).item<float>();
        Assert.Equal(4 * Math.Log(25), nll, 4);
        Assert.Equal(4, NextKTargets.Units(5));
        Assert.Equal(0, NextKTargets.Units(0));
    }

    [Fact]
    public void ReversingWithinLengthsLeavesPaddingAndIsItsOwnInverse()
    {
        using var scope = NewDisposeScope();
        var values = arange(8, ScalarType.Float32).reshape(2, 4, 1);       // rows [0 1 2 3], [4 5 6 7]
        var lengths = tensor(new long[] { 3, 0 });
        var reversed = RecurrentLayers.ReverseWithinLengths(values, lengths);
        Assert.Equal(new float[] { 2, 1, 0, 3, 4, 5, 6, 7 }, reversed.reshape(-1).data<float>().ToArray());
        Assert.Equal(values.reshape(-1).data<float>().ToArray(), RecurrentLayers.ReverseWithinLengths(reversed, lengths).reshape(-1).data<float>().ToArray());
    }
}
