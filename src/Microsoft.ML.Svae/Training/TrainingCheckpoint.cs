using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using static TorchSharp.torch;

namespace Microsoft.ML.Svae;

/// <summary>
/// What a training run was made for: the training and validation data's sizes and a hash of their contents. A
/// checkpoint resumes only on data with the same fingerprint.
/// </summary>
internal sealed record TrainingFingerprint(int ItemCount, int UserCount, long EventCount, int ValidationUserCount, long ValidationEventCount, string ContentHash)
{
    /// <summary>The fingerprint of the training users and the validation users (fold-in and fold-out, when given).</summary>
    public static TrainingFingerprint Of(UserSequences train, UserSequences? validationFoldIn, UserSequences? validationFoldOut)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var sequences in new[] { train, validationFoldIn, validationFoldOut })
        {
            if (sequences is null)
            {
                hash.AppendData([0]);
                continue;
            }
            hash.AppendData([1]);
            hash.AppendData(BitConverter.GetBytes(sequences.ItemCount));
            hash.AppendData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(sequences.Offsets.AsSpan()));
            hash.AppendData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(sequences.Items.AsSpan()));
        }
        return new TrainingFingerprint(train.ItemCount, train.Count, train.EventCount,
            validationFoldIn?.Count ?? 0, (validationFoldIn?.EventCount ?? 0) + (validationFoldOut?.EventCount ?? 0),
            Convert.ToHexString(hash.GetHashAndReset()));
    }

    /// <summary>The differences from <paramref name="current"/>, one phrase each (empty when equal).</summary>
    public List<string> Differences(TrainingFingerprint current)
    {
        var differences = new List<string>();
        void Compare<T>(string what, T saved, T now)
        {
            if (!EqualityComparer<T>.Default.Equals(saved, now))
                differences.Add(string.Format(CultureInfo.InvariantCulture, "{0}: {1} in the checkpoint, {2} now", what, saved, now));
        }
        Compare("items", ItemCount, current.ItemCount);
        Compare("training users", UserCount, current.UserCount);
        Compare("training events", EventCount, current.EventCount);
        Compare("validation users", ValidationUserCount, current.ValidationUserCount);
        Compare("validation events", ValidationEventCount, current.ValidationEventCount);
        if (differences.Count == 0 && ContentHash != current.ContentHash)
            differences.Add("the histories' contents differ (same counts, different items or order)");
        return differences;
    }
}

/// <summary>Where an epoch stood when a checkpoint was written: the next batch to run is <see cref="BatchesDone"/>.</summary>
internal sealed record EpochPosition(int Epoch, int BatchesDone, long EpochUpdates, double LossSum, double KlWeight, double Seconds);

/// <summary>
/// Everything needed to continue a training run exactly: the weights, Adam's state, the random streams, the
/// position in the epoch and the β counter, the learning curve, the best weights and early stopping's state, plus
/// the options and data it was made for. Tensors are held on the CPU.
/// </summary>
internal sealed class TrainingCheckpoint : IDisposable
{
    /// <summary>The first line of every checkpoint file.</summary>
    public const string Header = "*** MLNet.Svae training checkpoint ***";

    /// <summary>The format version this code writes and reads.</summary>
    public const int FormatVersion = 1;

    public required string ModelName { get; init; }
    public required string OptionsJson { get; init; }
    public required TrainingFingerprint Fingerprint { get; init; }

    /// <summary>The position of training: the epoch in progress and its batches done (0 at an epoch's start).</summary>
    public required EpochPosition Position { get; init; }

    /// <summary>Optimiser updates so far (the β counter).</summary>
    public required long Updates { get; init; }

    /// <summary>Whether training has ended (all epochs run, or stopped early).</summary>
    public required bool Completed { get; init; }
    public required bool StoppedEarly { get; init; }
    public required IReadOnlyList<TrainingEpoch> History { get; init; }
    public required int BestEpoch { get; init; }
    public required double BestNdcg { get; init; }
    public required IReadOnlyDictionary<string, Tensor>? BestWeights { get; init; }
    public required IReadOnlyDictionary<string, Tensor> Weights { get; init; }
    public required byte[] OptimizerState { get; init; }
    public required IReadOnlyList<Tensor> GeneratorStates { get; init; }
    public required long NegativeDraws { get; init; }

    /// <summary>
    /// The options as the checkpoint records them: every serialisable property but the checkpoint settings
    /// themselves (which may change between runs).
    /// </summary>
    public static string SerializeOptions(SequenceTrainerOptions options)
        => JsonSerializer.Serialize(options, options.GetType(), new JsonSerializerOptions { WriteIndented = false });

    /// <summary>
    /// The options that differ between <paramref name="saved"/> and <paramref name="current"/>: name, old and new value.
    /// An option the checkpoint does not record (added to the library after it was written) is no difference when its
    /// current value is its value in <paramref name="defaults"/>: a new option's default keeps the behaviour of before.
    /// </summary>
    public static List<string> OptionDifferences(string saved, string current, string? defaults = null)
    {
        var old = JsonNode.Parse(saved) as JsonObject ?? new JsonObject();
        var now = JsonNode.Parse(current) as JsonObject ?? new JsonObject();
        var fresh = defaults is null ? new JsonObject() : JsonNode.Parse(defaults) as JsonObject ?? new JsonObject();
        var differences = new List<string>();
        foreach (var name in old.Select(p => p.Key).Union(now.Select(p => p.Key)))
        {
            string a = old.TryGetPropertyValue(name, out var x) ? x?.ToJsonString() ?? "null" : "(absent)";
            string b = now.TryGetPropertyValue(name, out var y) ? y?.ToJsonString() ?? "null" : "(absent)";
            if (a == "(absent)" && fresh.TryGetPropertyValue(name, out var d) && (d?.ToJsonString() ?? "null") == b)
                continue;
            if (a != b)
                differences.Add($"{name}: {a} in the checkpoint, {b} now");
        }
        return differences;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var tensor in Weights.Values)
            tensor.Dispose();
        if (BestWeights is not null)
            foreach (var tensor in BestWeights.Values)
                tensor.Dispose();
        foreach (var tensor in GeneratorStates)
            tensor.Dispose();
    }

    /// <summary>Writes the checkpoint's payload (everything after the header and version).</summary>
    internal void WritePayload(BinaryWriter writer)
    {
        writer.Write(ModelName);
        writer.Write(OptionsJson);
        writer.Write(Fingerprint.ItemCount);
        writer.Write(Fingerprint.UserCount);
        writer.Write(Fingerprint.EventCount);
        writer.Write(Fingerprint.ValidationUserCount);
        writer.Write(Fingerprint.ValidationEventCount);
        writer.Write(Fingerprint.ContentHash);

        writer.Write(Position.Epoch);
        writer.Write(Position.BatchesDone);
        writer.Write(Position.EpochUpdates);
        writer.Write(Position.LossSum);
        writer.Write(Position.KlWeight);
        writer.Write(Position.Seconds);
        writer.Write(Updates);
        writer.Write(Completed);
        writer.Write(StoppedEarly);
        writer.Write(NegativeDraws);

        writer.Write(History.Count);
        foreach (var epoch in History)
        {
            writer.Write(epoch.Epoch);
            writer.Write(epoch.Updates);
            writer.Write(epoch.TrainingLoss);
            writer.Write(epoch.KlWeight);
            writer.Write(epoch.ValidationNdcg.HasValue);
            writer.Write(epoch.ValidationNdcg ?? 0);
            writer.Write(epoch.ValidationMetrics.Count);
            foreach (var (name, value) in epoch.ValidationMetrics)
            {
                writer.Write(name);
                writer.Write(value);
            }
            writer.Write(epoch.Seconds);
        }

        writer.Write(BestEpoch);
        writer.Write(BestNdcg);
        writer.Write(BestWeights is not null);
        if (BestWeights is not null)
            WriteTensors(writer, BestWeights);
        WriteTensors(writer, Weights);
        writer.Write(OptimizerState.Length);
        writer.Write(OptimizerState);
        writer.Write(GeneratorStates.Count);
        foreach (var state in GeneratorStates)
            WriteTensor(writer, state);
    }

    /// <summary>Reads a payload written by <see cref="WritePayload"/>.</summary>
    internal static TrainingCheckpoint ReadPayload(BinaryReader reader)
    {
        string modelName = reader.ReadString();
        string optionsJson = reader.ReadString();
        var fingerprint = new TrainingFingerprint(reader.ReadInt32(), reader.ReadInt32(), reader.ReadInt64(), reader.ReadInt32(), reader.ReadInt64(), reader.ReadString());
        var position = new EpochPosition(reader.ReadInt32(), reader.ReadInt32(), reader.ReadInt64(), reader.ReadDouble(), reader.ReadDouble(), reader.ReadDouble());
        long updates = reader.ReadInt64();
        bool completed = reader.ReadBoolean();
        bool stoppedEarly = reader.ReadBoolean();
        long negativeDraws = reader.ReadInt64();

        int epochs = reader.ReadInt32();
        var history = new List<TrainingEpoch>(epochs);
        for (int i = 0; i < epochs; i++)
        {
            int epoch = reader.ReadInt32();
            long epochUpdates = reader.ReadInt64();
            double loss = reader.ReadDouble();
            double beta = reader.ReadDouble();
            bool hasNdcg = reader.ReadBoolean();
            double ndcg = reader.ReadDouble();
            int metricCount = reader.ReadInt32();
            var metrics = new Dictionary<string, double>(metricCount);
            for (int m = 0; m < metricCount; m++)
                metrics[reader.ReadString()] = reader.ReadDouble();
            double seconds = reader.ReadDouble();
            history.Add(new TrainingEpoch(epoch, epochUpdates, loss, beta, hasNdcg ? ndcg : null, metrics, seconds));
        }

        int bestEpoch = reader.ReadInt32();
        double bestNdcg = reader.ReadDouble();
        var bestWeights = reader.ReadBoolean() ? ReadTensors(reader) : null;
        var weights = ReadTensors(reader);
        var optimizer = reader.ReadBytes(reader.ReadInt32());
        int generatorCount = reader.ReadInt32();
        var generators = new List<Tensor>(generatorCount);
        for (int g = 0; g < generatorCount; g++)
            generators.Add(ReadTensor(reader));

        return new TrainingCheckpoint
        {
            ModelName = modelName,
            OptionsJson = optionsJson,
            Fingerprint = fingerprint,
            Position = position,
            Updates = updates,
            Completed = completed,
            StoppedEarly = stoppedEarly,
            NegativeDraws = negativeDraws,
            History = history,
            BestEpoch = bestEpoch,
            BestNdcg = bestNdcg,
            BestWeights = bestWeights,
            Weights = weights,
            OptimizerState = optimizer,
            GeneratorStates = generators,
        };
    }

    private static void WriteTensors(BinaryWriter writer, IReadOnlyDictionary<string, Tensor> tensors)
    {
        writer.Write(tensors.Count);
        foreach (var (name, tensor) in tensors)
        {
            writer.Write(name);
            WriteTensor(writer, tensor);
        }
    }

    private static Dictionary<string, Tensor> ReadTensors(BinaryReader reader)
    {
        int count = reader.ReadInt32();
        var tensors = new Dictionary<string, Tensor>(count);
        for (int i = 0; i < count; i++)
        {
            string name = reader.ReadString();
            tensors[name] = ReadTensor(reader);
        }
        return tensors;
    }

    private static void WriteTensor(BinaryWriter writer, Tensor tensor)
    {
        using var cpu = tensor.detach().cpu().contiguous();
        writer.Write((int)cpu.dtype);
        writer.Write(cpu.shape.Length);
        foreach (long size in cpu.shape)
            writer.Write(size);
        var bytes = cpu.bytes;
        writer.Write((long)bytes.Length);
        writer.Write(bytes);
    }

    private static Tensor ReadTensor(BinaryReader reader)
    {
        var dtype = (ScalarType)reader.ReadInt32();
        int rank = reader.ReadInt32();
        if (rank is < 0 or > 8)
            throw new InvalidDataException($"a tensor of rank {rank}");
        var shape = new long[rank];
        for (int d = 0; d < rank; d++)
            shape[d] = reader.ReadInt64();
        long length = reader.ReadInt64();
        if (length < 0 || length > int.MaxValue)
            throw new InvalidDataException($"a tensor of {length} bytes");
        var data = reader.ReadBytes((int)length);
        if (data.Length != length)
            throw new EndOfStreamException();
        var tensor = empty(shape, dtype);
        if (tensor.bytes.Length != length)
        {
            tensor.Dispose();
            throw new InvalidDataException($"a tensor of shape [{string.Join(", ", shape)}] with {length} bytes");
        }
        tensor.bytes = data;
        return tensor;
    }
}

/// <summary>
/// The checkpoint file of one model in a checkpoint folder: <c>&lt;model&gt;.checkpoint</c>, written atomically
/// (a temporary file in the same folder, flushed to disk, then renamed over the previous checkpoint, which is kept as
/// <c>&lt;model&gt;.checkpoint.previous</c> until the next one is complete).
/// </summary>
/// <remarks>
/// Binary format, version 1: the UTF-8 line <see cref="TrainingCheckpoint.Header"/>, the format version (int32),
/// the payload's length (int64), the payload (<see cref="TrainingCheckpoint.WritePayload"/>) and the SHA-256 of
/// the payload. A file whose length or hash does not match is damaged (e.g. cut short by a full disk).
/// </remarks>
internal sealed class CheckpointFile
{
    private static readonly byte[] HeaderBytes = Encoding.UTF8.GetBytes(TrainingCheckpoint.Header + "\n");

    /// <summary>The file of <paramref name="modelName"/> in <paramref name="folder"/>.</summary>
    public CheckpointFile(string folder, string modelName)
    {
        Folder = folder;
        Path = System.IO.Path.Combine(folder, modelName + ".checkpoint");
    }

    /// <summary>The folder.</summary>
    public string Folder { get; }

    /// <summary>The current checkpoint's path.</summary>
    public string Path { get; }

    /// <summary>The previous checkpoint's path (kept until a newer one is complete).</summary>
    public string PreviousPath => Path + ".previous";

    /// <summary>Writes <paramref name="checkpoint"/> atomically; the previous checkpoint survives until the new one is complete.</summary>
    public void Write(TrainingCheckpoint checkpoint)
    {
        Directory.CreateDirectory(Folder);
        // A unique name per write: two Fits in one process (or two processes) sharing a folder must not collide.
        string temporary = Path + ".tmp-" + Guid.NewGuid().ToString("N", CultureInfo.InvariantCulture);
        try
        {
            using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.ReadWrite, FileShare.None))
            {
                stream.Write(HeaderBytes);
                var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true);
                writer.Write(TrainingCheckpoint.FormatVersion);
                long lengthAt = stream.Position;
                writer.Write(0L);
                long payloadStart = stream.Position;
                checkpoint.WritePayload(writer);
                writer.Flush();
                long payloadLength = stream.Position - payloadStart;
                stream.Position = payloadStart;
                byte[] hash = SHA256HashOf(stream, payloadLength);
                stream.Position = lengthAt;
                writer.Write(payloadLength);
                writer.Flush();
                stream.Seek(0, SeekOrigin.End);
                stream.Write(hash);
                stream.Flush(flushToDisk: true);
            }
            // A damaged current checkpoint (one that resuming skipped) must not replace a good previous one: only a
            // current file that reads back whole, hash included, becomes the previous one.
            if (File.Exists(Path) && IsWhole(Path))
                File.Move(Path, PreviousPath, overwrite: true);
            File.Move(temporary, Path, overwrite: true);
        }
        finally
        {
            if (File.Exists(temporary))
                File.Delete(temporary);
        }
    }

    /// <summary>
    /// The newest readable checkpoint: the current file, else (when it is missing or damaged) the previous one;
    /// <see langword="null"/> when there is none. A damaged file without a good previous one throws
    /// <see cref="InvalidDataException"/> naming the file. <paramref name="warn"/> hears about a fallback.
    /// </summary>
    public TrainingCheckpoint? TryRead(Action<string> warn)
    {
        bool current = File.Exists(Path), previous = File.Exists(PreviousPath);
        if (!current && !previous)
            return null;
        InvalidDataException? damage = null;
        if (current)
        {
            try
            {
                return Read(Path);
            }
            catch (InvalidDataException e) when (previous)
            {
                damage = e;
            }
        }
        var fallback = Read(PreviousPath);
        warn(damage is null
            ? $"The checkpoint {Path} is missing; resuming from the previous one, {PreviousPath}."
            : $"{damage.Message} Resuming from the previous checkpoint, {PreviousPath}.");
        return fallback;
    }

    /// <summary>Whether <paramref name="path"/> is a whole checkpoint: header, announced length and SHA-256 all check out.</summary>
    private static bool IsWhole(string path)
    {
        try
        {
            using var checkpoint = Read(path);
            return true;
        }
        catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>Reads and checks one checkpoint file; throws <see cref="InvalidDataException"/> naming the file when it is not a whole checkpoint.</summary>
    public static TrainingCheckpoint Read(string path)
    {
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
            var header = new byte[HeaderBytes.Length];
            if (stream.ReadAtLeast(header, header.Length, throwOnEndOfStream: false) != header.Length || !header.AsSpan().SequenceEqual(HeaderBytes))
                throw new InvalidDataException($"The file {path} is not an MLNet.Svae training checkpoint (it does not start with '{TrainingCheckpoint.Header}').");
            var reader = new BinaryReader(stream, Encoding.UTF8, leaveOpen: true);
            int version = reader.ReadInt32();
            if (version != TrainingCheckpoint.FormatVersion)
                throw new InvalidDataException($"The checkpoint {path} has format version {version}; this version of MLNet.Svae reads version {TrainingCheckpoint.FormatVersion}. Delete it to train from the start.");
            long length = reader.ReadInt64();
            long payloadStart = stream.Position;
            if (length < 0 || payloadStart + length + 32 != stream.Length)
                throw new InvalidDataException($"The checkpoint {path} is damaged: it is {stream.Length} bytes long but its header announces {payloadStart + Math.Max(0, length) + 32} (cut short while writing?).");
            byte[] hash = SHA256HashOf(stream, length);
            var stored = new byte[32];
            stream.ReadExactly(stored);
            if (!hash.AsSpan().SequenceEqual(stored))
                throw new InvalidDataException($"The checkpoint {path} is damaged: its SHA-256 does not match its contents.");
            stream.Position = payloadStart;
            var checkpoint = TrainingCheckpoint.ReadPayload(reader);
            if (stream.Position != payloadStart + length)
            {
                checkpoint.Dispose();
                throw new InvalidDataException($"The checkpoint {path} is damaged: its contents do not match its length.");
            }
            return checkpoint;
        }
        catch (Exception e) when (e is EndOfStreamException or FormatException or ArgumentException or OverflowException)
        {
            throw new InvalidDataException($"The checkpoint {path} is damaged: {e.Message}", e);
        }
    }

    private static byte[] SHA256HashOf(Stream stream, long length)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[1 << 16];
        long left = length;
        while (left > 0)
        {
            int read = stream.Read(buffer, 0, (int)Math.Min(buffer.Length, left));
            if (read <= 0)
                throw new EndOfStreamException();
            hash.AppendData(buffer, 0, read);
            left -= read;
        }
        return hash.GetHashAndReset();
    }
}
