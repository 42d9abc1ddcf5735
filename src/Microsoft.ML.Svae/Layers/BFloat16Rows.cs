using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using static TorchSharp.torch;

namespace Microsoft.ML.Svae;

/// <summary>
/// bfloat16 copies of float32 matrices for the bfloat16 products of training (<see cref="TrainingPrecision.BFloat16"/>),
/// with the number of rows rounded up to one of a few sizes (<see cref="Padded"/>); the extra rows are zero.
/// </summary>
/// <remarks>
/// libtorch runs bfloat16 products on the CPU through oneDNN, which compiles a kernel for every new shape (a few
/// milliseconds each; measured, the bfloat16 output layer took about 13 CPU ms on a batch shape it had not seen against
/// 6 on one it had, on MovieLens-100K). The rows of these products are the batch's positions, a different number in
/// almost every batch; rounding them up keeps the shapes to eight per doubling of the row count (a few dozen in all),
/// which oneDNN's primitive cache keeps after their first use, at the cost of at most 1/8 more rows above 512 rows
/// (about 1/16 on average there); below, rows go up to the next multiple of 64 (1 row becomes 64). The zero rows add zero to every product whose inner dimension they are, and the rows they add to an output
/// are dropped.
/// </remarks>
internal static class BFloat16Rows
{
    /// <summary>The smallest step of the row sizes.</summary>
    public const long RowMultiple = 64;

    /// <summary>
    /// <paramref name="rows"/> rounded up to a multiple of <see cref="RowMultiple"/> and of 1/8 of the largest power of two
    /// not above it: 64, 128, …, 1,024, 1,152, 1,280, …, 2,048, 2,304, ….
    /// </summary>
    public static long Padded(long rows)
    {
        long step = Math.Max(RowMultiple, rows <= 1 ? 1 : (long)BitOperations.RoundUpToPowerOf2((ulong)rows + 1) / 16);
        return (rows + step - 1) / step * step;
    }

    /// <summary>
    /// A new bfloat16 <c>[Padded(R), C]</c> tensor holding <paramref name="values"/> (<c>[R, C]</c>, any layout) in its
    /// first R rows and zeros after them.
    /// </summary>
    public static Tensor Copy(Tensor values)
    {
        var result = Empty(values.shape[0], values.shape[1], values.device);
        result.narrow(0, 0, values.shape[0]).copy_(values);
        return result;
    }

    /// <summary>
    /// A new bfloat16 <c>[Padded(rows), columns]</c> tensor whose rows after the first <paramref name="rows"/> are zero; the
    /// caller fills the first ones.
    /// </summary>
    public static Tensor Empty(long rows, long columns, Device device)
    {
        long padded = Padded(rows);
        var result = empty(new[] { padded, columns }, ScalarType.BFloat16, device);
        if (padded > rows)
            result.narrow(0, rows, padded - rows).zero_();
        return result;
    }

    /// <summary>
    /// <paramref name="source"/> in bfloat16 (raw bits) into <paramref name="destination"/> (of the same length): rounded to
    /// nearest even, as libtorch's cast rounds; every NaN becomes the quiet NaN 0x7FC0 (libtorch's vectorised cast gives
    /// 0xFFFF, also a NaN). With <paramref name="wide"/>, 512-bit vectors first; then <see cref="Vector{T}"/>, 128-bit
    /// vectors (the tail of SVAE's rows of 200), then scalars.
    /// </summary>
    internal static void Round(ReadOnlySpan<float> source, Span<ushort> destination, bool wide)
    {
        if (destination.Length != source.Length)
            throw new ArgumentException($"The bfloat16 destination has {destination.Length} elements for {source.Length} values.", nameof(destination));
        var bits = MemoryMarshal.Cast<float, uint>(source);
        int i = 0;
        if (wide && Vector512.IsHardwareAccelerated)
        {
            for (; i <= bits.Length - Vector512<ushort>.Count; i += Vector512<ushort>.Count)
            {
                var low = Vector512.Create<uint>(bits.Slice(i));
                var high = Vector512.Create<uint>(bits.Slice(i + Vector512<uint>.Count));
                Vector512.Narrow(Rounded(low), Rounded(high)).CopyTo(destination.Slice(i));
            }
        }
        if (Vector.IsHardwareAccelerated)
        {
            for (; i <= bits.Length - Vector<ushort>.Count; i += Vector<ushort>.Count)
            {
                var low = new Vector<uint>(bits.Slice(i));
                var high = new Vector<uint>(bits.Slice(i + Vector<uint>.Count));
                Vector.Narrow(Rounded(low), Rounded(high)).CopyTo(destination.Slice(i));
            }
        }
        if (Vector128.IsHardwareAccelerated)
        {
            for (; i <= bits.Length - Vector128<ushort>.Count; i += Vector128<ushort>.Count)
            {
                var low = Vector128.Create<uint>(bits.Slice(i));
                var high = Vector128.Create<uint>(bits.Slice(i + Vector128<uint>.Count));
                Vector128.Narrow(Rounded(low), Rounded(high)).CopyTo(destination.Slice(i));
            }
        }
        for (; i < bits.Length; i++)
            destination[i] = (ushort)Rounded(bits[i]);
    }

    /// <summary>
    /// <paramref name="destination"/> = the bfloat16 <paramref name="source"/> (raw bits) in float32, exactly, plus
    /// <paramref name="addend"/> (float32 addition), all three of one length. With <paramref name="wide"/>, 512-bit vectors
    /// first; then <see cref="Vector{T}"/>, 128-bit vectors, then scalars.
    /// </summary>
    internal static void WidenAdd(ReadOnlySpan<ushort> source, ReadOnlySpan<float> addend, Span<float> destination, bool wide)
    {
        if (source.Length != destination.Length || addend.Length != destination.Length)
            throw new ArgumentException(
                $"Widening needs spans of one length; got {source.Length} bfloat16 values, {addend.Length} addends and {destination.Length} destinations.",
                nameof(destination));
        int i = 0;
        if (wide && Vector512.IsHardwareAccelerated)
        {
            for (; i <= source.Length - Vector512<ushort>.Count; i += Vector512<ushort>.Count)
            {
                var (low, high) = Vector512.Widen(Vector512.Create<ushort>(source.Slice(i)));
                int next = i + Vector512<float>.Count;
                (Vector512.ShiftLeft(low, 16).AsSingle() + Vector512.Create<float>(addend.Slice(i))).CopyTo(destination.Slice(i));
                (Vector512.ShiftLeft(high, 16).AsSingle() + Vector512.Create<float>(addend.Slice(next))).CopyTo(destination.Slice(next));
            }
        }
        if (Vector.IsHardwareAccelerated)
        {
            for (; i <= source.Length - Vector<ushort>.Count; i += Vector<ushort>.Count)
            {
                Vector.Widen(new Vector<ushort>(source.Slice(i)), out var low, out var high);
                int next = i + Vector<float>.Count;
                (Vector.AsVectorSingle(Vector.ShiftLeft(low, 16)) + new Vector<float>(addend.Slice(i))).CopyTo(destination.Slice(i));
                (Vector.AsVectorSingle(Vector.ShiftLeft(high, 16)) + new Vector<float>(addend.Slice(next))).CopyTo(destination.Slice(next));
            }
        }
        if (Vector128.IsHardwareAccelerated)
        {
            for (; i <= source.Length - Vector128<ushort>.Count; i += Vector128<ushort>.Count)
            {
                var (low, high) = Vector128.Widen(Vector128.Create<ushort>(source.Slice(i)));
                int next = i + Vector128<float>.Count;
                (Vector128.ShiftLeft(low, 16).AsSingle() + Vector128.Create<float>(addend.Slice(i))).CopyTo(destination.Slice(i));
                (Vector128.ShiftLeft(high, 16).AsSingle() + Vector128.Create<float>(addend.Slice(next))).CopyTo(destination.Slice(next));
            }
        }
        for (; i < source.Length; i++)
            destination[i] = BitConverter.UInt32BitsToSingle((uint)source[i] << 16) + addend[i];
    }

    /// <summary>
    /// <paramref name="destination"/> = the bfloat16 <paramref name="source"/> (raw bits) in float32, exactly (both of one
    /// length). With <paramref name="wide"/>, 512-bit vectors first; then <see cref="Vector{T}"/>, 128-bit vectors, then
    /// scalars.
    /// </summary>
    internal static void Widen(ReadOnlySpan<ushort> source, Span<float> destination, bool wide)
    {
        if (source.Length != destination.Length)
            throw new ArgumentException($"Widening {source.Length} bfloat16 values needs as many destinations; got {destination.Length}.", nameof(destination));
        var bits = MemoryMarshal.Cast<float, uint>(destination);
        int i = 0;
        if (wide && Vector512.IsHardwareAccelerated)
        {
            for (; i <= source.Length - Vector512<ushort>.Count; i += Vector512<ushort>.Count)
            {
                var (low, high) = Vector512.Widen(Vector512.Create<ushort>(source.Slice(i)));
                Vector512.ShiftLeft(low, 16).CopyTo(bits.Slice(i));
                Vector512.ShiftLeft(high, 16).CopyTo(bits.Slice(i + Vector512<uint>.Count));
            }
        }
        if (Vector.IsHardwareAccelerated)
        {
            for (; i <= source.Length - Vector<ushort>.Count; i += Vector<ushort>.Count)
            {
                Vector.Widen(new Vector<ushort>(source.Slice(i)), out var low, out var high);
                Vector.ShiftLeft(low, 16).CopyTo(bits.Slice(i));
                Vector.ShiftLeft(high, 16).CopyTo(bits.Slice(i + Vector<uint>.Count));
            }
        }
        if (Vector128.IsHardwareAccelerated)
        {
            for (; i <= source.Length - Vector128<ushort>.Count; i += Vector128<ushort>.Count)
            {
                var (low, high) = Vector128.Widen(Vector128.Create<ushort>(source.Slice(i)));
                Vector128.ShiftLeft(low, 16).CopyTo(bits.Slice(i));
                Vector128.ShiftLeft(high, 16).CopyTo(bits.Slice(i + Vector128<uint>.Count));
            }
        }
        for (; i < source.Length; i++)
            bits[i] = (uint)source[i] << 16;
    }

    /// <summary>
    /// float32 bits rounded to nearest even at bit 16, shifted down: the bfloat16 bits (in the low half); every NaN gives
    /// 0x7FC0, the quiet NaN of c10's scalar conversion (libtorch's vectorized tensor cast gives 0xFFFF, also a NaN; the
    /// rounding alone could turn a NaN into an infinity or −0). The one rounding of the training kernels (the GRU's and the
    /// output layer's).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static uint Rounded(uint bits)
        => (bits & 0x7FFFFFFFu) > 0x7F800000u ? 0x7FC0u : (bits + 0x7FFFu + ((bits >> 16) & 1)) >> 16;

    /// <inheritdoc cref="Rounded(uint)"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector<uint> Rounded(Vector<uint> bits)
        => Vector.ConditionalSelect(Vector.GreaterThan(bits & new Vector<uint>(0x7FFFFFFFu), new Vector<uint>(0x7F800000u)),
            new Vector<uint>(0x7FC0u),
            Vector.ShiftRightLogical(bits + new Vector<uint>(0x7FFFu) + (Vector.ShiftRightLogical(bits, 16) & Vector<uint>.One), 16));

    /// <inheritdoc cref="Rounded(uint)"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<uint> Rounded(Vector128<uint> bits)
        => Vector128.ConditionalSelect(Vector128.GreaterThan(bits & Vector128.Create(0x7FFFFFFFu), Vector128.Create(0x7F800000u)),
            Vector128.Create(0x7FC0u),
            Vector128.ShiftRightLogical(bits + Vector128.Create(0x7FFFu) + (Vector128.ShiftRightLogical(bits, 16) & Vector128<uint>.One), 16));

    /// <inheritdoc cref="Rounded(uint)"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<uint> Rounded(Vector512<uint> bits)
        => Vector512.ConditionalSelect(Vector512.GreaterThan(bits & Vector512.Create(0x7FFFFFFFu), Vector512.Create(0x7F800000u)),
            Vector512.Create(0x7FC0u),
            Vector512.ShiftRightLogical(bits + Vector512.Create(0x7FFFu) + (Vector512.ShiftRightLogical(bits, 16) & Vector512<uint>.One), 16));
}
