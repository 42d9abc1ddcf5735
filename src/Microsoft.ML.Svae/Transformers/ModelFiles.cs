namespace Microsoft.ML.Svae;

/// <summary>File writes of models: temporary graph files and atomic writes of model zips.</summary>
internal static class ModelFiles
{
    /// <summary>
    /// How old a temporary file of an earlier save must be before <see cref="WriteAtomically"/> deletes it: a save
    /// running right now in another process keeps its temporary file locked, and the age covers the moment between
    /// the end of its write (the lock is released) and its rename.
    /// </summary>
    internal static readonly TimeSpan StaleTemporaryAge = TimeSpan.FromMinutes(1);

    /// <summary>
    /// Writes a file atomically: <paramref name="write"/> fills a temporary file in the same folder,
    /// which then replaces <paramref name="path"/> in one rename. A failed write leaves the old file. Temporary
    /// files that earlier saves of the same file left behind (the process was killed mid-save) are deleted first
    /// when they are unlocked and older than <see cref="StaleTemporaryAge"/>.
    /// </summary>
    public static void WriteAtomically(string path, Action<Stream> write)
    {
        string full = Path.GetFullPath(path);
        string directory = Path.GetDirectoryName(full) ?? ".";
        Directory.CreateDirectory(directory);
        DeleteStaleTemporaries(full);
        string temp = TemporaryPath(full, Guid.NewGuid());
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

    /// <summary>The temporary file of one atomic write of <paramref name="fullPath"/>: <c>.{name}.{32 hex digits}.tmp</c> beside it.</summary>
    internal static string TemporaryPath(string fullPath, Guid id)
        => Path.Combine(Path.GetDirectoryName(fullPath) ?? ".", $".{Path.GetFileName(fullPath)}.{id:N}.tmp");

    /// <summary>
    /// Deletes the temporary files of earlier, interrupted atomic writes of <paramref name="fullPath"/>: only names
    /// of <see cref="TemporaryPath"/>'s pattern for this very file, only files last written more than
    /// <see cref="StaleTemporaryAge"/> ago, and only files no other writer holds open. Best effort: a file that
    /// cannot be deleted is left alone. Returns the number of files deleted.
    /// </summary>
    internal static int DeleteStaleTemporaries(string fullPath)
    {
        string directory = Path.GetDirectoryName(fullPath) ?? ".";
        string prefix = $".{Path.GetFileName(fullPath)}.";
        int deleted = 0;
        IEnumerable<string> candidates;
        try
        {
            candidates = Directory.EnumerateFiles(directory, prefix + "*.tmp").ToList();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return 0;
        }
        DateTime cutoff = DateTime.UtcNow - StaleTemporaryAge;
        foreach (string candidate in candidates)
        {
            string name = Path.GetFileName(candidate);
            // Exactly ".{name}." + 32 lowercase hex digits + ".tmp" (the search pattern alone also matches longer names).
            if (name.Length != prefix.Length + 32 + 4 || !name.StartsWith(prefix, StringComparison.Ordinal) ||
                !name.EndsWith(".tmp", StringComparison.Ordinal) || !IsLowerHex(name.AsSpan(prefix.Length, 32)))
                continue;
            try
            {
                if (File.GetLastWriteTimeUtc(candidate) > cutoff)
                    continue;
                // An exclusive open fails while a writer (this or another .NET process) holds the file.
                using (new FileStream(candidate, FileMode.Open, FileAccess.ReadWrite, FileShare.None))
                {
                }
                File.Delete(candidate);
                deleted++;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Locked, already gone or not ours to delete: leave it.
            }
        }
        return deleted;
    }

    private static bool IsLowerHex(ReadOnlySpan<char> text)
    {
        foreach (char c in text)
            if (!char.IsAsciiDigit(c) && c is not (>= 'a' and <= 'f'))
                return false;
        return true;
    }
}
