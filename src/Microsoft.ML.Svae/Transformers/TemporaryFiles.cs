using System.Diagnostics;
using System.Globalization;

namespace Microsoft.ML.Svae;

/// <summary>
/// The temporary files this library creates (the ONNX graphs of fitted models, which ML.NET's
/// <c>OnnxTransformer</c> reads from disk): one folder per process, <c>&lt;temp&gt;/mlnet-svae/&lt;process id&gt;/</c>.
/// </summary>
/// <remarks>
/// A file is deleted when its model is disposed; the process's folder is deleted when the process exits normally;
/// and the first time a process creates a file, it deletes the folders of processes that no longer run, so the
/// files of a killed process go away the next time a model is created.
/// </remarks>
internal static class TemporaryFiles
{
    private static readonly Lazy<string> ProcessFolder = new(CreateProcessFolder, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The folder holding one subfolder per process: <c>&lt;temp&gt;/mlnet-svae</c>.</summary>
    public static string Root => Path.Combine(Path.GetTempPath(), "mlnet-svae");

    /// <summary>This process's folder (created on first use).</summary>
    public static string Folder => ProcessFolder.Value;

    /// <summary>Writes <paramref name="bytes"/> to a new file in this process's folder and returns its path.</summary>
    public static string Write(byte[] bytes, string extension)
    {
        string folder = ProcessFolder.Value;
        Directory.CreateDirectory(folder); // again, in case it was removed while the process runs
        string path = Path.Combine(folder, $"{Guid.NewGuid():N}{extension}");
        File.WriteAllBytes(path, bytes);
        return path;
    }

    /// <summary>Deletes a file written by <see cref="Write"/>; a file that cannot be deleted now goes with its folder.</summary>
    public static void Delete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    /// <summary>
    /// Deletes the subfolders of <paramref name="root"/> named after a process id whose process no longer runs;
    /// returns how many were deleted. Folders that cannot be deleted (another user's, files in use) are left.
    /// </summary>
    public static int DeleteFoldersOfExitedProcesses(string root)
    {
        if (!Directory.Exists(root))
            return 0;
        int deleted = 0;
        foreach (string folder in Directory.EnumerateDirectories(root))
        {
            if (!int.TryParse(Path.GetFileName(folder), NumberStyles.None, CultureInfo.InvariantCulture, out int pid))
                continue;
            if (pid == Environment.ProcessId || IsRunning(pid))
                continue;
            if (TryDeleteFolder(folder))
                deleted++;
        }
        return deleted;
    }

    private static string CreateProcessFolder()
    {
        DeleteFoldersOfExitedProcesses(Root);
        string folder = Path.Combine(Root, Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
        Directory.CreateDirectory(folder);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => TryDeleteFolder(folder);
        return folder;
    }

    private static bool IsRunning(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    private static bool TryDeleteFolder(string folder)
    {
        try
        {
            Directory.Delete(folder, recursive: true);
            return true;
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }
}
