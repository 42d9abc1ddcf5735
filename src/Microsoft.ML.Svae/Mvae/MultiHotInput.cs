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
        var index = where(ValidPositions(batch), batch.Items, tensor(itemCount, device: device));
        var dense = zeros(batch.Count, itemCount + 1, ScalarType.Float32, device);
        dense.scatter_(1, index, ones(index.shape, ScalarType.Float32, device));
        return dense.narrow(1, 0, itemCount).contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>
    /// <c>[B, T]</c> bool, true at valid positions, created in the CURRENT dispose scope. (<see cref="SequenceBatch.Mask"/>
    /// is cached on first use in whatever scope is current then; reading it first inside an inner scope would dispose it
    /// under the caller.)
    /// </summary>
    public static Tensor ValidPositions(SequenceBatch batch)
        => arange(batch.MaxLength, dtype: ScalarType.Int64, device: batch.Device).unsqueeze(0) < batch.LengthTensor.unsqueeze(1);

    /// <summary>The multi-hot <c>float [1, N]</c> of the known history items <paramref name="seenIndices"/> (<c>int64 [L]</c>, possibly empty).</summary>
    public static string Onnx(OnnxGraphBuilder g, string seenIndices, int itemCount)
    {
        string indices = g.Node("Unsqueeze", new[] { seenIndices, g.Int64s(0) });
        string ones = g.Node("Expand", new[] { g.Scalar(1f), g.Node("Shape", new[] { indices }) });
        // Repeated items write the same 1 twice: the result does not depend on the order of the writes.
        return g.Node("ScatterElements", new[] { g.Constant("zeros", new float[itemCount], 1, itemCount), indices, ones }, ("axis", 1L));
    }

    /// <summary>The KL divergence of N(μ, σ²) from N(0, I), summed over the last dimension: <c>½ Σ (σ² − 1 − log σ² + μ²)</c>.</summary>
    public static Tensor KlDivergence(Tensor mean, Tensor logVariance)
        => 0.5 * (logVariance.exp() - 1 - logVariance + mean.square()).sum(-1);

    /// <summary>z = μ + exp(½ log σ²)·ε with ε ~ N(0, I) from <paramref name="generator"/>.</summary>
    public static Tensor Reparameterize(Tensor mean, Tensor logVariance, Generator? generator)
    {
        using var scope = NewDisposeScope();
        var epsilon = randn(mean.shape, mean.dtype, mean.device, generator: generator);
        return (mean + (0.5 * logVariance).exp() * epsilon).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The validation users' fold-in and fold-out read from <paramref name="validationData"/> (both
    /// <see langword="null"/> without validation data), checked against the training vocabulary.
    /// </summary>
    public static (UserSequences? FoldIn, UserSequences? FoldOut) ReadValidation(IDataView? validationData, SequenceTrainerOptions options, int itemCount)
    {
        if (validationData is null)
            return (null, null);
        int validationItems = SchemaChecks.ItemKeyVectorColumn(validationData.Schema, options.HistoryColumnName, "validation history");
        if (validationItems != itemCount)
            throw new ArgumentOutOfRangeException(nameof(validationData),
                $"The validation history column '{options.HistoryColumnName}' has {validationItems} item keys but the training data has {itemCount}: both must use the same item vocabulary.");
        return (UserSequences.Read(validationData, options.HistoryColumnName, "validation history"),
                UserSequences.Read(validationData, options.FoldOutColumnName, "validation fold-out"));
    }

    /// <summary>Copies a tensor (on any device) to a managed float array.</summary>
    public static float[] Values(Tensor t) => t.detach().cpu().contiguous().data<float>().ToArray();

    /// <summary>A linear layer's weights in PyTorch layout, for the ONNX writers.</summary>
    public static DenseWeights Weights(TorchSharp.Modules.Linear layer)
        => new(Values(layer.weight!), Values(layer.bias!), (int)layer.weight!.shape[0], (int)layer.weight!.shape[1]);
}
