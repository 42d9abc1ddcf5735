using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace Microsoft.ML.Svae;

/// <summary>
/// The fused GRU's per-position gate arithmetic (<see cref="GruSequence"/>) on spans over float32 CPU buffers, with
/// <see cref="System.Numerics.Tensors.TensorPrimitives"/>: a handful of vectorised calls per user and position instead of one libtorch
/// operation per step, each of which costs a few microseconds of dispatch on SVAE's <c>[8 × 200]</c> gates (issue 16).
/// </summary>
/// <remarks>
/// Layouts, all contiguous, position-major as in <see cref="GruSequence"/>: gates <c>[T, B, 3H]</c> holding
/// (r, z, gh_n) per user, candidates <c>[T, B, H]</c> (gi_n, then n), states <c>[T + 1, B, H]</c> (h_0 = 0, then h_t),
/// factors <c>[T, B, 3, H]</c>. Each user's row is H consecutive floats, so every call below runs over whole rows.
/// </remarks>
internal static class GruStepKernels
{
    /// <summary>
    /// One forward step for every user, after <c>gates += h_{t−1}·W_hhᵀ</c>: r, z = σ(·) in place; n = tanh(gi_n + r ⊙ gh_n)
    /// over the candidates; <c>h_t = (h_{t−1} − n) ⊙ z + n</c>.
    /// </summary>
    /// <param name="gates"><c>[B, 3H]</c>: the pre-activations of r and z, then gh_n; r and z on return.</param>
    /// <param name="candidates"><c>[B, H]</c>: gi_n; n on return.</param>
    /// <param name="previous"><c>[B, H]</c>: h_{t−1}.</param>
    /// <param name="next"><c>[B, H]</c>: h_t, written.</param>
    /// <param name="hidden">H.</param>
    public static void Forward(Span<float> gates, Span<float> candidates, ReadOnlySpan<float> previous, Span<float> next, int hidden)
    {
        int users = candidates.Length / hidden;
        for (int b = 0; b < users; b++)
        {
            var gate = gates.Slice(b * 3 * hidden, 3 * hidden);
            var resetUpdate = gate[..(2 * hidden)];
            TensorPrimitives.Sigmoid(resetUpdate, resetUpdate);
            var reset = gate[..hidden];
            var update = gate.Slice(hidden, hidden);
            var hiddenNew = gate.Slice(2 * hidden, hidden);
            var candidate = candidates.Slice(b * hidden, hidden);
            TensorPrimitives.MultiplyAdd(reset, hiddenNew, candidate, candidate);
            TensorPrimitives.Tanh(candidate, candidate);
            var state = next.Slice(b * hidden, hidden);
            TensorPrimitives.Subtract(previous.Slice(b * hidden, hidden), candidate, state);
            TensorPrimitives.MultiplyAdd(state, update, candidate, state);
        }
    }

    /// <summary>
    /// The backward factors that do not depend on the recursion, for every position and user: with dh the gradient at h_t,
    /// <c>da_n = dh ⊙ (1 − z)(1 − n²)</c>, <c>da_z = dh ⊙ (h_{t−1} − n) z(1 − z)</c>,
    /// <c>da_r = da_n ⊙ gh_n r(1 − r)</c>, and gh_n's gradient <c>da_n ⊙ r</c>.
    /// </summary>
    /// <param name="gates"><c>[T·B, 3H]</c>: r, z, gh_n.</param>
    /// <param name="candidates"><c>[T·B, H]</c>: n.</param>
    /// <param name="previous"><c>[T·B, H]</c>: h_{t−1}.</param>
    /// <param name="factors"><c>[T·B, 3, H]</c>, written: (r(1 − r) gh_n (1 − z)(1 − n²), (h_{t−1} − n) z(1 − z), (1 − z)(1 − n²) r).</param>
    /// <param name="newFactors"><c>[T·B, H]</c>, written: (1 − z)(1 − n²).</param>
    /// <param name="hidden">H.</param>
    public static void Factors(ReadOnlySpan<float> gates, ReadOnlySpan<float> candidates, ReadOnlySpan<float> previous,
        Span<float> factors, Span<float> newFactors, int hidden)
    {
        int rows = candidates.Length / hidden;
        Span<float> keep = hidden <= 1024 ? stackalloc float[hidden] : new float[hidden];
        for (int row = 0; row < rows; row++)
        {
            var gate = gates.Slice(row * 3 * hidden, 3 * hidden);
            var reset = gate[..hidden];
            var update = gate.Slice(hidden, hidden);
            var hiddenNew = gate.Slice(2 * hidden, hidden);
            var candidate = candidates.Slice(row * hidden, hidden);
            var factor = factors.Slice(row * 3 * hidden, 3 * hidden);
            var resetFactor = factor[..hidden];
            var updateFactor = factor.Slice(hidden, hidden);
            var newGateFactor = factor.Slice(2 * hidden, hidden);
            var newFactor = newFactors.Slice(row * hidden, hidden);

            TensorPrimitives.Subtract(1f, update, keep);                                     // 1 − z
            TensorPrimitives.Multiply(candidate, candidate, newFactor);                       // n²
            TensorPrimitives.Subtract(1f, newFactor, newFactor);                              // 1 − n²
            TensorPrimitives.Multiply(newFactor, keep, newFactor);                            // (1 − z)(1 − n²)
            TensorPrimitives.Subtract(previous.Slice(row * hidden, hidden), candidate, updateFactor);
            TensorPrimitives.Multiply(updateFactor, update, updateFactor);
            TensorPrimitives.Multiply(updateFactor, keep, updateFactor);                      // (h − n) z(1 − z)
            TensorPrimitives.Subtract(1f, reset, resetFactor);
            TensorPrimitives.Multiply(resetFactor, reset, resetFactor);
            TensorPrimitives.Multiply(resetFactor, hiddenNew, resetFactor);
            TensorPrimitives.Multiply(resetFactor, newFactor, resetFactor);                   // r(1 − r) gh_n (1 − z)(1 − n²)
            TensorPrimitives.Multiply(newFactor, reset, newGateFactor);                       // (1 − z)(1 − n²) r
        }
    }

    /// <summary>
    /// One backward step for every user, before <c>next += dgh·W_hh</c>: dh = the output gradient at h_t plus the gradient
    /// from step t + 1 (<paramref name="carried"/>, in place over <paramref name="stateGradient"/>); the factors become the
    /// gradient at gh, <c>factors ⊙ dh</c>; <paramref name="carried"/> becomes <c>dh ⊙ z</c> (the direct path h_{t−1} → h_t).
    /// </summary>
    /// <param name="stateGradient"><c>[B, H]</c>: the output gradient at h_t; dh on return.</param>
    /// <param name="factors"><c>[B, 3, H]</c>: step t's factors; gh's gradient on return.</param>
    /// <param name="gates"><c>[B, 3H]</c>: r, z, gh_n of step t.</param>
    /// <param name="carried"><c>[B, H]</c>: the gradient at h_t from step t + 1 (read unless <paramref name="first"/>), then dh ⊙ z.</param>
    /// <param name="first">Whether this is the last position (no gradient from a later step).</param>
    /// <param name="hidden">H.</param>
    public static void Backward(Span<float> stateGradient, Span<float> factors, ReadOnlySpan<float> gates, Span<float> carried, bool first, int hidden)
    {
        if (!first)
            TensorPrimitives.Add(stateGradient, carried, stateGradient);
        int users = stateGradient.Length / hidden;
        for (int b = 0; b < users; b++)
        {
            var dh = stateGradient.Slice(b * hidden, hidden);
            var factor = factors.Slice(b * 3 * hidden, 3 * hidden);
            TensorPrimitives.Multiply(factor[..hidden], dh, factor[..hidden]);
            TensorPrimitives.Multiply(factor.Slice(hidden, hidden), dh, factor.Slice(hidden, hidden));
            TensorPrimitives.Multiply(factor.Slice(2 * hidden, hidden), dh, factor.Slice(2 * hidden, hidden));
            TensorPrimitives.Multiply(dh, gates.Slice(b * 3 * hidden + hidden, hidden), carried.Slice(b * hidden, hidden));
        }
    }
}
