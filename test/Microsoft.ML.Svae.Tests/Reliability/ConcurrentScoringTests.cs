using Microsoft.ML.Data;

namespace Microsoft.ML.Svae.Tests.Reliability;

/// <summary>One loaded model zip scored from several threads at once, one <c>PredictionEngine</c> per thread.</summary>
public class ConcurrentScoringTests : IDisposable
{
    private const int Items = 30;
    private const int Threads = 8;
    private const int Rounds = 3;

    private readonly string _directory = Path.Combine(Path.GetTempPath(), $"svae-concurrent-{Guid.NewGuid():N}");

    public ConcurrentScoringTests() => Directory.CreateDirectory(_directory);

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    public sealed class HistoryInput
    {
        public uint[] History { get; set; } = Array.Empty<uint>();
    }

    public sealed class Recommendation
    {
        public uint[] TopItems { get; set; } = Array.Empty<uint>();

        public float[] TopScores { get; set; } = Array.Empty<float>();
    }

    [Theory]
    [InlineData("POP")]
    [InlineData("SVAE")]
    public void OneLoadedZipScoredFromEightThreadsAtOnceMatchesSingleThreadedScoring(string modelName)
    {
        var ml = new MLContext(seed: 1);
        var train = SequenceTestData.Histories(ml, Items, CycleData.Walks(40, Items, 6, 12, seed: 1));
        string path = Path.Combine(_directory, modelName + ".zip");
        ITransformer trained = modelName == "POP"
            ? ml.Recommendation().Trainers.Popularity(topK: 10).Fit(train)
            : ml.Recommendation().Trainers.Svae(numberOfEpochs: 1).Fit(train);
        ml.Recommendation().SaveModel(trained, train.Schema, path);
        (trained as IDisposable)?.Dispose();

        // Histories of every shape: cycle walks, repeats, unknown keys, empty.
        var histories = CycleData.Walks(60, Items, 1, 15, seed: 5);
        histories.Add(Array.Empty<uint>());
        histories.Add(new uint[] { 0, 31, 99 });
        histories.Add(new uint[] { 4, 4, 4 });

        var model = ml.Recommendation().LoadModel(path, out var inputSchema);
        try
        {
            using var reference = Engine(ml, model, inputSchema);
            var expected = histories.Select(h => reference.Predict(new HistoryInput { History = h })).ToList();
            Assert.All(expected, r => Assert.Equal(modelName == "POP" ? 10 : 30, r.TopItems.Length));
            Assert.True(expected.Select(r => string.Join(',', r.TopItems)).Distinct().Count() > 10, "the histories should get different recommendations");

            var engines = Enumerable.Range(0, Threads).Select(_ => Engine(ml, model, inputSchema)).ToList();
            var results = new Recommendation[Threads][];
            using var start = new Barrier(Threads);
            var workers = Enumerable.Range(0, Threads).Select(t => new Thread(() =>
            {
                results[t] = new Recommendation[Rounds * histories.Count];
                start.SignalAndWait();
                // Each thread walks the histories from a different place, so that different inputs run at the same time.
                for (int i = 0; i < Rounds * histories.Count; i++)
                {
                    int h = (i + t * 7) % histories.Count;
                    var output = engines[t].Predict(new HistoryInput { History = histories[h] });
                    results[t][i] = new Recommendation { TopItems = output.TopItems.ToArray(), TopScores = output.TopScores.ToArray() };
                }
            })).ToList();
            workers.ForEach(w => w.Start());
            workers.ForEach(w => w.Join());
            engines.ForEach(e => e.Dispose());

            for (int t = 0; t < Threads; t++)
            {
                for (int i = 0; i < Rounds * histories.Count; i++)
                {
                    int h = (i + t * 7) % histories.Count;
                    Assert.Equal(expected[h].TopItems, results[t][i].TopItems);
                    Assert.Equal(expected[h].TopScores, results[t][i].TopScores);
                }
            }
        }
        finally
        {
            (model as IDisposable)?.Dispose();
        }
    }

    /// <summary>A prediction engine over plain classes: the zip reads and writes item ids (here the keys themselves, UInt32).</summary>
    private static PredictionEngine<HistoryInput, Recommendation> Engine(MLContext ml, ITransformer model, DataViewSchema inputSchema)
    {
        Assert.Equal(new VectorDataViewType(NumberDataViewType.UInt32), inputSchema[SequenceColumns.History].Type);
        return ml.Model.CreatePredictionEngine<HistoryInput, Recommendation>(model);
    }
}
