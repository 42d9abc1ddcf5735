using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using TorchSharp;

namespace Microsoft.ML.Svae;

/// <summary>The operating system whose file names and backend packages a diagnosis uses.</summary>
internal enum TorchPlatform
{
    Linux,
    Windows,
    MacOS,
}

/// <summary>
/// Loads TorchSharp's native library before training, and when that fails says why: the <c>GLIBCXX_</c> version
/// the machine's libstdc++ lacks (and how to fix it), or the missing native library or libtorch backend package.
/// </summary>
/// <remarks>
/// TorchSharp reports every load failure as a missing libtorch package reference, including the common case on
/// Linux distributions with an older libstdc++ than GCC 13's (e.g. Debian 12), where the backend is present but
/// <c>libLibTorchSharp.so</c> needs <c>GLIBCXX_3.4.32</c>. The diagnosis reads the library's ELF version needs and
/// the versions the machine's libstdc++ defines.
/// </remarks>
internal static class TorchNativeLibrary
{
    /// <summary>The version need that the build targets of this package (src/Svae.Native) mark weak.</summary>
    internal const string PatchedVersion = "GLIBCXX_3.4.32";

    private static volatile bool s_loaded;

    /// <summary>
    /// Loads TorchSharp's native backend (its CPU part, as TorchSharp's own initialization does); on failure throws an
    /// <see cref="InvalidOperationException"/> that explains it, with TorchSharp's exception as the inner exception.
    /// </summary>
    public static void EnsureLoaded()
    {
        if (s_loaded)
            return;
        try
        {
            RuntimeHelpers.RunClassConstructor(typeof(torch).TypeHandle);
        }
        catch (Exception e) when (e is TypeInitializationException or NotSupportedException or DllNotFoundException
                                      or EntryPointNotFoundException or BadImageFormatException)
        {
            throw new InvalidOperationException(Diagnose(NativeDirectories(), FindHostLibStdCxx(), CurrentPlatform()), e);
        }
        s_loaded = true;
    }

    /// <summary>
    /// Explains why TorchSharp's native library does not load, from the folders where an application's native
    /// libraries are (<paramref name="directories"/>, searched in order) and the machine's libstdc++
    /// (<paramref name="hostLibStdCxx"/>, <see langword="null"/> when there is none; used on Linux only).
    /// </summary>
    internal static string Diagnose(IReadOnlyList<string> directories, string? hostLibStdCxx, TorchPlatform platform)
    {
        string where = string.Join(", ", directories);
        string cudaPackage = platform switch
        {
            TorchPlatform.Linux => "; or TorchSharp-cuda-linux for a CUDA GPU",
            TorchPlatform.Windows => "; or TorchSharp-cuda-windows for a CUDA GPU",
            _ => "",
        };
        var (wrapperName, backendName) = platform switch
        {
            TorchPlatform.Windows => ("LibTorchSharp.dll", "torch_cpu.dll"),
            TorchPlatform.MacOS => ("libLibTorchSharp.dylib", "libtorch_cpu.dylib"),
            _ => ("libLibTorchSharp.so", "libtorch_cpu.so"),
        };

        string? wrapper = Find(directories, wrapperName);
        if (wrapper is null)
            return $"TorchSharp could not load its native library: {wrapperName} is not in the application's folders ({where}). " +
                   "It comes with the TorchSharp package, a dependency of Microsoft.ML.Svae: build or publish the application " +
                   $"with its package references restored, and reference a libtorch backend package: TorchSharp-cpu for the CPU{cudaPackage}.";

        if (platform == TorchPlatform.Linux && MissingLibStdCxxVersions(wrapper, hostLibStdCxx) is { } missing)
            return missing;

        if (Find(directories, backendName) is null)
            return $"TorchSharp could not load its native backend: libtorch ({backendName}) is not in the application's folders ({where}). " +
                   $"Add a libtorch backend package to the application project: TorchSharp-cpu for the CPU (dotnet add package TorchSharp-cpu){cudaPackage}.";

        return $"TorchSharp could not load its native library {wrapper}, although the libtorch backend ({backendName}) is present; " +
               "see the inner exception for TorchSharp's own report.";
    }

    /// <summary>
    /// The message when <paramref name="wrapper"/> needs (not weakly) versions of libstdc++.so.6 that
    /// <paramref name="hostLibStdCxx"/> does not define; else <see langword="null"/>.
    /// </summary>
    private static string? MissingLibStdCxxVersions(string wrapper, string? hostLibStdCxx)
    {
        IReadOnlyList<ElfVersionNeed>? needs;
        try
        {
            needs = ElfSymbolVersions.ReadNeeds(wrapper);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
        var required = needs?.Where(n => !n.IsWeak && n.File.StartsWith("libstdc++.so", StringComparison.Ordinal))
            .Select(n => n.Version).Distinct().ToList();
        if (required is null || required.Count == 0)
            return null;

        if (hostLibStdCxx is null)
            return $"TorchSharp could not load its native library {wrapper}: it needs libstdc++.so.6 ({string.Join(", ", required)}), " +
                   "and no libstdc++.so.6 was found on this machine. Install the C++ standard library of GCC 13 or newer " +
                   "(e.g. the libstdc++6 package of a newer distribution).";

        IReadOnlyList<string>? defined;
        try
        {
            defined = ElfSymbolVersions.ReadDefinitions(hostLibStdCxx);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
        if (defined is null)
            return null;
        var missing = required.Where(v => !defined.Contains(v)).ToList();
        if (missing.Count == 0)
            return null;

        string newest = defined.Where(v => v.StartsWith("GLIBCXX_", StringComparison.Ordinal))
            .OrderBy(v => v, Comparer<string>.Create(CompareVersionNames)).LastOrDefault() ?? "none";
        string problem = $"TorchSharp could not load its native library {wrapper}: it needs {string.Join(", ", missing)} from libstdc++.so.6, " +
                         $"which this machine's libstdc++ ({hostLibStdCxx}, newest version {newest}) does not define.";
        if (missing.Count == 1 && missing[0] == PatchedVersion)
            return problem + " Fix it in either of two ways: build or publish the application with the build targets of the " +
                   "Microsoft.ML.Svae package, which mark that need weak in the output folder (reference the package from the " +
                   "application project, directly or through another package, leave the MSBuild property SvaeGlibcxxFixMode at " +
                   "its default, Always, and rebuild); or install the C++ standard library of GCC 13 or newer on this machine.";
        return problem + " Install a C++ standard library that defines " + string.Join(", ", missing) + " on this machine.";
    }

    /// <summary>Orders version names such as GLIBCXX_3.4.9 and GLIBCXX_3.4.30 by their numbers.</summary>
    private static int CompareVersionNames(string a, string b)
    {
        static int[] Numbers(string name) => name[(name.IndexOf('_') + 1)..].Split('.')
            .Select(p => int.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out int n) ? n : 0).ToArray();
        int[] x = Numbers(a), y = Numbers(b);
        for (int i = 0; i < Math.Min(x.Length, y.Length); i++)
        {
            if (x[i] != y[i])
                return x[i].CompareTo(y[i]);
        }
        return x.Length.CompareTo(y.Length);
    }

    private static string? Find(IReadOnlyList<string> directories, string fileName)
        => directories.Select(d => Path.Combine(d, fileName)).FirstOrDefault(File.Exists);

    /// <summary>
    /// Where an application's native libraries are: its base folder and TorchSharp's, each with its
    /// <c>runtimes/&lt;rid&gt;/native</c> folder (used by builds without a runtime identifier).
    /// </summary>
    private static IReadOnlyList<string> NativeDirectories()
    {
        string os = CurrentPlatform() switch
        {
            TorchPlatform.Windows => "win",
            TorchPlatform.MacOS => "osx",
            _ => "linux",
        };
        string rid = os + "-" + RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant();
        var bases = new[] { AppContext.BaseDirectory, Path.GetDirectoryName(typeof(torch).Assembly.Location) }
            .Where(d => !string.IsNullOrEmpty(d)).Select(d => Path.GetFullPath(d!)).Distinct();
        return bases.SelectMany(d => new[] { d, Path.Combine(d, "runtimes", rid, "native") }).Distinct().ToList();
    }

    /// <summary>The libstdc++ this process has loaded, else the first in the usual places; <see langword="null"/> when none.</summary>
    private static string? FindHostLibStdCxx()
    {
        if (!OperatingSystem.IsLinux())
            return null;
        try
        {
            foreach (string line in File.ReadLines("/proc/self/maps"))
            {
                int slash = line.IndexOf('/');
                if (slash >= 0 && line.AsSpan(slash).EndsWith("/libstdc++.so.6", StringComparison.Ordinal))
                    return line[slash..];
                if (slash >= 0 && line.Contains("/libstdc++.so.6.", StringComparison.Ordinal))
                    return line[slash..];
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
        string[] candidates =
        {
            "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/lib/x86_64-linux-gnu/libstdc++.so.6",
            "/usr/lib/aarch64-linux-gnu/libstdc++.so.6", "/lib/aarch64-linux-gnu/libstdc++.so.6",
            "/usr/lib64/libstdc++.so.6", "/lib64/libstdc++.so.6", "/usr/lib/libstdc++.so.6",
        };
        return candidates.FirstOrDefault(File.Exists);
    }

    private static TorchPlatform CurrentPlatform()
        => OperatingSystem.IsWindows() ? TorchPlatform.Windows : OperatingSystem.IsMacOS() ? TorchPlatform.MacOS : TorchPlatform.Linux;
}
