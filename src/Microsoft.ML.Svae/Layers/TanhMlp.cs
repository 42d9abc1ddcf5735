using Microsoft.ML.Svae.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Microsoft.ML.Svae;

/// <summary>
/// A two-layer perceptron <c>Linear(in, hidden) → tanh → Linear(hidden, out)</c>: the Gaussian encoders and priors
/// (out = 2K: μ then log σ², split with <see cref="GaussianLatent.Split"/>) and the item decoders (out = N) of the
/// sequential VAEs, as SVAE's encoder and decoder are built.
/// </summary>
internal sealed class TanhMlp : Module<Tensor, Tensor>
{
    // Field names are the state-dict prefixes: keep them.
#pragma warning disable IDE1006 // Naming: PyTorch-style module names
    internal readonly Linear hidden;
    internal readonly Linear output;
#pragma warning restore IDE1006

    /// <summary>Creates the layers (call <see cref="ResetParameters"/> to initialise them from a generator).</summary>
    public TanhMlp(string name, long inputSize, long hiddenSize, long outputSize)
        : base(name)
    {
        hidden = Linear(inputSize, hiddenSize);
        output = Linear(hiddenSize, outputSize);
        RegisterComponents();
    }

    /// <inheritdoc/>
    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        return output.call(tanh(hidden.call(input))).MoveToOuterDisposeScope();
    }

    /// <summary>Xavier-normal weights from <paramref name="generator"/> and zero biases (SVAE's initialisation of its linear layers).</summary>
    public void ResetParameters(Generator generator)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        foreach (var linear in new[] { hidden, output })
        {
            var weight = linear.weight!;
            double std = Math.Sqrt(2.0 / (weight.shape[0] + weight.shape[1]));
            weight.copy_(randn(weight.shape, generator: generator).Times(std));
            linear.bias!.zero_();
        }
    }

    /// <summary>The weights in PyTorch layout, for the ONNX graph.</summary>
    public TanhMlpWeights Weights() => new(TorchWeights.Dense(hidden), TorchWeights.Dense(output));
}

/// <summary>A <see cref="TanhMlp"/>'s weights: the tanh layer and the output layer.</summary>
internal sealed record TanhMlpWeights(DenseWeights Hidden, DenseWeights Output)
{
    /// <summary>The perceptron on <c>x [rows, in]</c> as ONNX nodes: <c>[rows, out]</c>.</summary>
    public string Onnx(OnnxGraphBuilder g, string x, string hint)
        => OnnxLayers.Dense(g, OnnxLayers.DenseTanh(g, x, Hidden, hint + "_hidden"), Output, hint + "_out");

    /// <summary>The mean (the first <paramref name="latentSize"/> outputs) of a Gaussian perceptron on <c>x [rows, in]</c>.</summary>
    public string OnnxMean(OnnxGraphBuilder g, string x, int latentSize, string hint)
        => g.Node("Slice", new[] { Onnx(g, x, hint), g.Int64s(0), g.Int64s(latentSize), g.Int64s(1) });
}
