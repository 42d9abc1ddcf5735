using System.Text.Json.Serialization;

namespace Microsoft.ML.Svae;

/// <summary>
/// The number format of the large matrix products of training on the CPU (<see cref="SvaeTrainer.Options.TrainingPrecision"/>).
/// Parameters, optimizer state, softmax, loss, KL and the accumulated gradients are float32 in both; inference,
/// scoring, validation and the ONNX model are always float32.
/// </summary>
/// <remarks>Serialized by name (<c>"Float32"</c>, <c>"BFloat16"</c>), as the sweep's <c>[Choice]</c> proposes it.</remarks>
[JsonConverter(typeof(JsonStringEnumConverter<TrainingPrecision>))]
public enum TrainingPrecision
{
    /// <summary>Every product in float32 (the default).</summary>
    Float32 = 0,

    /// <summary>
    /// The large matrix products of training (the GRU's input projection and its weight and input gradients; with the
    /// multi-set likelihood, the decoder's output layer and its two backward products) take bfloat16 inputs (8 significant
    /// bits) and accumulate in float32, on the CPU only. Meant for CPUs with bfloat16 hardware (AMX or AVX512-BF16;
    /// measured faster only with AMX); elsewhere libtorch emulates bfloat16 and training is several times slower.
    /// </summary>
    BFloat16 = 1,
}
