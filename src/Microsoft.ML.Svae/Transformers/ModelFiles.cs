namespace Microsoft.ML.Svae;

/// <summary>File writes of models: temporary graph files and atomic writes of model zips.</summary>
internal static class ModelFiles
{
    /// <summary>Writes <paramref name="bytes"/> to a new temporary file and returns its path.</summary>
    public static string WriteTemporary(byte[] bytes, string extension)
    {
        string path = Path.Combine(Path.GetTempPath(), $"mlnet-svae-{Guid.NewGuid():N}{extension}");
        File.WriteAllBytes(path, bytes);
        return path;
    }

    /// <summary>
    /// Writes a file atomically: <paramref name="write"/> fills a temporary file in the same folder,
    /// which then replaces <paramref name="path"/> in one rename. A failed write leaves the old file.
    /// </summary>
    public static void WriteAtomically(string path, Action<Stream> write)
    {
        string full = Path.GetFullPath(path);
        string directory = Path.GetDirectoryName(full) ?? ".";
        Directory.CreateDirectory(directory);
        string temp = Path.Combine(directory, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
    }
}
