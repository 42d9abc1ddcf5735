using System.Collections.Concurrent;
using System.Text.RegularExpressions;
using Microsoft.ML.Runtime;

namespace Microsoft.ML.Svae.Tests.Training;

/// <summary>
/// What every neural trainer gets from <see cref="SequenceTrainerBase{TTransformer}"/>: validation from the options
/// inside a pipeline, cancellation, and ML.NET's internals behind one adapter.
/// </summary>
public class SequenceTrainerBaseTests
{
    private const int Items = 30;

    private static SvaeTrainer.Options SmallOptions(int epochs) => new()
    {
        EmbeddingSize = 16,
        RecurrentSize = 24,
        EncoderSize = 16,
        LatentSize = 8,
        DecoderSize = 16,
        NextK = 2,
        NumberOfEpochs = epochs,
        BatchSize = 16,
        LearningRate = 2e-2,
        Seed = 7,
        TopK = 10,
        ValidationCutoff = 10,
    };

    /// <summary>
    /// Training users walk the cycle k → k + 1; the validation users' fold-out is the item BEFORE their last one, so
    /// the better the model learns the cycle, the worse its validation NDCG: early stopping must trigger.
    /// </summary>
    private static (IDataView Train, IDataView Validation) ReversedValidation(MLContext ml)
    {
        var train = SequenceTestData.Histories(ml, Items, CycleData.Walks(60, Items, 6, 12, seed: 1, noise: 0));
        var heldOut = CycleData.Walks(20, Items, 6, 12, seed: 2, noise: 0);
        var foldIn = heldOut.Select(w => w[..^1]).ToList();
        var foldOut = heldOut.Select(w => new[] { w[^3] }).ToList();
        return (train, SequenceTestData.Histories(ml, Items, foldIn, foldOut));
    }

    [Fact]
    public void ValidationSetDrivesEarlyStoppingInsideAnEstimatorChain()
    {
        var ml = new MLContext(seed: 1);
        var (train, validation) = ReversedValidation(ml);

        var options = SmallOptions(epochs: 30);
        options.EarlyStoppingPatience = 2;
        options.ValidationSet = validation;
        var chain = ml.Transforms.CopyColumns("HistoryCopy", SequenceColumns.History).Append(ml.Recommendation().Trainers.Svae(options));
        using var chained = chain.Fit(train).LastTransformer;

        Assert.True(chained.StoppedEarly);
        Assert.True(chained.TrainingHistory.Count < 30, $"{chained.TrainingHistory.Count} epochs ran");
        Assert.Equal(chained.BestEpoch + 2, chained.TrainingHistory.Count);
        Assert.All(chained.TrainingHistory, e => Assert.NotNull(e.ValidationNdcg));

        // The same trainer given the validation data through Fit learns exactly the same curve.
        var direct = SmallOptions(epochs: 30);
        direct.EarlyStoppingPatience = 2;
        using var fitted = ml.Recommendation().Trainers.Svae(direct).Fit(train, validation);
        Assert.Equal(fitted.TrainingHistory.Select(e => e.ValidationNdcg), chained.TrainingHistory.Select(e => e.ValidationNdcg));

        // Without validation, nothing stops training.
        using var unvalidated = ml.Recommendation().Trainers.Svae(SmallOptions(epochs: 4)).Fit(train);
        Assert.False(unvalidated.StoppedEarly);
        Assert.Equal(4, unvalidated.TrainingHistory.Count);
        Assert.All(unvalidated.TrainingHistory, e => Assert.Null(e.ValidationNdcg));
    }

    [Fact]
    public void FitArgumentTakesPrecedenceOverValidationSet()
    {
        var ml = new MLContext(seed: 1);
        var (train, validation) = ReversedValidation(ml);
        var other = SequenceTestData.Histories(ml, Items + 1, new[] { new uint[] { 1, 2 } }, new[] { new uint[] { 3 } });
        var options = SmallOptions(epochs: 1);
        options.ValidationSet = other; // would fail: another vocabulary
        using var model = ml.Recommendation().Trainers.Svae(options).Fit(train, validation);
        Assert.NotNull(model.TrainingHistory[0].ValidationNdcg);
        var error = Assert.ThrowsAny<ArgumentException>(() => ml.Recommendation().Trainers.Svae(options).Fit(train));
        Assert.Contains("same item vocabulary", error.Message, StringComparison.Ordinal);
    }

    /// <summary>Fits with a log handler that cancels when batch <paramref name="cancelAt"/> of epoch 2 starts; returns the batches that started.</summary>
    private static List<(int Epoch, int Batch)> FitAndCancel(Action<MLContext, CancellationTokenSource> cancel, int cancelAt)
    {
        var ml = new MLContext(seed: 1);
        var (train, _) = ReversedValidation(ml);
        using var source = new CancellationTokenSource();
        var options = SmallOptions(epochs: 5);
        options.BatchSize = 8; // 60 users: 8 batches per epoch, each traced
        options.CancellationToken = source.Token;
        var started = new ConcurrentQueue<(int, int)>();
        var pattern = new Regex(@"SVAE epoch (\d+)/5, batch (\d+)/8");
        ml.Log += (_, e) =>
        {
            var match = pattern.Match(e.Message);
            if (!match.Success)
                return;
            var batch = (int.Parse(match.Groups[1].Value), int.Parse(match.Groups[2].Value));
            started.Enqueue(batch);
            if (batch == (2, cancelAt))
                cancel(ml, source);
        };
        Assert.ThrowsAny<OperationCanceledException>(() => ml.Recommendation().Trainers.Svae(options).Fit(train));
        return started.ToList();
    }

    [Fact]
    public void CancellationTokenStopsFitBeforeTheNextBatch()
    {
        var started = FitAndCancel((_, source) => source.Cancel(), cancelAt: 3);
        // Epoch 1's 8 batches, then batches 1-3 of epoch 2: batch 3 runs to its end, batch 4 never starts.
        Assert.Equal(Enumerable.Range(1, 8).Select(b => (1, b)).Concat(Enumerable.Range(1, 3).Select(b => (2, b))), started);
    }

    /// <summary>What AutoML calls to stop a trial: <c>MLContext.CancelExecution()</c>, internal to ML.NET.</summary>
    private static void CancelExecution(MLContext ml)
    {
        var method = typeof(MLContext).GetMethod("CancelExecution", System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.NonPublic);
        Assert.True(method is not null, $"ML.NET {typeof(MLContext).Assembly.GetName().Version}: MLContext.CancelExecution() is gone; update {nameof(MLNetInternals)}.");
        method.Invoke(ml, null);
    }

    [Fact]
    public void CancelExecutionOfTheContextStopsFitBeforeTheNextBatch()
    {
        var started = FitAndCancel((ml, _) => CancelExecution(ml), cancelAt: 5);
        Assert.Equal((2, 5), started[^1]);
        Assert.Equal(13, started.Count);
    }

    [Fact]
    public void TheMLNetInternalsWeReadStillExist()
    {
        // Fails loudly when an ML.NET update renames or removes a member the adapter reads by name.
        var ml = new MLContext(seed: 1) { GpuDeviceId = 3, FallbackToCpu = false };
        var host = ((IHostEnvironment)ml).Register("child");
        foreach (var (interfaceName, property) in MLNetInternals.Members)
        {
            Assert.True(MLNetInternals.Property(host.GetType(), interfaceName, property) is not null,
                $"ML.NET {typeof(MLContext).Assembly.GetName().Version}: {host.GetType().FullName} no longer implements {interfaceName}.{property}; update {nameof(MLNetInternals)}.");
        }

        // And they still mean what the adapter assumes: the context's settings and cancellation reach its hosts.
        Assert.Equal((3, false), MLNetInternals.GpuSettings(host));
        var grandchild = host.Register("grandchild");
        Assert.False(MLNetInternals.IsCanceled(host));
        CancelExecution(ml);
        Assert.True(MLNetInternals.IsCanceled(host));
        Assert.True(MLNetInternals.IsCanceled(grandchild));
    }
}
