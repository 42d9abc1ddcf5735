using Microsoft.ML.Svae.Onnx;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Svae;

/// <summary>
/// The binary multi-hot history x_u of the non-sequential models (MVAE, RVAE): item i is 1 when the user has
/// interacted with it at least once, whatever the order or the number of times. Built on the training device
/// (TorchSharp) or inside the graph (ONNX), never as a dense managed array.
/// </summary>
internal static class MultiHotInput
{
    /// <summary>
    /// <c>[B, N]</c> float32 multi-hot of the valid positions of <paramref name="batch"/>, on its device (a scatter of
    /// ones; padding positions go to an extra column that is dropped).
    /// </summary>
    public static Tensor Dense(SequenceBatch batch, long itemCount)
    {
        using var scope = NewDisposeScope();
        var device = batch.Device;
        var index = where(batch.Mask, batch.Items, tensor(itemCount, device: device));
        var dense = zeros(batch.Count, itemCount + 1, ScalarType.Float32, device);
        dense.scatter_(1, index, ones(index.shape, ScalarType.Float32, device));
        return dense.narrow(1, 0, itemCount).contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>The multi-hot <c>float [1, N]</c> of the known history items <paramref name="seenIndices"/> (<c>int64 [L]</c>, possibly empty).</summary>
    public static string Onnx(OnnxGraphBuilder g, string seenIndices, int itemCount)
    {
        string indices = g.Node("Unsqueeze", new[] { seenIndices, g.Int64s(0) });
        string ones = g.Node("Expand", new[] { g.Scalar(1f), g.Node("Shape", new[] { indices }) });
        // Repeated items write the same 1 twice: the result does not depend on the order of the writes.
        return g.Node("ScatterElements", new[] { g.Constant("zeros", new float[itemCount], 1, itemCount), indices, ones }, ("axis", 1L));
    }
}
