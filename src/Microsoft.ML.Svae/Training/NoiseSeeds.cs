using TorchSharp;

namespace Microsoft.ML.Svae;

/// <summary>
/// Seeds of the training-time random streams, all derived from the options' <c>Seed</c> and distinct from the
/// initialization seed: the VAEs' ε and Caser's dropout masks (<see cref="Noise"/>), RVAE's negatives
/// (<see cref="Negatives"/>).
/// </summary>
internal static class NoiseSeeds
{
    /// <summary>A seed for ε (and dropout masks) distinct from the initialization seed.</summary>
    public static ulong Noise(int seed) => unchecked((ulong)(uint)seed * 0x9E3779B97F4A7C15UL + 1);

    /// <summary>A seed for sampled negatives distinct from the initialization and ε seeds.</summary>
    public static ulong Negatives(int seed) => unchecked((ulong)(uint)seed * 0xBF58476D1CE4E5B9UL + 7);

    /// <summary>The generator of ε on <paramref name="device"/>.</summary>
    public static torch.Generator NoiseGenerator(int seed, torch.Device device) => new(Noise(seed), device);
}
