using System.Numerics;
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
}
