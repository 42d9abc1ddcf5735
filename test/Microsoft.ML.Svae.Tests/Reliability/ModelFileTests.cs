using System.IO.Compression;
using Microsoft.ML.Data;
using RunnerCli = global::Svae.Cli.Cli;

namespace Microsoft.ML.Svae.Tests.Reliability;

/// <summary>Model files: stale temporary files of killed saves, and damaged zips.</summary>
public class ModelFileTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), $"svae-model-files-{Guid.NewGuid():N}");
    private readonly MLContext _ml = new(seed: 1);

    public ModelFileTests() => Directory.CreateDirectory(_directory);

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static readonly uint[][] Train = { new uint[] { 1, 2, 3 }, new uint[] { 2, 3 }, new uint[] { 3, 4 } };

    /// <summary>Trains a tiny POP model and saves it with SaveModel.</summary>
    private string SavePopularityModel(string name)
    {
        var train = SequenceTestData.Histories(_ml, 5, Train);
        using var model = _ml.Recommendation().Trainers.Popularity(topK: 3).Fit(train);
        string path = Path.Combine(_directory, name);
        _ml.Recommendation().SaveModel(model, train.Schema, path);
        return path;
    }

    private string Touch(string name, TimeSpan age)
    {
        string path = Path.Combine(_directory, name);
        File.WriteAllBytes(path, new byte[] { 1, 2, 3 });
        File.SetLastWriteTimeUtc(path, DateTime.UtcNow - age);
        return path;
    }

    [Fact]
    public void SaveModelDeletesStaleTemporaryFilesOfEarlierKilledSavesOfTheSameFileOnly()
    {
        string target = Path.Combine(_directory, "model.zip");
        string Temporary() => Path.GetFileName(ModelFiles.TemporaryPath(target, Guid.NewGuid()));
        var old = TimeSpan.FromHours(2);
        string stale = Touch(Temporary(), old);
        string stale2 = Touch(Temporary(), TimeSpan.FromMinutes(5));
        string recent = Touch(Temporary(), TimeSpan.Zero);                       // maybe a save running right now
        string locked = Touch(Temporary(), old);                                  // held open by a writer
        string otherModel = Touch($".other.zip.{Guid.NewGuid():N}.tmp", old);     // another file's save
        string notOurs = Touch(".model.zip.backup.tmp", old);                     // not our naming pattern
        string longer = Touch($".model.zip.{Guid.NewGuid():N}0.tmp", old);        // not exactly our pattern
        Assert.Matches(@"^\.model\.zip\.[0-9a-f]{32}\.tmp$", Path.GetFileName(stale));

        using (new FileStream(locked, FileMode.Open, FileAccess.ReadWrite, FileShare.None))
            Assert.Equal(target, SavePopularityModel("model.zip"));

        Assert.False(File.Exists(stale));
        Assert.False(File.Exists(stale2));
        foreach (string kept in new[] { recent, locked, otherModel, notOurs, longer })
            Assert.True(File.Exists(kept), $"{Path.GetFileName(kept)} should be kept");
        // The new model was written, and its own temporary file is gone.
        using (_ml.Recommendation().LoadModel(target, out _) as IDisposable) { }
        Assert.Equal(
            new[] { ".model.zip.backup.tmp", Path.GetFileName(longer), Path.GetFileName(locked), Path.GetFileName(otherModel), Path.GetFileName(recent), "model.zip" }.Order(StringComparer.Ordinal),
            Directory.GetFiles(_directory).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void LoadModelLoadsAnIntactZipAsMLNetDoes()
    {
        string path = SavePopularityModel("pop.zip");
        var model = _ml.Recommendation().LoadModel(path, out var schema);
        try
        {
            // The zip reads item ids (the training keys had no KeyValues, so the ids are the keys, UInt32).
            Assert.Equal(new VectorDataViewType(NumberDataViewType.UInt32), schema[SequenceColumns.History].Type);
            using var engine = _ml.Model.CreatePredictionEngine<IdHistory, IdRecommendation>(model);
            Assert.Equal(new uint[] { 2, 1, 4 }, engine.Predict(new IdHistory { History = new uint[] { 3 } }).TopItems);
            Assert.Equal(new uint[] { 3, 2, 1 }, engine.Predict(new IdHistory { History = Array.Empty<uint>() }).TopItems);
        }
        finally
        {
            (model as IDisposable)?.Dispose();
        }
    }

    public sealed class IdHistory
    {
        public uint[] History { get; set; } = Array.Empty<uint>();
    }

    public sealed class IdRecommendation
    {
        public uint[] TopItems { get; set; } = Array.Empty<uint>();
    }

    private static readonly byte[] Garbage = Enumerable.Range(0, 4000).Select(i => (byte)(i * 37 % 251)).ToArray();

    /// <summary>
    /// Rewrites the zip entry that holds the ONNX graph (the zip itself stays valid); returns the entry's name.
    /// <paramref name="keepLengthField"/>: keep ML.NET's byte-array framing (a 32-bit length, then the bytes) and
    /// replace only the graph, so that ONNX Runtime is what fails; else overwrite the whole entry.
    /// </summary>
    private static string CorruptOnnxEntry(string path, bool keepLengthField)
    {
        using var zip = ZipFile.Open(path, ZipArchiveMode.Update);
        var entry = Assert.Single(zip.Entries, e => e.Name == "OnnxModel");
        string name = entry.FullName;
        entry.Delete();
        using var stream = zip.CreateEntry(name).Open();
        if (keepLengthField)
            stream.Write(BitConverter.GetBytes(Garbage.Length));
        stream.Write(Garbage);
        return name;
    }

    [Theory]
    [InlineData(true, "ONNX Runtime rejected it (")]
    [InlineData(false, "the entry's length field says ")]
    public void LoadModelReportsADamagedOnnxGraphInsideAValidZipAsOneClearError(bool keepLengthField, string reason)
    {
        string path = SavePopularityModel("damaged.zip");
        string entry = CorruptOnnxEntry(path, keepLengthField);

        // ML.NET's own load fails with nested "Error during class instantiation" exceptions ...
        var mlnet = Assert.ThrowsAny<Exception>(() => _ml.Model.Load(path, out _));
        Assert.Equal("Error during class instantiation", mlnet.Message);

        // ... ours says what is wrong, and keeps ML.NET's error as the inner exception.
        var error = Assert.Throws<InvalidDataException>(() => _ml.Recommendation().LoadModel(path, out _));
        Assert.StartsWith($"The model file '{path}' is damaged: its ONNX graph (zip entry '{entry}') could not be read: {reason}", error.Message);
        Assert.EndsWith(". Save the model again, or restore the file from a copy.", error.Message);
        Assert.Equal(mlnet.GetType(), error.InnerException!.GetType());
        Assert.Equal(mlnet.Message, error.InnerException.Message);
    }

    [Fact]
    public void LoadModelReportsAnUndecodablePartOutsideTheOnnxGraph()
    {
        string path = SavePopularityModel("undecodable.zip");
        using (var zip = ZipFile.Open(path, ZipArchiveMode.Update))
        {
            var entry = Assert.Single(zip.Entries, e => e.FullName == "TransformerChain/Transform_000/Model.key");
            entry.Delete();
            using var stream = zip.CreateEntry("TransformerChain/Transform_000/Model.key").Open();
            stream.Write(Garbage);
        }
        var error = Assert.Throws<InvalidDataException>(() => _ml.Recommendation().LoadModel(path, out _));
        Assert.StartsWith($"The model file '{path}' could not be read: ML.NET could not decode a part of it (", error.Message);
        Assert.EndsWith("The file may be damaged, or have been written by a newer version of ML.NET or of this library.", error.Message);
    }

    [Fact]
    public void LoadModelReportsATruncatedZipAndAMissingFile()
    {
        string path = SavePopularityModel("truncated.zip");
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);
        var error = Assert.Throws<InvalidDataException>(() => _ml.Recommendation().LoadModel(path, out _));
        Assert.StartsWith($"The model file '{path}' is damaged: it is not a readable zip archive (", error.Message);

        string missing = Path.Combine(_directory, "missing.zip");
        var notFound = Assert.Throws<FileNotFoundException>(() => _ml.Recommendation().LoadModel(missing, out _));
        Assert.Equal($"The model file '{missing}' does not exist.", notFound.Message);
    }

    [Fact]
    public void CliScoreReportsADamagedModel()
    {
        string path = SavePopularityModel("cli-damaged.zip");
        CorruptOnnxEntry(path, keepLengthField: true);
        var error = new StringWriter();
        var output = new StringWriter();
        Assert.Equal(2, RunnerCli.Run(new[] { "score", path, "1,2" }, output, error));
        Assert.StartsWith($"svae: error: The model file '{path}' is damaged: its ONNX graph (zip entry '", error.ToString());
        Assert.Contains("/OnnxModel') could not be read: ", error.ToString());
        Assert.Single(error.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries)); // one message, no stack trace
        Assert.Equal("", output.ToString());
    }
}
