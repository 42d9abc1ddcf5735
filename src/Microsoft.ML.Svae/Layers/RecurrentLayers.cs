using Microsoft.ML.Svae.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Svae;

/// <summary>
/// The recurrent pieces the sequential VAEs share: PyTorch's default initialisation of a GRU, the export of a GRU's or
/// a GRU cell's weights, and the reversal of right-padded sequences within their lengths (backward recurrences).
/// </summary>
internal static class RecurrentLayers
{
    /// <summary>PyTorch's default initialisation of a GRU (or GRU cell) of <paramref name="hidden"/> cells: U(−1/√H, 1/√H), from <paramref name="generator"/>.</summary>
    public static void ResetGru(nn.Module gru, int hidden, Generator generator)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        double bound = 1.0 / Math.Sqrt(hidden);
        foreach (var (_, parameter) in gru.named_parameters())
            parameter.copy_(rand(parameter.shape, generator: generator).ToSymmetric(bound));
    }

    /// <summary>A one-layer GRU's weights (PyTorch layout) for the ONNX graph.</summary>
    public static GruWeights Weights(GRU gru, int hidden, int input)
        => Weights(gru, "_l0", hidden, input);

    /// <summary>A GRU cell's weights (PyTorch layout, the same gate order and formulation as a GRU layer) for the ONNX graph.</summary>
    public static GruWeights Weights(GRUCell cell, int hidden, int input)
        => Weights(cell, "", hidden, input);

    private static GruWeights Weights(nn.Module module, string suffix, int hidden, int input)
    {
        using var noGrad = no_grad();
        return new GruWeights(
            TorchWeights.Values(module.get_parameter("weight_ih" + suffix)!), TorchWeights.Values(module.get_parameter("weight_hh" + suffix)!),
            TorchWeights.Values(module.get_parameter("bias_ih" + suffix)!), TorchWeights.Values(module.get_parameter("bias_hh" + suffix)!),
            hidden, input);
    }

    /// <summary>
    /// <paramref name="values"/> <c>[B, T, D]</c> with each row's first <c>lengths[b]</c> positions in reverse order and
    /// its padding left in place; applying it twice restores the input.
    /// </summary>
    public static Tensor ReverseWithinLengths(Tensor values, Tensor lengths)
    {
        using var scope = NewDisposeScope();
        long b = values.shape[0], t = values.shape[1], d = values.shape[2];
        var positions = TorchScalars.Range(t, values.device).unsqueeze(0);                          // [1, T]
        var limits = lengths.unsqueeze(1);                                                          // [B, 1]
        var index = where(positions < limits, limits.sub(TorchScalars.One) - positions, positions.expand(b, t)); // [B, T]
        return values.gather(1, index.unsqueeze(2).expand(b, t, d)).MoveToOuterDisposeScope();
    }
}
