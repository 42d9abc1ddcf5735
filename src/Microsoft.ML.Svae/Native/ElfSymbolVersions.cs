using System.Buffers.Binary;
using System.Text;

namespace Microsoft.ML.Svae;

/// <summary>One version a shared library needs from another (an entry of its <c>.gnu.version_r</c> section).</summary>
/// <param name="File">The library the version is needed from, e.g. <c>libstdc++.so.6</c>.</param>
/// <param name="Version">The version name, e.g. <c>GLIBCXX_3.4.32</c>.</param>
/// <param name="IsWeak">Whether the need is weak (<c>VER_FLG_WEAK</c>): the loader accepts the library without it.</param>
internal readonly record struct ElfVersionNeed(string File, string Version, bool IsWeak);

/// <summary>
/// Reads the symbol versions of a 64-bit little-endian ELF shared library: the versions it needs
/// (<c>.gnu.version_r</c>) and the versions it defines (<c>.gnu.version_d</c>). Only the section headers and those
/// sections (with their string tables) are read, not the whole file.
/// </summary>
internal static class ElfSymbolVersions
{
    private const uint ShtGnuVerdef = 0x6ffffffd;
    private const uint ShtGnuVerneed = 0x6ffffffe;
    private const ushort VerFlgWeak = 0x2;

    /// <summary>The versions <paramref name="path"/> needs; <see langword="null"/> when it is not a 64-bit little-endian ELF file.</summary>
    public static IReadOnlyList<ElfVersionNeed>? ReadNeeds(string path)
    {
        using var file = File.OpenRead(path);
        var sections = ReadSections(file);
        if (sections is null)
            return null;
        var needs = new List<ElfVersionNeed>();
        foreach (var section in sections.Where(s => s.Type == ShtGnuVerneed))
        {
            byte[] data = ReadBytes(file, section.Offset, section.Size);
            byte[] strings = StringTable(file, sections, section.Link);
            int need = 0;
            for (int n = 0; n < section.Info && need >= 0 && need + 16 <= data.Length; n++)
            {
                int auxCount = U16(data, need + 2);
                string library = CString(strings, U32(data, need + 4));
                int aux = need + (int)U32(data, need + 8);
                for (int a = 0; a < auxCount && aux >= 0 && aux + 16 <= data.Length; a++)
                {
                    ushort flags = U16(data, aux + 4);
                    needs.Add(new ElfVersionNeed(library, CString(strings, U32(data, aux + 8)), (flags & VerFlgWeak) != 0));
                    uint nextAux = U32(data, aux + 12);
                    if (nextAux == 0)
                        break;
                    aux += (int)nextAux;
                }
                uint next = U32(data, need + 12);
                if (next == 0)
                    break;
                need += (int)next;
            }
        }
        return needs;
    }

    /// <summary>The versions <paramref name="path"/> defines; <see langword="null"/> when it is not a 64-bit little-endian ELF file.</summary>
    public static IReadOnlyList<string>? ReadDefinitions(string path)
    {
        using var file = File.OpenRead(path);
        var sections = ReadSections(file);
        if (sections is null)
            return null;
        var definitions = new List<string>();
        foreach (var section in sections.Where(s => s.Type == ShtGnuVerdef))
        {
            byte[] data = ReadBytes(file, section.Offset, section.Size);
            byte[] strings = StringTable(file, sections, section.Link);
            int def = 0;
            for (int d = 0; d < section.Info && def >= 0 && def + 20 <= data.Length; d++)
            {
                int aux = def + (int)U32(data, def + 12);
                // The first auxiliary entry names the version; further ones name its parents.
                if (U16(data, def + 6) > 0 && aux >= 0 && aux + 8 <= data.Length)
                    definitions.Add(CString(strings, U32(data, aux)));
                uint next = U32(data, def + 16);
                if (next == 0)
                    break;
                def += (int)next;
            }
        }
        return definitions;
    }

    private readonly record struct Section(uint Type, long Offset, long Size, uint Link, uint Info);

    private static List<Section>? ReadSections(FileStream file)
    {
        byte[] header = ReadBytes(file, 0, 64);
        if (header.Length < 64 || header[0] != 0x7f || header[1] != (byte)'E' || header[2] != (byte)'L' || header[3] != (byte)'F'
            || header[4] != 2 /* ELFCLASS64 */ || header[5] != 1 /* ELFDATA2LSB */)
            return null;
        long shoff = (long)BinaryPrimitives.ReadUInt64LittleEndian(header.AsSpan(0x28));
        int shentsize = U16(header, 0x3A);
        int shnum = U16(header, 0x3C);
        if (shoff <= 0 || shentsize < 64 || shoff + (long)shnum * shentsize > file.Length)
            return null;
        byte[] table = ReadBytes(file, shoff, (long)shnum * shentsize);
        var sections = new List<Section>(shnum);
        for (int s = 0; s < shnum; s++)
        {
            int at = s * shentsize;
            sections.Add(new Section(U32(table, at + 4),
                (long)BinaryPrimitives.ReadUInt64LittleEndian(table.AsSpan(at + 0x18)),
                (long)BinaryPrimitives.ReadUInt64LittleEndian(table.AsSpan(at + 0x20)),
                U32(table, at + 0x28), U32(table, at + 0x2C)));
        }
        return sections;
    }

    private static byte[] StringTable(FileStream file, List<Section> sections, uint index)
        => index < sections.Count ? ReadBytes(file, sections[(int)index].Offset, sections[(int)index].Size) : Array.Empty<byte>();

    /// <summary>Reads up to <paramref name="count"/> bytes at <paramref name="offset"/> (fewer at the end of the file; none outside it).</summary>
    private static byte[] ReadBytes(FileStream file, long offset, long count)
    {
        if (offset < 0 || count <= 0 || offset >= file.Length)
            return Array.Empty<byte>();
        count = Math.Min(count, Math.Min(file.Length - offset, 64L << 20));
        var buffer = new byte[count];
        file.Position = offset;
        file.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
        return buffer;
    }

    private static ushort U16(byte[] b, int at) => BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(at));

    private static uint U32(byte[] b, int at) => BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(at));

    private static string CString(byte[] strings, uint at)
    {
        if (at >= strings.Length)
            return "";
        int end = Array.IndexOf(strings, (byte)0, (int)at);
        return Encoding.ASCII.GetString(strings, (int)at, (end < 0 ? strings.Length : end) - (int)at);
    }
}
