using System.Buffers;
using System.Numerics;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Svae;

/// <summary>
/// A network's output layer over all N items together with the next-k multi-set likelihood of eq. 4.9 (Sachdeva et
/// al., WSDM 2019): <c>−Σ_s (Σ_j w_sj · log_softmax(a_s·Wᵀ + b)[targets_sj]) / Σ_j w_sj</c> as one autograd
/// function: on the CPU, the three matrix products and ONE managed pass over the <c>[P × N]</c> logits (issue 16).
/// </summary>
/// <remarks>
/// <para>
/// Forward (CPU): the logits <c>a·Wᵀ</c> (<c>[P × D]·[D × N]</c>) into one <c>[P × N]</c> buffer, then one pass over its
/// rows, each while it is in cache, in three sweeps of the row (512-bit vector kernels of our own where the CPU has them,
/// <c>Vector&lt;T&gt;</c> and <see cref="TensorPrimitives"/> elsewhere): plus the bias with the row's maximum;
/// <c>exp(x − max)</c> with its sum (the log-sum-exp); the row's loss <c>Σ_j ŵ_sj (lse − x_s[t_sj])</c> with <c>ŵ = w / Σ_j w</c> (the target logits
/// read before the row is overwritten), then the row overwritten with the gradient at the logits
/// <c>G_s = softmax(x_s) − scatter(ŵ_s)</c> (a target repeated in a row adds, as <c>scatter_add</c> does), added to the
/// bias gradient in the same sweep. Backward: <c>∂a = g·(G·W)</c>, <c>∂W = g·(Gᵀ·a)</c>, <c>∂b = g·Σ_s G_s</c>
/// with g the incoming scalar gradient (the small results are scaled, never the <c>[P × N]</c> matrix). The buffer is
/// the only <c>[P × N]</c> tensor; it lives from the forward to the end of the backward, and the backward does not change
/// it. When autograd does not record (or no input needs a gradient), the pass computes the loss only.
/// </para>
/// <para>
/// With <see cref="TrainingPrecision.BFloat16"/> the products take bfloat16 copies of <c>a</c> (rows rounded up with zero
/// rows, <see cref="BFloat16Rows"/>, so that oneDNN meets few distinct shapes) and <c>W</c> (libtorch runs them through
/// oneDNN, on AMX where the CPU has it); the buffer is the bfloat16 product itself: the pass reads each row into float32,
/// does the float32 work above and writes <c>G_s</c> back over the row in bfloat16 (round to nearest even, as libtorch
/// casts), which is what the two backward products take. The bias gradient and the loss come from the float32 row.
/// Results carry bfloat16's rounding (a relative error of about 2⁻⁸ per product; the products accumulate in float32).
/// With <see cref="TrainingPrecision.Float32"/> the value and gradients equal <c>Linear</c> then
/// <see cref="NextKTargets.MultiSetNll"/> to float32 rounding.
/// </para>
/// <para>
/// Threads: the rows are cut into at most <see cref="MaxBlocks"/> blocks of at least <see cref="MinRowsPerBlock"/> rows,
/// a partition that depends on P only; the blocks run on up to <c>torch.get_num_threads()</c> threads, and their losses
/// and bias gradients are summed in block order, so the results are the same bits for any number of threads
/// (<see cref="Threads"/> overrides the count). With more than one libtorch thread, the pass's <c>Parallel.For</c> (.NET's
/// thread pool) runs right after the product on OpenMP's threads; only one thread was measured, the two-thread speed
/// (and any cost of handing the cores from one pool to the other) is not.
/// Each call allocates its buffer afresh (libtorch's allocator); a workspace kept across steps was not tried (it would
/// have to fall back to a fresh buffer while an earlier forward's graph is not yet backpropagated). Measured at the
/// ML-1M shape, and memory at the Netflix subset's shape: docs/BENCHMARKS.md, issue 16, "A fused output layer and loss
/// pass on the CPU".
/// </para>
/// <para>
/// Off the CPU (CUDA), or for tensors that are not float32, the function is libtorch's: <c>Linear</c> (float32) then
/// <see cref="NextKTargets.MultiSetNll"/>, whatever the precision.
/// </para>
/// </remarks>
internal static class NextKOutputLayer
{
    /// <summary>The most blocks the rows are cut into (each keeps an N-float partial bias gradient).</summary>
    internal const int MaxBlocks = 16;

    /// <summary>The fewest rows in a block.</summary>
    internal const int MinRowsPerBlock = 8;

    private static readonly AsyncLocal<bool?> vector512 = new();
    private static readonly AsyncLocal<int?> threads = new();

    /// <summary>
    /// Whether the pass's kernels take their 512-bit loops: where the CPU has them, unless set to <see langword="false"/>
    /// (tests force the <c>Vector&lt;T&gt;</c> and <see cref="TensorPrimitives"/> paths with it). Set per asynchronous flow
    /// (<see cref="AsyncLocal{T}"/>): a test that sets it does not change the pass for tests running beside it.
    /// </summary>
    internal static bool UseVector512
    {
        get => Vector512.IsHardwareAccelerated && (vector512.Value ?? true);
        set => vector512.Value = value;
    }

    /// <summary>
    /// Threads of the pass; <see langword="null"/>: libtorch's intra-op thread count at each call. Set per asynchronous
    /// flow (<see cref="AsyncLocal{T}"/>), so that a test needs no process-wide <c>set_num_threads</c>.
    /// </summary>
    internal static int? Threads
    {
        get => threads.Value;
        set => threads.Value = value;
    }

    /// <summary>
    /// The multi-set NLL of eq. 4.9 summed over units of the logits <c>hidden·weightᵀ + bias</c>.
    /// </summary>
    /// <param name="hidden"><c>[P, D]</c> float32 activations feeding the output layer.</param>
    /// <param name="weight"><c>[N, D]</c> float32 output weights (a <c>Linear(D, N)</c>'s weight).</param>
    /// <param name="bias"><c>[N]</c> float32 output bias.</param>
    /// <param name="targets"><c>[P, k]</c> int64 target items of each unit, each in [0, N).</param>
    /// <param name="weights"><c>[P, k]</c> float32: 1 for a valid target, 0 for none; every row has at least one valid target.</param>
    /// <param name="precision">The number format of the three matrix products (on the CPU).</param>
    public static Tensor MultiSetNll(Tensor hidden, Tensor weight, Tensor bias, Tensor targets, Tensor weights, TrainingPrecision precision)
    {
        if (hidden.dim() != 2 || weight.dim() != 2 || hidden.shape[1] != weight.shape[1] || bias.dim() != 1 || bias.shape[0] != weight.shape[0])
            throw new ArgumentException(
                $"The output layer needs activations [P, D], weights [N, D] and a bias [N]; got [{string.Join(", ", hidden.shape)}], [{string.Join(", ", weight.shape)}] and [{string.Join(", ", bias.shape)}].",
                nameof(hidden));
        if (targets.dim() != 2 || weights.dim() != 2 || targets.shape[0] != hidden.shape[0] || !targets.shape.SequenceEqual(weights.shape))
            throw new ArgumentException(
                $"The next-k targets and their weights must both be [P, k] with the P = {hidden.shape[0]} rows of the activations; got [{string.Join(", ", targets.shape)}] and [{string.Join(", ", weights.shape)}].",
                nameof(targets));
        if (!TakesFusedPath(hidden, weight, bias, targets, weights))
        {
            using var scope = NewDisposeScope();
            return NextKTargets.MultiSetNll(bias.addmm(hidden, weight.t()), targets, weights).MoveToOuterDisposeScope();
        }

        var units = Units.Read(targets, weights, weight.shape[0]);
        bool reduced = precision == TrainingPrecision.BFloat16;
        if (!is_grad_enabled() || !(hidden.requires_grad || weight.requires_grad || bias.requires_grad))
        {
            using var scope = NewDisposeScope();
            var logits = Logits(hidden, weight, reduced, out _, out _);
            return tensor((float)RowPass(logits, reduced, hidden.shape[0], Values(bias), units, biasGradient: null)).MoveToOuterDisposeScope();
        }
        return OutputCrossEntropy.apply(hidden, weight, bias, units, reduced);
    }

    /// <summary>
    /// Whether <see cref="MultiSetNll"/> takes the managed pass: every tensor on the CPU, float32 activations, weights and
    /// bias, int64 targets, at least one row and one item.
    /// </summary>
    internal static bool TakesFusedPath(Tensor hidden, Tensor weight, Tensor bias, Tensor targets, Tensor weights)
        => hidden.device_type == DeviceType.CPU && weight.device_type == DeviceType.CPU && bias.device_type == DeviceType.CPU
            && targets.device_type == DeviceType.CPU && weights.device_type == DeviceType.CPU
            && hidden.dtype == ScalarType.Float32 && weight.dtype == ScalarType.Float32 && bias.dtype == ScalarType.Float32
            && targets.dtype == ScalarType.Int64 && hidden.shape[0] >= 1 && weight.shape[0] >= 1 && weight.shape[0] <= int.MaxValue
            && targets.shape[1] >= 1;

    /// <summary>The units' targets and normalised weights ŵ = w / Σ_j w, row-major <c>[P, k]</c>, read once into managed arrays.</summary>
    private sealed record Units(long[] Targets, float[] Normalised, int K)
    {
        public static Units Read(Tensor targets, Tensor weights, long items)
        {
            int k = (int)targets.shape[1];
            long[] items64;
            float[] w;
            using (NewDisposeScope())
            {
                items64 = targets.contiguous().data<long>().ToArray();
                w = weights.to(ScalarType.Float32).contiguous().data<float>().ToArray();
            }
            for (long i = 0; i < items64.Length; i++)
                if ((ulong)items64[i] >= (ulong)items)
                    throw new ArgumentOutOfRangeException(nameof(targets),
                        $"Target {i % k} of row {i / k} is item {items64[i]}, outside the output layer's {items} items.");
            var normalised = new float[w.Length];
            for (int row = 0; row < w.Length / k; row++)
            {
                var rowWeights = w.AsSpan(row * k, k);
                float sum = TensorPrimitives.Sum(rowWeights);
                if (sum == 0)
                    throw new ArgumentException(
                        $"Row {row} of the next-k target weights has no valid target; every unit needs at least one.", nameof(weights));
                TensorPrimitives.Divide(rowWeights, sum, normalised.AsSpan(row * k, k));
            }
            return new Units(items64, normalised, k);
        }
    }

    /// <summary>
    /// The logits without the bias: float32 <c>[P, N]</c>, or with <paramref name="reduced"/> the bfloat16 product
    /// <c>[Padded(P), N]</c> of the bfloat16 copies <paramref name="left"/> and <paramref name="right"/> (its padded rows zero).
    /// </summary>
    private static Tensor Logits(Tensor hidden, Tensor weight, bool reduced, out Tensor? left, out Tensor? right)
    {
        if (!reduced)
        {
            (left, right) = (null, null);
            return hidden.mm(weight.t());
        }
        left = BFloat16Rows.Copy(hidden);
        right = weight.to(ScalarType.BFloat16);
        var product = left.mm(right.t());
        long rows = hidden.shape[0], padded = product.shape[0];
        if (padded > rows)
            product.narrow(0, rows, padded - rows).zero_();   // zero already (zero rows of a): the backward products rely on it
        return product;
    }

    private static float[] Values(Tensor bias)
    {
        using var values = bias.detach().contiguous();
        return values.data<float>().ToArray();
    }

    /// <summary>
    /// The pass over the first <paramref name="rows"/> rows of <paramref name="logits"/> (contiguous, float32, or bfloat16
    /// when <paramref name="reduced"/>): returns the summed loss; with <paramref name="biasGradient"/> (N floats, zero) also
    /// overwrites each row with its gradient at the logits (in the buffer's format) and adds the rows into it.
    /// </summary>
    private static double RowPass(Tensor logits, bool reduced, long rows, float[] bias, Units units, float[]? biasGradient)
    {
        int n = bias.Length;
        nint address = CpuTensorMemory.Address(logits);
        int rowsPerBlock = (int)Math.Max(MinRowsPerBlock, (rows + MaxBlocks - 1) / MaxBlocks);
        int blocks = (int)((rows + rowsPerBlock - 1) / rowsPerBlock);
        var losses = new double[blocks];
        var partials = biasGradient is null ? null : new float[blocks][];
        bool wide = UseVector512;

        void Block(int block)
        {
            float[]? scratch = reduced ? ArrayPool<float>.Shared.Rent(n) : null;
            float[]? partial = null;
            if (partials is not null)
            {
                partial = partials[block] = ArrayPool<float>.Shared.Rent(n);
                Array.Clear(partial, 0, n);
            }
            double sum = 0;
            long end = Math.Min(rows, (long)(block + 1) * rowsPerBlock);
            for (long row = (long)block * rowsPerBlock; row < end; row++)
            {
                int first = (int)(row * units.K);
                var targets = units.Targets.AsSpan(first, units.K);
                var normalised = units.Normalised.AsSpan(first, units.K);
                if (reduced)
                {
                    var stored = CpuTensorMemory.Row<ushort>(address, row, n);
                    var x = scratch.AsSpan(0, n);
                    float max = WidenAddMax(stored, bias, x, wide);
                    sum += Row(x, max, targets, normalised, partial, partial is null ? default : stored, wide);
                }
                else
                {
                    var x = CpuTensorMemory.Row<float>(address, row, n);
                    float max = AddMax(x, bias, wide);
                    sum += Row(x, max, targets, normalised, partial, default, wide);
                }
            }
            losses[block] = sum;
            if (scratch is not null)
                ArrayPool<float>.Shared.Return(scratch);
        }

        int threads = Threads ?? get_num_threads();
        if (threads <= 1 || blocks == 1)
        {
            for (int block = 0; block < blocks; block++)
                Block(block);
        }
        else
        {
            Parallel.For(0, blocks, new ParallelOptions { MaxDegreeOfParallelism = threads }, Block);
        }

        double loss = 0;
        for (int block = 0; block < blocks; block++)
        {
            loss += losses[block];
            if (partials is not null)
            {
                TensorPrimitives.Add(biasGradient, partials[block].AsSpan(0, n), biasGradient);
                ArrayPool<float>.Shared.Return(partials[block]);
            }
        }
        GC.KeepAlive(logits);   // its memory was reached through a raw address
        return loss;
    }

    /// <summary>
    /// One unit, from its logits <paramref name="x"/> (bias added) and their maximum: returns <c>Σ_j ŵ_j (lse − x[t_j])</c>;
    /// with <paramref name="biasGradient"/>, overwrites <paramref name="x"/> with <c>softmax(x) − scatter(ŵ)</c>, adds it
    /// into <paramref name="biasGradient"/> and, when <paramref name="stored"/> is not empty, writes it there in bfloat16.
    /// </summary>
    private static double Row(Span<float> x, float max, ReadOnlySpan<long> targets, ReadOnlySpan<float> normalised,
        float[]? biasGradient, Span<ushort> stored, bool wide)
    {
        // The target logits (less the maximum), read before the row is overwritten.
        double targetSum = 0, weightSum = 0;
        for (int j = 0; j < targets.Length; j++)
        {
            targetSum += (double)normalised[j] * ((double)x[(int)targets[j]] - max);
            weightSum += normalised[j];
        }
        float total = ExpSum(x, max, wide);
        double loss = weightSum * Math.Log(total) - targetSum;
        if (biasGradient is null)
            return loss;

        // softmax = exp / total, added into the bias gradient (and written in bfloat16); then the targets' −ŵ_j (a repeated
        // target twice), in the row, the bias gradient and the bfloat16 row alike.
        var accumulated = biasGradient.AsSpan(0, x.Length);
        ScaleAccumulate(x, 1f / total, accumulated, stored, wide);
        for (int j = 0; j < targets.Length; j++)
        {
            int target = (int)targets[j];
            x[target] -= normalised[j];
            accumulated[target] -= normalised[j];
        }
        if (!stored.IsEmpty)
        {
            for (int j = 0; j < targets.Length; j++)
            {
                int target = (int)targets[j];
                stored[target] = (ushort)BFloat16Rows.Rounded(BitConverter.SingleToUInt32Bits(x[target]));
            }
        }
        return loss;
    }

    /// <summary><paramref name="x"/> += <paramref name="bias"/>; returns the maximum of the sums (one pass).</summary>
    internal static float AddMax(Span<float> x, ReadOnlySpan<float> bias, bool wide)
    {
        int i = 0;
        float max = float.NegativeInfinity;
        if (wide && x.Length >= Vector512<float>.Count)
        {
            var maxima = Vector512.Create(float.NegativeInfinity);
            for (; i <= x.Length - Vector512<float>.Count; i += Vector512<float>.Count)
            {
                var sum = Vector512.Create<float>(x.Slice(i)) + Vector512.Create<float>(bias.Slice(i));
                sum.CopyTo(x.Slice(i));
                maxima = Vector512.Max(maxima, sum);
            }
            max = Math.Max(max, MaxLane(maxima));
        }
        if (Vector.IsHardwareAccelerated && x.Length - i >= Vector<float>.Count)
        {
            var maxima = new Vector<float>(float.NegativeInfinity);
            for (; i <= x.Length - Vector<float>.Count; i += Vector<float>.Count)
            {
                var sum = new Vector<float>(x.Slice(i)) + new Vector<float>(bias.Slice(i));
                sum.CopyTo(x.Slice(i));
                maxima = Vector.Max(maxima, sum);
            }
            for (int lane = 0; lane < Vector<float>.Count; lane++)
                max = Math.Max(max, maxima[lane]);
        }
        for (; i < x.Length; i++)
        {
            x[i] += bias[i];
            max = Math.Max(max, x[i]);
        }
        return max;
    }

    /// <summary>
    /// <paramref name="x"/> = the bfloat16 <paramref name="source"/> in float32 + <paramref name="bias"/>; returns the maximum
    /// of the sums (one pass).
    /// </summary>
    internal static float WidenAddMax(ReadOnlySpan<ushort> source, ReadOnlySpan<float> bias, Span<float> x, bool wide)
    {
        var bits = MemoryMarshal.Cast<float, uint>(x);
        int i = 0;
        float max = float.NegativeInfinity;
        if (wide && x.Length >= Vector512<ushort>.Count)
        {
            var maxima = Vector512.Create(float.NegativeInfinity);
            for (; i <= x.Length - Vector512<ushort>.Count; i += Vector512<ushort>.Count)
            {
                var (low, high) = Vector512.Widen(Vector512.Create<ushort>(source.Slice(i)));
                int next = i + Vector512<float>.Count;
                var first = Vector512.ShiftLeft(low, 16).AsSingle() + Vector512.Create<float>(bias.Slice(i));
                var second = Vector512.ShiftLeft(high, 16).AsSingle() + Vector512.Create<float>(bias.Slice(next));
                first.CopyTo(x.Slice(i));
                second.CopyTo(x.Slice(next));
                maxima = Vector512.Max(maxima, Vector512.Max(first, second));
            }
            max = Math.Max(max, MaxLane(maxima));
        }
        if (Vector.IsHardwareAccelerated && x.Length - i >= Vector<ushort>.Count)
        {
            var maxima = new Vector<float>(float.NegativeInfinity);
            for (; i <= x.Length - Vector<ushort>.Count; i += Vector<ushort>.Count)
            {
                Vector.Widen(new Vector<ushort>(source.Slice(i)), out var low, out var high);
                var first = Vector.AsVectorSingle(Vector.ShiftLeft(low, 16)) + new Vector<float>(bias.Slice(i));
                var second = Vector.AsVectorSingle(Vector.ShiftLeft(high, 16)) + new Vector<float>(bias.Slice(i + Vector<float>.Count));
                first.CopyTo(x.Slice(i));
                second.CopyTo(x.Slice(i + Vector<float>.Count));
                maxima = Vector.Max(maxima, Vector.Max(first, second));
            }
            for (int lane = 0; lane < Vector<float>.Count; lane++)
                max = Math.Max(max, maxima[lane]);
        }
        for (; i < x.Length; i++)
        {
            bits[i] = (uint)source[i] << 16;
            x[i] += bias[i];
            max = Math.Max(max, x[i]);
        }
        return max;
    }

    /// <summary>
    /// <paramref name="x"/> *= <paramref name="scale"/>, then added into <paramref name="accumulated"/> and, unless
    /// <paramref name="stored"/> is empty, written there in bfloat16 (one pass).
    /// </summary>
    internal static void ScaleAccumulate(Span<float> x, float scale, Span<float> accumulated, Span<ushort> stored, bool wide)
    {
        int i = 0;
        if (wide && x.Length >= Vector512<ushort>.Count)
        {
            var factor = Vector512.Create(scale);
            for (; i <= x.Length - Vector512<ushort>.Count; i += Vector512<ushort>.Count)
            {
                int next = i + Vector512<float>.Count;
                var first = Vector512.Create<float>(x.Slice(i)) * factor;
                var second = Vector512.Create<float>(x.Slice(next)) * factor;
                first.CopyTo(x.Slice(i));
                second.CopyTo(x.Slice(next));
                (Vector512.Create<float>(accumulated.Slice(i)) + first).CopyTo(accumulated.Slice(i));
                (Vector512.Create<float>(accumulated.Slice(next)) + second).CopyTo(accumulated.Slice(next));
                if (!stored.IsEmpty)
                    Vector512.Narrow(BFloat16Rows.Rounded(first.AsUInt32()), BFloat16Rows.Rounded(second.AsUInt32())).CopyTo(stored.Slice(i));
            }
        }
        if (Vector.IsHardwareAccelerated && x.Length - i >= Vector<ushort>.Count)
        {
            var factor = new Vector<float>(scale);
            for (; i <= x.Length - Vector<ushort>.Count; i += Vector<ushort>.Count)
            {
                int next = i + Vector<float>.Count;
                var first = new Vector<float>(x.Slice(i)) * factor;
                var second = new Vector<float>(x.Slice(next)) * factor;
                first.CopyTo(x.Slice(i));
                second.CopyTo(x.Slice(next));
                (new Vector<float>(accumulated.Slice(i)) + first).CopyTo(accumulated.Slice(i));
                (new Vector<float>(accumulated.Slice(next)) + second).CopyTo(accumulated.Slice(next));
                if (!stored.IsEmpty)
                    Vector.Narrow(BFloat16Rows.Rounded(Vector.AsVectorUInt32(first)), BFloat16Rows.Rounded(Vector.AsVectorUInt32(second)))
                        .CopyTo(stored.Slice(i));
            }
        }
        int tail = i;
        for (; i < x.Length; i++)
        {
            x[i] *= scale;
            accumulated[i] += x[i];
        }
        if (!stored.IsEmpty && tail < x.Length)
            BFloat16Rows.Round(x.Slice(tail), stored.Slice(tail), wide: false);
    }

    /// <summary>
    /// <paramref name="x"/> = exp(<paramref name="x"/> − <paramref name="max"/>) (every element ≤ 0 after the subtraction);
    /// returns the sum. Every path clamps its argument at −86.6 first, so that below it the result is exp(−86.6), about
    /// 2.5e-38, and never subnormal nor 0 (NaN stays NaN). With <paramref name="wide"/> (512-bit vectors), one pass and its own exp
    /// (Cephes' single-precision polynomial, within about 2 ulp) with <see cref="MathF.Exp"/> for the tail; otherwise
    /// <see cref="TensorPrimitives"/>' subtract, max, exp and sum.
    /// </summary>
    internal static float ExpSum(Span<float> x, float max, bool wide)
    {
        if (!wide || x.Length < Vector512<float>.Count)
        {
            TensorPrimitives.Subtract(x, max, x);
            TensorPrimitives.Max(x, ExpFloor, x);
            TensorPrimitives.Exp(x, x);
            return TensorPrimitives.Sum(x);
        }
        int i = 0;
        var shift = Vector512.Create(max);
        var sums = Vector512<float>.Zero;
        for (; i <= x.Length - Vector512<float>.Count; i += Vector512<float>.Count)
        {
            var e = Exp(Vector512.Create<float>(x.Slice(i)) - shift);
            e.CopyTo(x.Slice(i));
            sums += e;
        }
        float total = Vector512.Sum(sums);
        for (; i < x.Length; i++)
        {
            x[i] = MathF.Exp(Math.Max(x[i] - max, ExpFloor));
            total += x[i];
        }
        return total;
    }

    /// <summary>
    /// exp of 16 floats ≤ 0 (NaN stays NaN): n = round(x·log₂e), r = x − n·ln 2 in two parts, e^r by a degree-5
    /// polynomial (Cephes <c>expf</c>), times 2ⁿ through the exponent bits.
    /// </summary>
    private static Vector512<float> Exp(Vector512<float> x)
    {
        x = Vector512.Max(x, Vector512.Create(ExpFloor));
        var n = Vector512.Round(x * Vector512.Create(1.44269504088896341f));
        var r = x - n * Vector512.Create(0.693359375f);
        r -= n * Vector512.Create(-2.12194440e-4f);
        var p = Vector512.Create(1.9875691500E-4f);
        p = p * r + Vector512.Create(1.3981999507E-3f);
        p = p * r + Vector512.Create(8.3334519073E-3f);
        p = p * r + Vector512.Create(4.1665795894E-2f);
        p = p * r + Vector512.Create(1.6666665459E-1f);
        p = p * r + Vector512.Create(5.0000001201E-1f);
        var y = p * (r * r) + r + Vector512<float>.One;
        var scale = Vector512.ShiftLeft(Vector512.ConvertToInt32(n) + Vector512.Create(127), 23).AsSingle();
        return y * scale;
    }

    /// <summary>The largest of the 16 lanes.</summary>
    private static float MaxLane(Vector512<float> values)
    {
        var half = Vector256.Max(values.GetLower(), values.GetUpper());
        var quarter = Vector128.Max(half.GetLower(), half.GetUpper());
        float max = quarter[0];
        for (int lane = 1; lane < Vector128<float>.Count; lane++)
            max = Math.Max(max, quarter[lane]);
        return max;
    }

    /// <summary>The least argument of the pass's exp: exp(−86.6) ≈ 2.5e-38 is still a normal float.</summary>
    private const float ExpFloor = -86.6f;

    private sealed class OutputCrossEntropy : autograd.SingleTensorFunction<OutputCrossEntropy>
    {
        public override string Name => nameof(OutputCrossEntropy);

        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            var hidden = (Tensor)vars[0];
            var weight = (Tensor)vars[1];
            var bias = (Tensor)vars[2];
            var units = (Units)vars[3];
            bool reduced = (bool)vars[4];
            using var scope = NewDisposeScope();
            // The logits (bfloat16: the product of the bfloat16 copies, which the backward products take again), overwritten
            // row by row with the gradient at the logits G.
            var gradient = Logits(hidden, weight, reduced, out var left, out var right);
            var biasGradient = new float[weight.shape[0]];
            double loss = RowPass(gradient, reduced, hidden.shape[0], Values(bias), units, biasGradient);
            ctx.save_for_backward([gradient.MoveToOuterDisposeScope(), left?.MoveToOuterDisposeScope() ?? hidden,
                right?.MoveToOuterDisposeScope() ?? weight, tensor(biasGradient).MoveToOuterDisposeScope(), hidden]);
            return tensor((float)loss).MoveToOuterDisposeScope();
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor grad_output)
        {
            using var scope = NewDisposeScope();
            var saved = ctx.get_saved_variables();
            var (gradient, left, right, biasGradient, hidden) = (saved[0], saved[1], saved[2], saved[3], saved[4]);
            Tensor hiddenGradient, weightGradient;
            if (gradient.dtype == ScalarType.BFloat16)
            {
                // G has as many rows as the saved a, zero after the first P: its padded rows add nothing to ∂W.
                hiddenGradient = gradient.mm(right).narrow(0, 0, hidden.shape[0]).to(ScalarType.Float32);
                weightGradient = gradient.t().mm(left).to(ScalarType.Float32);
            }
            else
            {
                hiddenGradient = gradient.mm(right);
                weightGradient = gradient.t().mm(left);
            }
            hiddenGradient.mul_(grad_output);
            weightGradient.mul_(grad_output);
            return [hiddenGradient.MoveToOuterDisposeScope(), weightGradient.MoveToOuterDisposeScope(),
                biasGradient.mul(grad_output).MoveToOuterDisposeScope(), null!, null!];
        }
    }
}
