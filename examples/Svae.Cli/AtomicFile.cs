namespace Svae.Cli;

/// <summary>
/// Writes the runner's output files atomically: the content goes to a temporary file beside the target, which then
/// replaces the target in one rename, so a run killed while writing leaves the previous file or the new one, never
/// half of one.
/// </summary>
internal static class AtomicFile
{
    /// <summary>Writes <paramref name="path"/> through <paramref name="write"/>, which receives the temporary path to fill.</summary>
    public static void Write(string path, Action<string> write)
    {
        string full = Path.GetFullPath(path);
        string temporary = Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            write(temporary);
            File.Move(temporary, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(temporary))
                File.Delete(temporary);
        }
    }

    /// <summary>Writes <paramref name="text"/> to <paramref name="path"/> atomically (UTF-8).</summary>
    public static void WriteAllText(string path, string text) => Write(path, temporary => File.WriteAllText(temporary, text));
}
