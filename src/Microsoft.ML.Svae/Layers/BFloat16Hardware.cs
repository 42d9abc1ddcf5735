using System.Runtime.Intrinsics.X86;

namespace Microsoft.ML.Svae;

/// <summary>
/// Whether this CPU runs bfloat16 matrix products in hardware (AVX512-BF16 or AMX-BF16), as far as the operating system
/// says: <see cref="TrainingPrecision.BFloat16"/> pays only there. On x86 (any operating system) from CPUID, elsewhere
/// from Linux's <c>/proc/cpuinfo</c>.
/// </summary>
/// <remarks>
/// Without that hardware oneDNN emulates bfloat16 products: measured on this project's machine with oneDNN limited to
/// AVX-512 or AVX2 (<c>ONEDNN_MAX_CPU_ISA</c>), the output layer's bfloat16 products took 33-427 CPU ms against 6-11
/// for float32 (docs/BENCHMARKS.md, issue 16).
/// </remarks>
internal static class BFloat16Hardware
{
    private static readonly Lazy<bool?> s_present = new(Detect);

    /// <summary>True or false on x86 (CPUID) and on Linux (its CPU flags), <see langword="null"/> elsewhere.</summary>
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

    /// <summary>
    /// Whether CPUID's feature bits name AMX-BF16 (leaf 7, sub-leaf 0, EDX bit 22) or AVX512-BF16 (leaf 7, sub-leaf 1,
    /// EAX bit 5).
    /// </summary>
    public static bool FromCpuid(int leaf7Edx, int leaf7Subleaf1Eax) => (leaf7Edx & (1 << 22)) != 0 || (leaf7Subleaf1Eax & (1 << 5)) != 0;

    private static bool? Detect()
    {
        try
        {
            // x86 on any operating system: CPUID. Elsewhere, Linux's flags (other architectures name no such flags: false).
            if (X86Base.IsSupported)
                return X86Base.CpuId(0, 0).Eax >= 7 ? FromCpuid(X86Base.CpuId(7, 0).Edx, X86Base.CpuId(7, 1).Eax) : false;
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
