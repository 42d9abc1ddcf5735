using System.Buffers.Binary;
using System.Text;

namespace Microsoft.ML.Svae.Tests.Native;

/// <summary>
/// The diagnosis of TorchSharp native-load failures, fed hand-built ELF files in temporary folders (no real load
/// is attempted, so nothing can abort the test run), and the ELF version reader on hand-built and real files.
/// </summary>
public sealed class TorchNativeLibraryTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("svae-native-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private string Folder(string name) => Directory.CreateDirectory(Path.Combine(_root, name)).FullName;

    private static readonly string[] Debian12LibStdCxx = ["GLIBCXX_3.4", "GLIBCXX_3.4.9", "GLIBCXX_3.4.29", "GLIBCXX_3.4.30", "CXXABI_1.3"];

    /// <summary>Every version Debian 12's libstdc++ (GCC 12) defines.</summary>
    private static readonly string[] Debian12LibStdCxxFull =
    [
        "GLIBCXX_3.4", .. Enumerable.Range(1, 30).Select(i => $"GLIBCXX_3.4.{i}"),
        "CXXABI_1.3", .. Enumerable.Range(1, 13).Select(i => $"CXXABI_1.3.{i}"),
    ];

    private static readonly ElfVersionNeed[] TorchSharpNeeds =
    [
        new("libstdc++.so.6", "GLIBCXX_3.4.9", false),
        new("libstdc++.so.6", "GLIBCXX_3.4.32", false),
        new("libstdc++.so.6", "CXXABI_1.3", false),
        new("libc.so.6", "GLIBC_2.38", false), // not libstdc++'s: never reported as a libstdc++ version
    ];

    [Fact]
    public void MissingGlibcxxVersionIsNamedWithTheFix()
    {
        string app = Folder("app");
        string wrapper = Path.Combine(app, "libLibTorchSharp.so");
        File.WriteAllBytes(wrapper, TinyElf.WithNeeds(TorchSharpNeeds));
        File.WriteAllBytes(Path.Combine(app, "libtorch_cpu.so"), TinyElf.WithNeeds([]));
        string host = Path.Combine(Folder("host"), "libstdc++.so.6");
        File.WriteAllBytes(host, TinyElf.WithDefinitions(Debian12LibStdCxx));

        string message = TorchNativeLibrary.Diagnose([app], host, TorchPlatform.Linux);

        Assert.Equal(
            $"TorchSharp could not load its native library {wrapper}: it needs GLIBCXX_3.4.32 from libstdc++.so.6, " +
            $"which this machine's libstdc++ ({host}, newest version GLIBCXX_3.4.30) does not define. Fix it in either of two ways: " +
            "build or publish the application with the build targets of the Microsoft.ML.Svae package, which mark that need weak " +
            "in the output folder (reference the package from the application project, directly or through another package, " +
            "leave the MSBuild property SvaeGlibcxxFixMode at its default, Always, and rebuild); or install the C++ standard " +
            "library of GCC 13 or newer on this machine.",
            message);
    }

    [Fact]
    public void VersionsTheBuildCannotWeakenAskForANewerLibStdCxx()
    {
        string app = Folder("app");
        string wrapper = Path.Combine(app, "libLibTorchSharp.so");
        File.WriteAllBytes(wrapper, TinyElf.WithNeeds([new("libstdc++.so.6", "GLIBCXX_3.4.32", false), new("libstdc++.so.6", "CXXABI_1.3.15", false)]));
        string host = Path.Combine(Folder("host"), "libstdc++.so.6");
        File.WriteAllBytes(host, TinyElf.WithDefinitions(Debian12LibStdCxx));

        string message = TorchNativeLibrary.Diagnose([app], host, TorchPlatform.Linux);

        Assert.Equal(
            $"TorchSharp could not load its native library {wrapper}: it needs GLIBCXX_3.4.32, CXXABI_1.3.15 from libstdc++.so.6, " +
            $"which this machine's libstdc++ ({host}, newest version GLIBCXX_3.4.30) does not define. " +
            "Install a C++ standard library that defines GLIBCXX_3.4.32, CXXABI_1.3.15 on this machine.",
            message);
    }

    [Fact]
    public void WeakNeedIsNotMissingSoTheMissingBackendIsNamed()
    {
        // The runtimes/<rid>/native layout of a build without a runtime identifier.
        string app = Folder("app");
        string native = Folder(Path.Combine("app", "runtimes", "linux-x64", "native"));
        File.WriteAllBytes(Path.Combine(native, "libLibTorchSharp.so"), TinyElf.WithNeeds([new("libstdc++.so.6", "GLIBCXX_3.4.32", true)]));
        string host = Path.Combine(Folder("host"), "libstdc++.so.6");
        File.WriteAllBytes(host, TinyElf.WithDefinitions(Debian12LibStdCxx));

        string message = TorchNativeLibrary.Diagnose([app, native], host, TorchPlatform.Linux);

        Assert.Equal(
            $"TorchSharp could not load its native backend: libtorch (libtorch_cpu.so) is not in the application's folders ({app}, {native}). " +
            "Add a libtorch backend package to the application project: TorchSharp-cpu for the CPU (dotnet add package TorchSharp-cpu); " +
            "or TorchSharp-cuda-linux for a CUDA GPU.",
            message);
    }

    [Fact]
    public void MissingNativeLibraryIsNamed()
    {
        string app = Folder("app");

        Assert.Equal(
            $"TorchSharp could not load its native library: libLibTorchSharp.so is not in the application's folders ({app}). " +
            "It comes with the TorchSharp package, a dependency of Microsoft.ML.Svae: build or publish the application with its " +
            "package references restored, and reference a libtorch backend package: TorchSharp-cpu for the CPU; or " +
            "TorchSharp-cuda-linux for a CUDA GPU.",
            TorchNativeLibrary.Diagnose([app], hostLibStdCxx: null, TorchPlatform.Linux));
    }

    [Fact]
    public void OnWindowsTheWindowsFileAndPackageNamesAreUsed()
    {
        string app = Folder("app");
        File.WriteAllBytes(Path.Combine(app, "LibTorchSharp.dll"), [0x4d, 0x5a]);

        string message = TorchNativeLibrary.Diagnose([app], hostLibStdCxx: null, TorchPlatform.Windows);

        Assert.Equal(
            $"TorchSharp could not load its native backend: libtorch (torch_cpu.dll) is not in the application's folders ({app}). " +
            "Add a libtorch backend package to the application project: TorchSharp-cpu for the CPU (dotnet add package TorchSharp-cpu); " +
            "or TorchSharp-cuda-windows for a CUDA GPU.",
            message);
    }

    [Fact]
    public void NoLibStdCxxOnTheMachineIsSaid()
    {
        string app = Folder("app");
        string wrapper = Path.Combine(app, "libLibTorchSharp.so");
        File.WriteAllBytes(wrapper, TinyElf.WithNeeds(TorchSharpNeeds));

        Assert.Equal(
            $"TorchSharp could not load its native library {wrapper}: it needs libstdc++.so.6 (GLIBCXX_3.4.9, GLIBCXX_3.4.32, CXXABI_1.3), " +
            "and no libstdc++.so.6 was found on this machine. Install the C++ standard library of GCC 13 or newer " +
            "(e.g. the libstdc++6 package of a newer distribution).",
            TorchNativeLibrary.Diagnose([app], hostLibStdCxx: null, TorchPlatform.Linux));
    }

    [Fact]
    public void EverythingPresentPointsToTorchSharpsOwnReport()
    {
        string app = Folder("app");
        string wrapper = Path.Combine(app, "libLibTorchSharp.so");
        File.WriteAllBytes(wrapper, TinyElf.WithNeeds([new("libstdc++.so.6", "GLIBCXX_3.4.9", false)]));
        File.WriteAllBytes(Path.Combine(app, "libtorch_cpu.so"), TinyElf.WithNeeds([]));
        string host = Path.Combine(Folder("host"), "libstdc++.so.6");
        File.WriteAllBytes(host, TinyElf.WithDefinitions(Debian12LibStdCxx));

        Assert.Equal(
            $"TorchSharp could not load its native library {wrapper}, although the libtorch backend (libtorch_cpu.so) is present; " +
            "see the inner exception for TorchSharp's own report.",
            TorchNativeLibrary.Diagnose([app], host, TorchPlatform.Linux));
    }

    [Fact]
    public void ElfReaderReadsNeedsAndDefinitions()
    {
        string lib = Path.Combine(_root, "lib.so");
        File.WriteAllBytes(lib, TinyElf.WithNeeds(TorchSharpNeeds));
        string host = Path.Combine(_root, "host.so");
        File.WriteAllBytes(host, TinyElf.WithDefinitions(Debian12LibStdCxx));

        Assert.Equal(TorchSharpNeeds, ElfSymbolVersions.ReadNeeds(lib));
        Assert.Empty(ElfSymbolVersions.ReadDefinitions(lib)!);
        Assert.Equal(Debian12LibStdCxx, ElfSymbolVersions.ReadDefinitions(host));
        Assert.Empty(ElfSymbolVersions.ReadNeeds(host)!);
    }

    [Fact]
    public void ElfReaderRejectsOtherFiles()
    {
        string text = Path.Combine(_root, "text.so");
        File.WriteAllText(text, "not a shared library");
        string truncated = Path.Combine(_root, "truncated.so");
        File.WriteAllBytes(truncated, TinyElf.WithNeeds(TorchSharpNeeds)[..64]);
        string elf32 = Path.Combine(_root, "elf32.so");
        var bytes = TinyElf.WithNeeds(TorchSharpNeeds);
        bytes[4] = 1; // ELFCLASS32
        File.WriteAllBytes(elf32, bytes);

        Assert.Null(ElfSymbolVersions.ReadNeeds(text));
        Assert.Null(ElfSymbolVersions.ReadNeeds(truncated));
        Assert.Null(ElfSymbolVersions.ReadDefinitions(elf32));
    }

    [Fact]
    public void TheBuildMarkedTheTestOutputsLibTorchSharpNeedWeak()
    {
        if (!OperatingSystem.IsLinux())
            return; // the Linux library only
        string? wrapper = new[] { AppContext.BaseDirectory, Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native") }
            .Select(d => Path.Combine(d, "libLibTorchSharp.so")).FirstOrDefault(File.Exists);
        Assert.NotNull(wrapper);

        var needs = ElfSymbolVersions.ReadNeeds(wrapper)!;
        Assert.Contains(new ElfVersionNeed("libstdc++.so.6", TorchNativeLibrary.PatchedVersion, IsWeak: true), needs);
        Assert.DoesNotContain(needs, n => n.Version == TorchNativeLibrary.PatchedVersion && !n.IsWeak);

        // On a machine whose libstdc++ lacks the version, the weakened need is not a reason to fail: the diagnosis
        // moves on (here to the backend, absent from the copy's folder).
        string app = Folder("app");
        File.Copy(wrapper, Path.Combine(app, "libLibTorchSharp.so"));
        string host = Path.Combine(Folder("host"), "libstdc++.so.6");
        File.WriteAllBytes(host, TinyElf.WithDefinitions(Debian12LibStdCxxFull));
        Assert.StartsWith("TorchSharp could not load its native backend: libtorch (libtorch_cpu.so)",
            TorchNativeLibrary.Diagnose([app], host, TorchPlatform.Linux));
    }

    [Fact]
    public void ElfReaderReadsTheMachinesLibStdCxx()
    {
        string? host = new[] { "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/usr/lib/aarch64-linux-gnu/libstdc++.so.6", "/usr/lib64/libstdc++.so.6" }
            .FirstOrDefault(File.Exists);
        if (host is null)
            return; // not a Linux machine with libstdc++
        var defined = ElfSymbolVersions.ReadDefinitions(host)!;
        Assert.Contains("GLIBCXX_3.4", defined);
        Assert.Contains("GLIBCXX_3.4.9", defined);
        Assert.Contains("CXXABI_1.3", defined);
        Assert.All(defined, v => Assert.Matches(@"^[A-Z_]+[0-9.]*$|^libstdc\+\+\.so\.6$", v));
    }

    [Fact]
    public void TorchSharpLoadsInTheTestProcess() => TorchNativeLibrary.EnsureLoaded();

    /// <summary>Builds minimal 64-bit little-endian ELF files holding a string table and one symbol-version section.</summary>
    private static class TinyElf
    {
        public static byte[] WithNeeds(IReadOnlyList<ElfVersionNeed> needs)
        {
            var strings = new StringTable();
            var section = new List<byte>();
            var files = needs.GroupBy(n => n.File).ToList();
            for (int f = 0; f < files.Count; f++)
            {
                var entries = files[f].ToList();
                Put16(section, 1);                                  // vn_version
                Put16(section, (ushort)entries.Count);              // vn_cnt
                Put32(section, strings.Add(files[f].Key));          // vn_file
                Put32(section, 16);                                 // vn_aux
                Put32(section, f + 1 < files.Count ? 16u + 16u * (uint)entries.Count : 0); // vn_next
                for (int a = 0; a < entries.Count; a++)
                {
                    Put32(section, 0);                              // vna_hash
                    Put16(section, (ushort)(entries[a].IsWeak ? 2 : 0)); // vna_flags
                    Put16(section, (ushort)(a + 2));                // vna_other
                    Put32(section, strings.Add(entries[a].Version)); // vna_name
                    Put32(section, a + 1 < entries.Count ? 16u : 0); // vna_next
                }
            }
            return Build(strings, section, type: 0x6ffffffe, count: files.Count);
        }

        public static byte[] WithDefinitions(IReadOnlyList<string> versions)
        {
            var strings = new StringTable();
            var section = new List<byte>();
            for (int d = 0; d < versions.Count; d++)
            {
                Put16(section, 1);                                  // vd_version
                Put16(section, 0);                                  // vd_flags
                Put16(section, (ushort)(d + 1));                    // vd_ndx
                Put16(section, 1);                                  // vd_cnt
                Put32(section, 0);                                  // vd_hash
                Put32(section, 20);                                 // vd_aux
                Put32(section, d + 1 < versions.Count ? 28u : 0);   // vd_next
                Put32(section, strings.Add(versions[d]));           // vda_name
                Put32(section, 0);                                  // vda_next
            }
            return Build(strings, section, type: 0x6ffffffd, count: versions.Count);
        }

        private static byte[] Build(StringTable strings, List<byte> section, uint type, int count)
        {
            byte[] stringBytes = strings.Bytes();
            long stringsAt = 64, sectionAt = Align(stringsAt + stringBytes.Length), headersAt = Align(sectionAt + section.Count);
            var file = new byte[headersAt + 3 * 64];
            file[0] = 0x7f; file[1] = (byte)'E'; file[2] = (byte)'L'; file[3] = (byte)'F';
            file[4] = 2; file[5] = 1; file[6] = 1;                  // ELFCLASS64, ELFDATA2LSB, EV_CURRENT
            BinaryPrimitives.WriteUInt16LittleEndian(file.AsSpan(0x10), 3); // ET_DYN
            BinaryPrimitives.WriteUInt64LittleEndian(file.AsSpan(0x28), (ulong)headersAt);
            BinaryPrimitives.WriteUInt16LittleEndian(file.AsSpan(0x34), 64);
            BinaryPrimitives.WriteUInt16LittleEndian(file.AsSpan(0x3A), 64);
            BinaryPrimitives.WriteUInt16LittleEndian(file.AsSpan(0x3C), 3);
            stringBytes.CopyTo(file, stringsAt);
            section.CopyTo(file, (int)sectionAt);
            SectionHeader(file, headersAt + 64, type: 3, stringsAt, stringBytes.Length, link: 0, info: 0);
            SectionHeader(file, headersAt + 128, type, sectionAt, section.Count, link: 1, info: (uint)count);
            return file;
        }

        private static void SectionHeader(byte[] file, long at, uint type, long offset, long size, uint link, uint info)
        {
            var h = file.AsSpan((int)at, 64);
            BinaryPrimitives.WriteUInt32LittleEndian(h[4..], type);
            BinaryPrimitives.WriteUInt64LittleEndian(h[0x18..], (ulong)offset);
            BinaryPrimitives.WriteUInt64LittleEndian(h[0x20..], (ulong)size);
            BinaryPrimitives.WriteUInt32LittleEndian(h[0x28..], link);
            BinaryPrimitives.WriteUInt32LittleEndian(h[0x2C..], info);
        }

        private static long Align(long at) => (at + 7) & ~7L;

        private static void Put16(List<byte> b, ushort v) { b.Add((byte)v); b.Add((byte)(v >> 8)); }

        private static void Put32(List<byte> b, uint v) { for (int i = 0; i < 4; i++) b.Add((byte)(v >> (8 * i))); }

        private sealed class StringTable
        {
            private readonly List<byte> _bytes = [0];

            public uint Add(string s)
            {
                uint at = (uint)_bytes.Count;
                _bytes.AddRange(Encoding.ASCII.GetBytes(s));
                _bytes.Add(0);
                return at;
            }

            public byte[] Bytes() => _bytes.ToArray();
        }
    }
}
