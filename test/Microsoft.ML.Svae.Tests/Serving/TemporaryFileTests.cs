using System.Globalization;
using Microsoft.ML.Data;

namespace Microsoft.ML.Svae.Tests.Serving;

/// <summary>The ONNX files behind fitted and loaded models: where they are, and that they go away.</summary>
public class TemporaryFileTests
{
    [Fact]
    public void AFittedModelsGraphFileIsInThisProcesssFolderAndGoneAfterDispose()
    {
        var ml = new MLContext(seed: 1);
        var train = SequenceTestData.Histories(ml, 4, [[1u, 2u], [2u, 3u]]);
        var model = ml.Recommendation().Trainers.Popularity(topK: 2).Fit(train);
        string path = model.TemporaryGraphPath;
        Assert.Equal(Path.Combine(Path.GetTempPath(), "mlnet-svae", Environment.ProcessId.ToString(CultureInfo.InvariantCulture)),
            Path.GetDirectoryName(path));
        Assert.True(File.Exists(path));
        model.Dispose();
        Assert.False(File.Exists(path));
        Assert.Throws<ObjectDisposedException>(() => model.Transform(train));
    }

    [Fact]
    public void AModelWhoseGraphFileWasCleanedUpStillSaves()
    {
        var ml = new MLContext(seed: 1);
        var train = SequenceTestData.Histories(ml, 4, [[1u, 2u], [2u, 3u]]);
        using var model = ml.Recommendation().Trainers.Popularity(topK: 2).Fit(train);
        File.Delete(model.TemporaryGraphPath); // e.g. by a cleanup that took this process for a dead one
        string zip = Path.Combine(Path.GetTempPath(), $"svae-cleaned-{Guid.NewGuid():N}.zip");
        try
        {
            ml.Model.Save(model, train.Schema, zip);
            var loaded = ml.Model.Load(zip, out _);
            var scored = loaded.Transform(ml.Data.LoadFromEnumerable(new[] { new IdRow { History = [2u] } }));
            Assert.Equal([1u, 3u], scored.GetColumn<VBuffer<uint>>(SequenceColumns.TopItems).Single().DenseValues());
            (loaded as IDisposable)?.Dispose();
        }
        finally
        {
            File.Delete(zip);
        }
    }

    private sealed class IdRow
    {
        public uint[] History { get; set; } = [];
    }

    [Fact]
    public void FoldersOfProcessesThatNoLongerRunAreDeleted()
    {
        string root = Path.Combine(Path.GetTempPath(), "svae-temp-tests-" + Guid.NewGuid().ToString("N"));
        try
        {
            // Process ids above the largest possible one on Linux (2^22) and Windows in practice: no such process runs.
            string dead = Path.Combine(root, "2000000123");
            string alive = Path.Combine(root, Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
            string other = Path.Combine(root, "not-a-process");
            foreach (string folder in new[] { dead, alive, other })
            {
                Directory.CreateDirectory(folder);
                File.WriteAllBytes(Path.Combine(folder, "graph.onnx"), [1, 2, 3]);
            }

            Assert.Equal(1, TemporaryFiles.DeleteFoldersOfExitedProcesses(root));
            Assert.False(Directory.Exists(dead));
            Assert.True(File.Exists(Path.Combine(alive, "graph.onnx")));
            Assert.True(Directory.Exists(other));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void ALoadedZipsGraphCopyIsInTempFilePathUntilTheModelIsDisposed()
    {
        var ml = new MLContext(seed: 1);
        var train = SequenceTestData.Histories(ml, 4, [[1u, 2u], [2u, 3u]]);
        string temp = Path.Combine(Path.GetTempPath(), "svae-load-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(temp);
        string zip = Path.Combine(temp, "pop.zip");
        try
        {
            using (var model = ml.Recommendation().Trainers.Popularity(topK: 2).Fit(train))
                ml.Model.Save(model, train.Schema, zip);

            // What ML.NET's OnnxTransformer does with a loaded model: a copy of the graph in MLContext.TempFilePath.
            var app = new MLContext { TempFilePath = temp };
            var loaded = app.Model.Load(zip, out _);
            Assert.Single(Directory.GetFiles(temp), f => f != zip);
            (loaded as IDisposable)!.Dispose();
            Assert.Equal([zip], Directory.GetFiles(temp));
        }
        finally
        {
            Directory.Delete(temp, recursive: true);
        }
    }
}
