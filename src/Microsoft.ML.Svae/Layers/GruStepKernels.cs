using System.Numerics;
using System.Runtime.Intrinsics;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace Microsoft.ML.Svae;

/// <summary>
/// The fused GRU's per-position work (<see cref="GruSequence"/>) on spans over float32 CPU buffers, one user's row at a
/// time instead of one libtorch operation per step, each of which costs a few microseconds of dispatch on SVAE's
/// <c>[8 × 200]</c> gates (issue 16): <see cref="Project(ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, Span{float})"/>
/// and its bfloat16 overload set a step's gates and candidate from the input projection and the biases (the bfloat16 one
/// widens the product's raw bits with <see cref="BFloat16Rows"/>); <see cref="Forward"/> runs the gate arithmetic with
/// <see cref="System.Numerics.Tensors.TensorPrimitives"/> calls; <see cref="BackwardRow"/> is one explicit vector loop
/// (512-bit where <see cref="UseVector512"/>, then <see cref="Vector{T}"/>, then scalars) per user and position. The
/// fused GRU itself writes the bfloat16 operands of the backward products from these rows with <see cref="BFloat16Rows"/>.
/// </summary>
/// <remarks>
/// Layouts, all contiguous, position-major as in <see cref="GruSequence"/>: gates <c>[T, B, 3H]</c> holding
/// (r, z, gh_n) per user, candidates <c>[T, B, H]</c> (gi_n, then n), states <c>[T + 1, B, H]</c> (h_0 = 0, then h_t),
/// gh's gradient <c>[T, B, 3H]</c>. Each user's row is H consecutive floats, so every call below runs over whole rows.
/// </remarks>
internal static class GruStepKernels
{
    private static readonly AsyncLocal<bool?> vector512 = new();

    /// <summary>
    /// Whether the kernels written with vectors (<see cref="BackwardRow"/>, the bfloat16 widening of
    /// <see cref="Project(ReadOnlySpan{ushort}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, Span{float}, bool)"/>,
    /// and <see cref="BFloat16Rows"/>' conversions as the fused GRU calls them) take their 512-bit loops: where the CPU has
    /// them, unless set to <see langword="false"/> (tests force the <see cref="Vector{T}"/> and scalar paths with it). Set
    /// per asynchronous flow (<see cref="AsyncLocal{T}"/>): a test that sets it does not change the kernels for tests
    /// running beside it.
    /// </summary>
    internal static bool UseVector512
    {
        get => Vector512.IsHardwareAccelerated && (vector512.Value ?? true);
        set => vector512.Value = value;
    }

    /// <summary>
    /// One user's gates and candidate before step t's <c>gates += h_{t−1}·W_hhᵀ</c>, from the float32 input projection
    /// <c>gi = b_ih + W_ih x</c>: gates = (b_hh,r + gi_r, b_hh,z + gi_z, b_hh,n), candidate = gi_n.
    /// </summary>
    /// <param name="projection"><c>[3H]</c>: gi (b_ih included).</param>
    /// <param name="hiddenBias"><c>[3H]</c>: b_hh.</param>
    /// <param name="gates"><c>[3H]</c>, written.</param>
    /// <param name="candidate"><c>[H]</c>, written.</param>
    public static void Project(ReadOnlySpan<float> projection, ReadOnlySpan<float> hiddenBias, Span<float> gates, Span<float> candidate)
    {
        int hidden = candidate.Length;
        TensorPrimitives.Add(hiddenBias[..(2 * hidden)], projection[..(2 * hidden)], gates[..(2 * hidden)]);
        hiddenBias.Slice(2 * hidden, hidden).CopyTo(gates.Slice(2 * hidden, hidden));
        projection.Slice(2 * hidden, hidden).CopyTo(candidate);
    }

    /// <summary>
    /// One user's gates and candidate before step t's <c>gates += h_{t−1}·W_hhᵀ</c>, from the bfloat16 product
    /// <c>W_ih x</c> (raw bits): with <c>gi = float32(W_ih x) + b_ih</c>, gates = (b_hh,r + gi_r, b_hh,z + gi_z, b_hh,n),
    /// candidate = gi_n.
    /// </summary>
    /// <param name="projection"><c>[3H]</c>: the bfloat16 product's row.</param>
    /// <param name="inputBias"><c>[3H]</c>: b_ih.</param>
    /// <param name="hiddenBias"><c>[3H]</c>: b_hh.</param>
    /// <param name="gates"><c>[3H]</c>, written.</param>
    /// <param name="candidate"><c>[H]</c>, written.</param>
    /// <param name="wide">Whether to take the 512-bit loops (<see cref="UseVector512"/>).</param>
    public static void Project(ReadOnlySpan<ushort> projection, ReadOnlySpan<float> inputBias, ReadOnlySpan<float> hiddenBias,
        Span<float> gates, Span<float> candidate, bool wide)
    {
        int hidden = candidate.Length;
        var resetUpdate = gates[..(2 * hidden)];
        BFloat16Rows.WidenAdd(projection[..(2 * hidden)], inputBias[..(2 * hidden)], resetUpdate, wide);
        TensorPrimitives.Add(hiddenBias[..(2 * hidden)], resetUpdate, resetUpdate);
        hiddenBias.Slice(2 * hidden, hidden).CopyTo(gates.Slice(2 * hidden, hidden));
        BFloat16Rows.WidenAdd(projection.Slice(2 * hidden, hidden), inputBias.Slice(2 * hidden, hidden), candidate, wide);
    }

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
    /// One backward step for one user, before <c>carried += dgh·W_hh</c>, in one pass: dh = the output gradient at h_t plus
    /// the gradient from step t + 1 (<paramref name="carried"/>); with it, gh's gradient
    /// <c>dgh = (dh ⊙ r(1 − r) gh_n (1 − z)(1 − n²), dh ⊙ (h_{t−1} − n) z(1 − z), dh ⊙ (1 − z)(1 − n²) r)</c>, gi_n's gradient
    /// <c>dh ⊙ (1 − z)(1 − n²)</c>, and <paramref name="carried"/> becomes <c>dh ⊙ z</c> (the direct path h_{t−1} → h_t).
    /// </summary>
    /// <remarks>
    /// Every product is taken in the order of the multi-pass formulation it replaced (the factors first, left to right as
    /// written above, then times dh), so the results are the same bit for bit; the vector paths are plain float32
    /// multiplies and subtractions (no fused multiply-add).
    /// </remarks>
    /// <param name="outputGradient"><c>[H]</c>: the output gradient at h_t.</param>
    /// <param name="carried"><c>[H]</c>: the gradient at h_t from step t + 1 (read unless <paramref name="first"/>), then dh ⊙ z.</param>
    /// <param name="first">Whether this is the last position (no gradient from a later step).</param>
    /// <param name="gates"><c>[3H]</c>: r, z, gh_n of step t.</param>
    /// <param name="candidate"><c>[H]</c>: n of step t.</param>
    /// <param name="previous"><c>[H]</c>: h_{t−1}.</param>
    /// <param name="gateGradient"><c>[3H]</c>, written: gh's gradient (gi's for r and z).</param>
    /// <param name="newGradient"><c>[H]</c>, written: gi_n's gradient.</param>
    /// <param name="wide">Whether to take the 512-bit loop (<see cref="UseVector512"/>).</param>
    public static void BackwardRow(ReadOnlySpan<float> outputGradient, Span<float> carried, bool first, ReadOnlySpan<float> gates,
        ReadOnlySpan<float> candidate, ReadOnlySpan<float> previous, Span<float> gateGradient, Span<float> newGradient, bool wide)
    {
        int hidden = candidate.Length;
        Check(outputGradient.Length, hidden, "H", hidden, nameof(outputGradient));
        Check(carried.Length, hidden, "H", hidden, nameof(carried));
        Check(previous.Length, hidden, "H", hidden, nameof(previous));
        Check(newGradient.Length, hidden, "H", hidden, nameof(newGradient));
        Check(gates.Length, 3 * hidden, "3H", hidden, nameof(gates));
        Check(gateGradient.Length, 3 * hidden, "3H", hidden, nameof(gateGradient));
        var reset = gates[..hidden];
        var update = gates.Slice(hidden, hidden);
        var hiddenNew = gates.Slice(2 * hidden, hidden);
        var resetGradient = gateGradient[..hidden];
        var updateGradient = gateGradient.Slice(hidden, hidden);
        var hiddenNewGradient = gateGradient.Slice(2 * hidden, hidden);
        int j = 0;
        if (wide && Vector512.IsHardwareAccelerated)
        {
            var one = Vector512<float>.One;
            for (; j <= hidden - Vector512<float>.Count; j += Vector512<float>.Count)
            {
                var dh = Vector512.Create(outputGradient.Slice(j));
                if (!first)
                    dh += Vector512.Create<float>(carried.Slice(j));
                var r = Vector512.Create(reset.Slice(j));
                var z = Vector512.Create(update.Slice(j));
                var n = Vector512.Create(candidate.Slice(j));
                var keep = one - z;                                                            // 1 − z
                var newFactor = (one - n * n) * keep;                                            // (1 − z)(1 − n²)
                var updateFactor = (Vector512.Create(previous.Slice(j)) - n) * z * keep;         // (h − n) z(1 − z)
                var resetFactor = (one - r) * r * Vector512.Create(hiddenNew.Slice(j)) * newFactor;
                (resetFactor * dh).CopyTo(resetGradient.Slice(j));
                (updateFactor * dh).CopyTo(updateGradient.Slice(j));
                (newFactor * r * dh).CopyTo(hiddenNewGradient.Slice(j));
                (dh * z).CopyTo(carried.Slice(j));
                (dh * newFactor).CopyTo(newGradient.Slice(j));
            }
        }
        if (Vector.IsHardwareAccelerated)
        {
            var one = Vector<float>.One;
            for (; j <= hidden - Vector<float>.Count; j += Vector<float>.Count)
            {
                var dh = new Vector<float>(outputGradient.Slice(j));
                if (!first)
                    dh += new Vector<float>(carried.Slice(j));
                var r = new Vector<float>(reset.Slice(j));
                var z = new Vector<float>(update.Slice(j));
                var n = new Vector<float>(candidate.Slice(j));
                var keep = one - z;
                var newFactor = (one - n * n) * keep;
                var updateFactor = (new Vector<float>(previous.Slice(j)) - n) * z * keep;
                var resetFactor = (one - r) * r * new Vector<float>(hiddenNew.Slice(j)) * newFactor;
                (resetFactor * dh).CopyTo(resetGradient.Slice(j));
                (updateFactor * dh).CopyTo(updateGradient.Slice(j));
                (newFactor * r * dh).CopyTo(hiddenNewGradient.Slice(j));
                (dh * z).CopyTo(carried.Slice(j));
                (dh * newFactor).CopyTo(newGradient.Slice(j));
            }
        }
        for (; j < hidden; j++)
        {
            float dh = first ? outputGradient[j] : outputGradient[j] + carried[j];
            float r = reset[j], z = update[j], n = candidate[j];
            float keep = 1f - z;
            float newFactor = (1f - n * n) * keep;
            float updateFactor = (previous[j] - n) * z * keep;
            float resetFactor = (1f - r) * r * hiddenNew[j] * newFactor;
            resetGradient[j] = resetFactor * dh;
            updateGradient[j] = updateFactor * dh;
            hiddenNewGradient[j] = newFactor * r * dh;
            carried[j] = dh * z;
            newGradient[j] = dh * newFactor;
        }

        static void Check(int length, int expected, string size, int hidden, string name)
        {
            if (length != expected)
                throw new ArgumentException(
                    $"A GRU backward row's '{name}' must hold {size} = {expected} floats (H = {hidden}, the candidate's length); got {length}.", name);
        }
    }
}
