using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Svae;

/// <summary>
/// Inverted dropout whose masks come from a given generator. <c>torch.nn.Dropout</c> draws from the global
/// generator, which other trainings in the same process also advance, so seeded runs would not be
/// reproducible; every model's dropout goes through here instead.
/// </summary>
internal static class SeededDropout
{
    /// <summary>
    /// Zeroes each element of <paramref name="input"/> with probability <paramref name="rate"/> and scales the
    /// rest by <c>1 / (1 − rate)</c>; returns <paramref name="input"/> itself when <paramref name="rate"/> is 0.
    /// </summary>
    /// <param name="input">The activations.</param>
    /// <param name="rate">The drop probability, in [0, 1).</param>
    /// <param name="generator">The source of the mask, on the input's device (the global generator when null).</param>
    public static Tensor Apply(Tensor input, double rate, Generator? generator)
    {
        if (rate <= 0)
            return input;
        using var scope = NewDisposeScope();
        using var rateScalar = rate.ToScalar();
        using var keptScale = (1 - rate).ToScalar();
        var keep = rand(input.shape, input.dtype, input.device, generator: generator).ge(rateScalar);
        return (input * keep.to(input.dtype)).div(keptScale).MoveToOuterDisposeScope();
    }
}
