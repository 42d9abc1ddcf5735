namespace Microsoft.ML.Svae;

/// <summary>
/// Whether this CPU runs bfloat16 matrix products in hardware (AVX512-BF16 or AMX-BF16), as far as the operating system
/// says: <see cref="TrainingPrecision.BFloat16"/> pays only there.
/// </summary>
/// <remarks>
/// Without that hardware oneDNN emulates bfloat16 products: measured on this project's machine with oneDNN limited to
/// AVX-512 or AVX2 (<c>ONEDNN_MAX_CPU_ISA</c>), the output layer's bfloat16 products took 33-427 CPU ms against 6-11
/// for float32 (docs/BENCHMARKS.md, issue 16). Read from <c>/proc/cpuinfo</c> on Linux; unknown elsewhere.
/// </remarks>
internal static class BFloat16Hardware
{
    private static readonly Lazy<bool?> s_present = new(Detect);

    /// <summary>True or false where the operating system lists the CPU's flags (Linux), <see langword="null"/> elsewhere.</summary>
    public static bool? Present => s_present.Value;

    /// <summary>Whether the <c>flags</c> lines of <paramref name="cpuInfo"/> (<c>/proc/cpuinfo</c>'s text) name <c>avx512_bf16</c> or <c>amx_bf16</c>; <see langword="null"/> without a flags line.</summary>
    public static bool? FromCpuInfo(string cpuInfo)
    {
        bool sawFlags = false;
        foreach (var line in cpuInfo.Split('\n'))
        {
            int colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon < 0 || line[..colon].Trim() != "flags")
                continue;
            sawFlags = true;
            var flags = line[(colon + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (flags.Contains("avx512_bf16") || flags.Contains("amx_bf16"))
                return true;
        }
        return sawFlags ? false : null;
    }

    /// <summary>The training log's warning for <see cref="TrainingPrecision.BFloat16"/> on a CPU whose hardware is <paramref name="present"/>; <see langword="null"/> when there is nothing to say.</summary>
    public static string? Warning(string modelName, bool? present)
        => present == false
            ? $"{modelName}: TrainingPrecision is BFloat16, but this CPU lists neither avx512_bf16 nor amx_bf16: libtorch emulates bfloat16 products there, and training can be several times slower than with Float32."
            : null;

    private static bool? Detect()
    {
        try
        {
            return OperatingSystem.IsLinux() && File.Exists("/proc/cpuinfo") ? FromCpuInfo(File.ReadAllText("/proc/cpuinfo")) : null;
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }
}
