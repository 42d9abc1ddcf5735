using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Svae;

/// <summary>
/// Spans over the memory of contiguous CPU tensors, for the training kernels that run in managed code on
/// <see cref="System.Numerics.Tensors.TensorPrimitives"/> or vectors (the fused GRU's steps, the output layer's pass,
/// the fused Adam step; issue 16). Never a copy: writes go to the tensor itself.
/// </summary>
/// <remarks>
/// A span is valid while its tensor is alive and not resized; callers keep the tensor referenced for as long as they
/// use it. Writes through a span do not bump autograd's version counter as libtorch's in-place operations do, so they
/// are used only on buffers no recorded graph reads afterwards (or reads by design, as the fused functions' own saved
/// buffers). <see cref="Floats"/> goes through TorchSharp's <c>Tensor.bytes</c> (at most 2 GB);
/// <see cref="Address"/> and <see cref="Row{T}"/> reach rows of larger buffers.
/// </remarks>
internal static class CpuTensorMemory
{
    /// <summary>
    /// Whether <see cref="Floats"/> can span <paramref name="tensor"/>: contiguous float32 in CPU memory, at most
    /// <see cref="int.MaxValue"/> bytes.
    /// </summary>
    public static bool SpansFloats(Tensor tensor)
        => tensor.device_type == DeviceType.CPU && tensor.dtype == ScalarType.Float32 && tensor.is_contiguous()
            && tensor.numel() <= int.MaxValue / sizeof(float);

    /// <summary>The values of <paramref name="tensor"/> (<see cref="SpansFloats"/>) as a span over its own memory.</summary>
    /// <exception cref="ArgumentException">The tensor is not contiguous float32 in CPU memory, or over 2 GB.</exception>
    public static Span<float> Floats(Tensor tensor)
    {
        if (!SpansFloats(tensor))
            throw new ArgumentException(
                $"A span needs a contiguous float32 tensor of at most 2 GB in CPU memory; got {tensor.dtype} [{string.Join(", ", tensor.shape)}] on {tensor.device}{(tensor.is_contiguous() ? "" : ", not contiguous")}.",
                nameof(tensor));
        return MemoryMarshal.Cast<byte, float>(tensor.bytes);
    }

    /// <summary>The address of the first element of <paramref name="tensor"/>, a contiguous CPU tensor of any size.</summary>
    /// <exception cref="InvalidOperationException">The tensor is not contiguous in CPU memory, or has no elements.</exception>
    public static unsafe nint Address(Tensor tensor)
    {
        if (!tensor.is_contiguous() || tensor.device_type != DeviceType.CPU || tensor.numel() == 0)
            throw new InvalidOperationException(
                $"A managed kernel needs a contiguous CPU buffer of at least one element; got {tensor.dtype} [{string.Join(", ", tensor.shape)}] on {tensor.device}{(tensor.is_contiguous() ? "" : ", not contiguous")}.");
        using var flat = tensor.view(-1);
        using var first = flat.narrow(0, 0, 1);
        return (nint)Unsafe.AsPointer(ref MemoryMarshal.GetReference(first.bytes));
    }

    /// <summary>
    /// Row <paramref name="row"/> of a row-major buffer of <paramref name="width"/> columns of <typeparamref name="T"/> at
    /// <paramref name="address"/> (<see cref="Address"/>); the caller keeps the row below the buffer's row count.
    /// </summary>
    public static unsafe Span<T> Row<T>(nint address, long row, int width) where T : unmanaged
        => new((void*)(address + (nint)(row * width * sizeof(T))), width);

    /// <summary>
    /// The raw bits of <paramref name="tensor"/>, a contiguous bfloat16 CPU tensor of at most 2 GB, as a span over its own
    /// memory (for the fused GRU's bfloat16 operands, <see cref="BFloat16Rows"/>).
    /// </summary>
    /// <exception cref="ArgumentException">The tensor is not contiguous bfloat16 in CPU memory, or over 2 GB.</exception>
    public static Span<ushort> BFloat16Bits(Tensor tensor)
    {
        if (tensor.device_type != DeviceType.CPU || tensor.dtype != ScalarType.BFloat16 || !tensor.is_contiguous()
            || tensor.numel() > int.MaxValue / sizeof(ushort))
            throw new ArgumentException(
                $"A span needs a contiguous bfloat16 tensor of at most 2 GB in CPU memory; got {tensor.dtype} [{string.Join(", ", tensor.shape)}] on {tensor.device}{(tensor.is_contiguous() ? "" : ", not contiguous")}.",
                nameof(tensor));
        return MemoryMarshal.Cast<byte, ushort>(tensor.bytes);
    }
}
