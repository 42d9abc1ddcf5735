using System.Buffers.Binary;
using System.IO.Compression;
using Microsoft.ML.OnnxRuntime;

namespace Microsoft.ML.Svae;

/// <summary>
/// Loads model zips with ML.NET's <c>mlContext.Model.Load</c> and turns its failures on a damaged file (the
/// nested "Error during class instantiation" exceptions of its component catalog) into one clear error.
/// </summary>
internal static class ModelLoading
{
    /// <summary>
    /// Loads the model at <paramref name="path"/>. A damaged file raises <see cref="InvalidDataException"/>
    /// saying so (the original exception is its inner exception); other errors pass through unchanged.
    /// </summary>
    public static ITransformer Load(MLContext mlContext, string path, out DataViewSchema inputSchema)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path))
            throw new FileNotFoundException($"The model file '{path}' does not exist.", path);
        try
        {
            return mlContext.Model.Load(path, out inputSchema);
        }
        catch (Exception e) when (e is not OutOfMemoryException && Explain(path, e) is string message)
        {
            throw new InvalidDataException(message, e);
        }
    }

    /// <summary>A message for a failed load explained by the file's content, or null to let ML.NET's error through.</summary>
    private static string? Explain(string path, Exception error)
    {
        if (Damage(path) is string damage)
            return $"The model file '{path}' is damaged: {damage}. Save the model again, or restore the file from a copy.";
        // The parts are intact as far as can be checked, yet ML.NET or ONNX Runtime could not read one of them.
        var innermost = error;
        while (innermost.InnerException is not null)
            innermost = innermost.InnerException;
        if (innermost == error)
            return null;
        if (innermost is OnnxRuntimeException onnx)
            return $"The model file '{path}' could not be read: ONNX Runtime rejected its ONNX graph ({onnx.Message.Trim()}). " +
                "The file may be damaged, or need a newer ONNX Runtime than this app has.";
        if (innermost is FormatException)
            return $"The model file '{path}' could not be read: ML.NET could not decode a part of it ({innermost.Message}). " +
                "The file may be damaged, or have been written by a newer version of ML.NET or of this library.";
        return null;
    }

    /// <summary>What is damaged in the file, or null when no damage is found.</summary>
    private static string? Damage(string path)
    {
        // First the container: a truncated or overwritten file is not a readable zip, or an entry fails its checksum.
        var onnxEntries = new List<(string Name, byte[] Bytes)>();
        try
        {
            using var zip = ZipFile.OpenRead(path);
            foreach (var entry in zip.Entries)
            {
                using var stream = entry.Open();
                var bytes = new MemoryStream();
                stream.CopyTo(bytes);
                if (entry.Name == OnnxEntryName)
                    onnxEntries.Add((entry.FullName, bytes.ToArray()));
            }
        }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException)
        {
            return $"it is not a readable zip archive ({e.Message})";
        }

        // Then the ONNX graphs, each checked as ML.NET's OnnxTransformer reads it.
        foreach (var (name, bytes) in onnxEntries)
        {
            if (OnnxEntryDamage(bytes) is string why)
                return $"its ONNX graph (zip entry '{name}') could not be read: {why}";
        }
        return null;
    }

    /// <summary>The name of the zip entry in which ML.NET's OnnxTransformer stores its graph.</summary>
    internal const string OnnxEntryName = "OnnxModel";

    /// <summary>
    /// Why an <see cref="OnnxEntryName"/> entry cannot be read, or null: ML.NET stores the graph as a byte array
    /// (a 32-bit little-endian length, then the bytes), which ONNX Runtime must accept.
    /// </summary>
    private static string? OnnxEntryDamage(byte[] entry)
    {
        if (entry.Length < sizeof(int))
            return $"the entry holds only {entry.Length} bytes";
        int length = BinaryPrimitives.ReadInt32LittleEndian(entry);
        if (length != entry.Length - sizeof(int))
            return $"the entry's length field says {length} bytes, but {entry.Length - sizeof(int)} follow it";
        try
        {
            using var session = new InferenceSession(entry[sizeof(int)..]);
            return null;
        }
        catch (OnnxRuntimeException e)
        {
            return $"ONNX Runtime rejected it ({e.Message.Trim()})";
        }
    }
}
