using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Svae.Onnx;

/// <summary>Copies of trained parameters to managed memory, for the ONNX graph writers.</summary>
internal static class TorchWeights
{
    /// <summary>A tensor's values (row-major), copied from any device.</summary>
    public static float[] Values(Tensor t)
    {
        using var scope = NewDisposeScope();
        return t.detach().cpu().contiguous().data<float>().ToArray();
    }

    /// <summary>A linear layer's weight and bias in PyTorch layout.</summary>
    public static DenseWeights Dense(Linear layer)
        => new(Values(layer.weight!), Values(layer.bias!), (int)layer.weight!.shape[0], (int)layer.weight!.shape[1]);
}
