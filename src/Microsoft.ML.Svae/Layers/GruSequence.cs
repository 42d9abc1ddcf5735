using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Svae;

/// <summary>
/// A one-layer, batch-first GRU over whole right-padded sequences from the zero state, for training on the CPU: the
/// same function and parameters as <c>gru.call(input, null)</c>, computed by one autograd function with a hand-written
/// backward pass instead of libtorch's per-step graph (issue 16).
/// </summary>
/// <remarks>
/// <para>
/// Why: at SVAE's 8 users per step, libtorch's CPU GRU records about a dozen small autograd operations per position
/// and runs as many autograd nodes per position backward; the time goes to dispatching them, not to the
/// <c>[B × H]·[H × 3H]</c> products. Here the forward pass runs without autograd: the input projection of all steps in
/// one matrix product, then per step one <c>addmm</c> and the gate arithmetic. The backward pass runs the recursion
/// with one <c>addmm</c> per step (on the managed path one pass per user and position computes, inside the recursion,
/// that row's gate gradients from the factors that do not depend on it; on the operations path those factors are
/// computed for all steps at once before it), and then the weight, bias and input gradients as matrix products (or
/// sums) over all steps at once (one for W_hh, two for W_ih and for the input: the (r, z) and n parts of the gates).
/// </para>
/// <para>
/// In float32 on the CPU the gate arithmetic of each step and the backward factors run on spans over the buffers
/// (<see cref="GruStepKernels"/>, <see cref="System.Numerics.Tensors.TensorPrimitives"/>) instead of four or five
/// libtorch operations per step, whose dispatch dominated the step at 8 users (13-16% less CPU for the GRU's forward and
/// backward at B = 8, T = 127 in paired runs: docs/BENCHMARKS.md, issue 16, "Managed kernels"); so does the work
/// between the products over all positions (transposes, bias additions, bfloat16 casts), row by row while each row is
/// in cache, instead of whole-tensor libtorch passes (see <see cref="FusedGru"/>). Other number formats and devices run
/// the same arithmetic as libtorch operations. The two differ by rounding (TensorPrimitives' sigmoid and tanh are not
/// libtorch's).
/// </para>
/// <para>
/// PyTorch's gate order and formulation, as <c>torch.nn.GRU</c>: with <c>gi = W_ih x + b_ih</c> and
/// <c>gh = W_hh h + b_hh</c> split into (r, z, n) parts, <c>r = σ(gi_r + gh_r)</c>, <c>z = σ(gi_z + gh_z)</c>,
/// <c>n = tanh(gi_n + r ⊙ gh_n)</c>, <c>h' = n + z ⊙ (h − n)</c> (computed as <c>lerp(n, h, z)</c>; libtorch
/// computes <c>(h − n) ⊙ z + n</c> and adds the biases in another order: the same to rounding). Padding positions
/// are computed like any other (as by <c>gru.call</c> on a padded batch); the causal recurrence keeps them from
/// touching earlier positions.
/// </para>
/// <para>
/// Used where autograd records and the input is on the CPU. Elsewhere (inference under <c>no_grad</c>, CUDA, where
/// cuDNN's fused GRU is fast) <see cref="Forward"/> calls the module itself, so scoring and the ONNX export see no
/// change. The module keeps its parameters, state-dict names and initialisation.
/// </para>
/// <para>
/// With <see cref="TrainingPrecision.BFloat16"/> (passed in by the caller, never a global setting) the products over all
/// positions at once take bfloat16 inputs and give float32 results: the input projection forward, and backward the
/// W_hh, W_ih and input gradients. The per-position recursion (its <c>[B × H]·[H × 3H]</c> products and the gate
/// arithmetic) and everything saved for it stay float32.
/// </para>
/// </remarks>
internal static class GruSequence
{
    /// <summary>
    /// Internal switch for A/B measurements (the benchmarks' <c>--gru libtorch</c>): when true, <see cref="Forward"/>
    /// always calls the module. Process-wide; never set by the library.
    /// </summary>
    internal static bool UseLibTorch { get; set; }

    /// <summary>
    /// The outputs h_1..h_T <c>[B, T, H]</c> of the one-layer, batch-first <paramref name="gru"/> over
    /// <paramref name="input"/> <c>[B, T, I]</c> from the zero state: the fused CPU path while autograd records, the
    /// module itself otherwise.
    /// </summary>
    /// <param name="gru">The one-layer, batch-first GRU.</param>
    /// <param name="input"><c>[B, T, I]</c> inputs.</param>
    /// <param name="precision">The number format of the fused path's products over all positions (see the class remarks).</param>
    public static Tensor Forward(GRU gru, Tensor input, TrainingPrecision precision = TrainingPrecision.Float32)
    {
        if (!TakesFusedPath(input))
        {
            using var scope = NewDisposeScope();
            var (outputs, _) = gru.call(input, null);
            return outputs.MoveToOuterDisposeScope();
        }
        return Fused(gru, input, precision);
    }

    /// <summary>
    /// Whether <see cref="Forward"/> runs the fused GRU on <paramref name="input"/>: autograd records, the input is a
    /// non-empty <c>[B, T, I]</c> on the CPU, and <see cref="UseLibTorch"/> is off.
    /// </summary>
    internal static bool TakesFusedPath(Tensor input)
        => !UseLibTorch && is_grad_enabled() && input.device_type == DeviceType.CPU && input.dim() == 3 && input.shape[0] >= 1 && input.shape[1] >= 1;

    /// <summary>
    /// The fused GRU on <paramref name="input"/> <c>[B, T, I]</c> (T ≥ 1) with <paramref name="gru"/>'s parameters,
    /// whatever the grad mode and device; <see cref="Forward"/> picks it for training on the CPU.
    /// </summary>
    /// <param name="gru">The one-layer GRU.</param>
    /// <param name="input"><c>[B, T, I]</c> inputs.</param>
    /// <param name="precision">The number format of the products over all positions (see the class remarks).</param>
    public static Tensor Fused(GRU gru, Tensor input, TrainingPrecision precision = TrainingPrecision.Float32)
    {
        var (inputWeight, hiddenWeight, inputBias, hiddenBias) = Parameters(gru);
        if (input.dim() != 3 || input.shape[2] != inputWeight.shape[1] || input.shape[1] < 1)
            throw new ArgumentException(
                $"The GRU's input must be [batch, positions ≥ 1, {inputWeight.shape[1]}]; got [{string.Join(", ", input.shape)}].", nameof(input));
        return FusedGru.apply(input, inputWeight, hiddenWeight, inputBias, hiddenBias, precision == TrainingPrecision.BFloat16);
    }

    private static (Tensor InputWeight, Tensor HiddenWeight, Tensor InputBias, Tensor HiddenBias) Parameters(GRU gru)
    {
        if (gru.get_parameter("weight_ih_l1") is not null || gru.get_parameter("weight_ih_l0_reverse") is not null)
            throw new ArgumentException("The fused GRU runs one unidirectional layer only.", nameof(gru));
        return (gru.get_parameter("weight_ih_l0") ?? throw Missing("weight_ih_l0"),
            gru.get_parameter("weight_hh_l0") ?? throw Missing("weight_hh_l0"),
            gru.get_parameter("bias_ih_l0") ?? throw Missing("bias_ih_l0"),
            gru.get_parameter("bias_hh_l0") ?? throw Missing("bias_hh_l0"));

        static ArgumentException Missing(string name)
            => new($"The fused GRU needs the parameter '{name}' (a one-layer GRU with biases).", nameof(gru));
    }

    /// <summary>A new contiguous tensor with the values of <paramref name="values"/> (never a view of it, unlike <c>contiguous()</c>).</summary>
    private static Tensor Fresh(Tensor values) => empty(values.shape, values.dtype, values.device).copy_(values);

    /// <summary>
    /// The autograd function: inputs (x <c>[B, T, I]</c>, W_ih, W_hh, b_ih, b_hh, whether the products over all
    /// positions run in bfloat16), output <c>[B, T, H]</c>.
    /// </summary>
    /// <remarks>
    /// <para>
    /// Float32 on the CPU (<see cref="RunsManaged"/>) the work between the matrix products runs on spans, row by row
    /// (<see cref="GruStepKernels"/>, <see cref="BFloat16Rows"/>): the time-major copy of the inputs (bfloat16 with
    /// bfloat16 products), the biases added to the projection as each step starts, the gate arithmetic, the outputs
    /// written batch-first as each state is produced; backward, one pass per user and position that reads the output
    /// gradient batch-first, computes dh, the gradients at gh and gi_n and the carried gradient, and writes the bfloat16
    /// operands of the products over all positions (gh's and gi's gradients, h_{t−1}) while the row is in cache; the input
    /// gradient's product is copied (float32) or widened (bfloat16) row by row into a batch-first tensor. Every value is
    /// the one the whole-tensor libtorch passes they replace computed (the same float32 operations in the same order; the
    /// bfloat16 rounding is libtorch's, round to nearest even, for every number but NaN: a NaN becomes 0x7FC0 here and
    /// 0xFFFF in libtorch's vectorised cast, both NaN).
    /// </para>
    /// <para>
    /// Other number formats and devices run the same arithmetic as libtorch operations over whole tensors.
    /// </para>
    /// </remarks>
    private sealed class FusedGru : autograd.SingleTensorFunction<FusedGru>
    {
        public override string Name => nameof(FusedGru);

        /// <summary>The context's key for whether forward ran on spans (<see cref="RunsManaged"/>); backward reads it.</summary>
        private const string ManagedKey = "managed";

        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            var input = (Tensor)vars[0];
            var inputWeight = (Tensor)vars[1];
            var hiddenWeight = (Tensor)vars[2];
            var inputBias = (Tensor)vars[3];
            var hiddenBias = (Tensor)vars[4];
            bool reduced = (bool)vars[5];
            using var scope = NewDisposeScope();
            var source = input.is_contiguous() ? input : input.contiguous();
            bool managed = RunsManaged(source, inputWeight, hiddenWeight, inputBias, hiddenBias);
            // Backward takes the path forward took (what each saves differs): recorded, not inferred from the saved tensors.
            ctx.save_data(ManagedKey, managed);
            var output = managed
                ? ManagedForward(ctx, source, inputWeight, hiddenWeight, inputBias, hiddenBias, reduced)
                : OperationsForward(ctx, input, inputWeight, hiddenWeight, inputBias, hiddenBias, reduced);
            return output.MoveToOuterDisposeScope();
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor grad_output)
        {
            using var scope = NewDisposeScope();
            var saved = ctx.get_saved_variables();
            var gradients = (bool)ctx.get_data(ManagedKey)
                ? ManagedBackward(saved, grad_output)
                : OperationsBackward(saved, grad_output);
            return [gradients.Input.MoveToOuterDisposeScope(), gradients.InputWeight.MoveToOuterDisposeScope(),
                gradients.HiddenWeight.MoveToOuterDisposeScope(), gradients.InputBias.MoveToOuterDisposeScope(),
                gradients.HiddenBias.MoveToOuterDisposeScope(), null!];
        }

        /// <summary>
        /// Whether the function runs its per-position work on spans: the input (contiguous) and the parameters are
        /// contiguous float32 tensors in CPU memory, each within <see cref="CpuTensorMemory.Floats"/>' 2 GB.
        /// </summary>
        private static bool RunsManaged(Tensor input, Tensor inputWeight, Tensor hiddenWeight, Tensor inputBias, Tensor hiddenBias)
            => CpuTensorMemory.SpansFloats(input) && CpuTensorMemory.SpansFloats(inputWeight) && CpuTensorMemory.SpansFloats(hiddenWeight)
                && CpuTensorMemory.SpansFloats(inputBias) && CpuTensorMemory.SpansFloats(hiddenBias)
                && input.shape[0] * input.shape[1] * 3 * hiddenWeight.shape[1] <= int.MaxValue / sizeof(float);

        /// <summary>The forward pass on spans (<see cref="RunsManaged"/>); saves what <see cref="ManagedBackward"/> reads.</summary>
        private static Tensor ManagedForward(autograd.AutogradContext ctx, Tensor input, Tensor inputWeight, Tensor hiddenWeight,
            Tensor inputBias, Tensor hiddenBias, bool reduced)
        {
            long b = input.shape[0], t = input.shape[1], i = input.shape[2], h = hiddenWeight.shape[1];
            int users = (int)b, positions = (int)t, width = (int)i, size = (int)h;
            int gateStep = users * 3 * size, stateStep = users * size;
            bool wide = GruStepKernels.UseVector512;
            var device = input.device;
            var inputValues = CpuTensorMemory.Floats(input);                                               // [B, T, I]

            // Buffers the steps write into in place (what backward needs, without stacking T tensors afterwards): row
            // s·B + u of `hidden` is set, as step s starts, to (gi_r + b_hr, gi_z + b_hz, b_hn); after the step's addmm it
            // holds the pre-activations of r and z, then r and z themselves, and gh_n. `candidates` is set to gi_n and
            // becomes n. `states`: h_0 = 0, h_1..h_T. `output` gets h_t batch-first as it is produced.
            var hidden = empty(new[] { t, b, 3 * h }, ScalarType.Float32, device);                            // [T, B, 3H]
            var candidates = empty(new[] { t, b, h }, ScalarType.Float32, device);                            // [T, B, H]
            var states = empty(new[] { t + 1, b, h }, ScalarType.Float32, device);                            // [T+1, B, H]
            states[0].zero_();
            var output = empty(new[] { b, t, h }, ScalarType.Float32, device);                              // [B, T, H]
            var gateValues = CpuTensorMemory.Floats(hidden);
            var candidateValues = CpuTensorMemory.Floats(candidates);
            var stateValues = CpuTensorMemory.Floats(states);
            var outputValues = CpuTensorMemory.Floats(output);
            var hiddenBiasValues = CpuTensorMemory.Floats(hiddenBias);
            var inputBiasValues = CpuTensorMemory.Floats(inputBias);

            // The time-major inputs [T·B, I] (row s·B + u is user u's position s) and their projection for every step at
            // once. With bfloat16 products the saved inputs are a bfloat16 [T·B rounded up (BFloat16Rows), I] copy with zero
            // rows after the T·B positions, W_ih a bfloat16 copy, and the projection the bfloat16 product (b_ih is added
            // in float32 as each step starts); in float32 the projection is b_ih + x·W_ihᵀ.
            Tensor inputs, projection, productWeight = inputWeight;
            Span<ushort> projectionBits = default;
            Span<float> projectionValues = default;
            if (reduced)
            {
                productWeight = empty(inputWeight.shape, ScalarType.BFloat16, device);
                BFloat16Rows.Round(CpuTensorMemory.Floats(inputWeight), CpuTensorMemory.BFloat16Bits(productWeight), wide);
                inputs = BFloat16Rows.Empty(t * b, i, device);                                             // [T·B⁺, I]
                var inputBits = CpuTensorMemory.BFloat16Bits(inputs);
                for (int s = 0; s < positions; s++)
                    for (int u = 0; u < users; u++)
                        BFloat16Rows.Round(inputValues.Slice((u * positions + s) * width, width), inputBits.Slice((s * users + u) * width, width), wide);
                projection = inputs.mm(productWeight.t());                                                // [T·B⁺, 3H] bfloat16
                projectionBits = CpuTensorMemory.BFloat16Bits(projection);
            }
            else
            {
                inputs = empty(new[] { t, b, i }, ScalarType.Float32, device);                            // [T, B, I]
                SwapRowOrder(inputValues, CpuTensorMemory.Floats(inputs), users, positions, width);
                projection = inputBias.addmm(inputs.view(t * b, i), inputWeight.t());                      // [T·B, 3H]
                projectionValues = CpuTensorMemory.Floats(projection);
            }
            // A contiguous W_hhᵀ: libtorch's small [B × H]·[H × 3H] product is about twice as slow on the transposed view.
            var hiddenWeightT = hiddenWeight.t().contiguous();
            var hiddenSteps = hidden.unbind(0);
            var stateSteps = states.unbind(0);
            for (int s = 0; s < positions; s++)
            {
                for (int u = 0; u < users; u++)
                {
                    int row = s * users + u;
                    var gates = gateValues.Slice(row * 3 * size, 3 * size);
                    var candidate = candidateValues.Slice(row * size, size);
                    if (reduced)
                        GruStepKernels.Project(projectionBits.Slice(row * 3 * size, 3 * size), inputBiasValues, hiddenBiasValues, gates, candidate, wide);
                    else
                        GruStepKernels.Project(projectionValues.Slice(row * 3 * size, 3 * size), hiddenBiasValues, gates, candidate);
                }
                hiddenSteps[s].addmm_(stateSteps[s], hiddenWeightT);                                     // + W_hh h
                GruStepKernels.Forward(gateValues.Slice(s * gateStep, gateStep), candidateValues.Slice(s * stateStep, stateStep),
                    stateValues.Slice(s * stateStep, stateStep), stateValues.Slice((s + 1) * stateStep, stateStep), size);
                for (int u = 0; u < users; u++)
                    stateValues.Slice((s + 1) * stateStep + u * size, size).CopyTo(outputValues.Slice((u * positions + s) * size, size));
            }
            // The output is not saved: saving a function's own output would tie it to its node.
            ctx.save_for_backward([
                inputs.MoveToOuterDisposeScope(), reduced ? productWeight.MoveToOuterDisposeScope() : inputWeight, hiddenWeight,
                hidden.MoveToOuterDisposeScope(), candidates.MoveToOuterDisposeScope(), states.MoveToOuterDisposeScope(),
            ]);
            return output;
        }

        /// <summary>The backward pass on spans, from what <see cref="ManagedForward"/> saved.</summary>
        private static Gradients ManagedBackward(IList<Tensor> saved, Tensor outputGradient)
        {
            var (inputs, inputWeight, hiddenWeight) = (saved[0], saved[1], saved[2]);
            var (hidden, candidates, states) = (saved[3], saved[4], saved[5]);
            long t = hidden.shape[0], b = hidden.shape[1], h = candidates.shape[2], i = inputWeight.shape[1];
            int users = (int)b, positions = (int)t, width = (int)i, size = (int)h;
            bool reduced = inputs.dtype == ScalarType.BFloat16;
            bool wide = GruStepKernels.UseVector512;
            var device = hidden.device;

            // Per step and user, one pass (GruStepKernels.BackwardRow): with dh the gradient at h_t (the output gradient,
            // read batch-first, plus the gradient carried from step t + 1), the gradient at gh [T, B, 3H] (at gi for r and
            // z), at gi_n [T, B, H] (da_n = dh ⊙ (1 − z)(1 − n²), gh_n's without r) and the carried dh ⊙ z; then per step
            // one addmm: the gradient carried to h_{t−1} is dh ⊙ z + dgh·W_hh. With bfloat16 products the same rows are
            // written in bfloat16 as they are produced, each with the saved inputs' rows (zero rows after T·B, which add
            // nothing to the weight gradients): d gh, d gi = (d gh_rz, d gi_n), and h_{t−1}.
            var gradientValues = CpuTensorMemory.Floats(outputGradient.is_contiguous() ? outputGradient : outputGradient.contiguous()); // [B, T, H]
            var gateValues = CpuTensorMemory.Floats(hidden);
            var candidateValues = CpuTensorMemory.Floats(candidates);
            var stateValues = CpuTensorMemory.Floats(states);
            var gateGradient = empty(new[] { t, b, 3 * h }, ScalarType.Float32, device);                      // d gh
            var newGradient = empty(new[] { t, b, h }, ScalarType.Float32, device);                           // d gi_n
            var carried = empty(new[] { b, h }, ScalarType.Float32, device);
            var gateGradientValues = CpuTensorMemory.Floats(gateGradient);
            var newGradientValues = CpuTensorMemory.Floats(newGradient);
            var carriedValues = CpuTensorMemory.Floats(carried);
            Tensor? hiddenReduced = null, inputGateReduced = null, previousReduced = null;
            Span<ushort> hiddenBits = default, inputGateBits = default, previousBits = default;
            if (reduced)
            {
                hiddenReduced = BFloat16Rows.Empty(t * b, 3 * h, device);                                  // [T·B⁺, 3H]
                inputGateReduced = BFloat16Rows.Empty(t * b, 3 * h, device);                               // [T·B⁺, 3H]
                previousReduced = BFloat16Rows.Empty(t * b, h, device);                                    // [T·B⁺, H]
                hiddenBits = CpuTensorMemory.BFloat16Bits(hiddenReduced);
                inputGateBits = CpuTensorMemory.BFloat16Bits(inputGateReduced);
                previousBits = CpuTensorMemory.BFloat16Bits(previousReduced);
            }
            var gateGradientSteps = gateGradient.unbind(0);                                                 // T × [B, 3H]
            for (int s = positions - 1; s >= 0; s--)
            {
                for (int u = 0; u < users; u++)
                {
                    int row = s * users + u;
                    var gateRow = gateGradientValues.Slice(row * 3 * size, 3 * size);
                    var newRow = newGradientValues.Slice(row * size, size);
                    var previous = stateValues.Slice(row * size, size);                                      // h_{t−1}
                    GruStepKernels.BackwardRow(gradientValues.Slice((u * positions + s) * size, size), carriedValues.Slice(u * size, size),
                        first: s == positions - 1, gateValues.Slice(row * 3 * size, 3 * size), candidateValues.Slice(row * size, size),
                        previous, gateRow, newRow, wide);
                    if (reduced)
                    {
                        var reducedGate = hiddenBits.Slice(row * 3 * size, 3 * size);
                        var reducedInputGate = inputGateBits.Slice(row * 3 * size, 3 * size);
                        BFloat16Rows.Round(gateRow, reducedGate, wide);
                        reducedGate[..(2 * size)].CopyTo(reducedInputGate);
                        BFloat16Rows.Round(newRow, reducedInputGate.Slice(2 * size, size), wide);
                        BFloat16Rows.Round(previous, previousBits.Slice(row * size, size), wide);
                    }
                }
                if (s > 0)
                    carried.addmm_(gateGradientSteps[s], hiddenWeight);
            }

            // gi's gradient: its (r, z) parts are gh's, its n part is d gi_n. Each weight and input gradient is a sum over
            // both parts, so nothing is concatenated.
            var hiddenFlat = gateGradient.view(t * b, 3 * h);                                              // d gh
            var resetUpdateFlat = hiddenFlat.narrow(1, 0, 2 * h);                                         // d gi_rz = d gh_rz
            var newFlat = newGradient.view(t * b, h);                                                     // d gi_n
            var hiddenBiasGradient = hiddenFlat.sum(0L);
            var inputBiasGradient = cat([hiddenBiasGradient.narrow(0, 0, 2 * h), newFlat.sum(0L)], 0);
            Tensor gradInput, inputWeightGradient, hiddenWeightGradient;
            if (reduced)
            {
                // W_ih (saved) is bfloat16 already. The weight gradients' bfloat16 products are widened to float32, the input
                // gradient's row by row into a batch-first tensor.
                hiddenWeightGradient = Widened(hiddenReduced!.t().mm(previousReduced!), wide);
                inputWeightGradient = Widened(inputGateReduced!.t().mm(inputs), wide);
                var product = inputGateReduced.mm(inputWeight);                                           // [T·B⁺, I] bfloat16
                var productBits = CpuTensorMemory.BFloat16Bits(product);
                gradInput = empty(new[] { b, t, i }, ScalarType.Float32, device);
                var gradInputValues = CpuTensorMemory.Floats(gradInput);
                for (int s = 0; s < positions; s++)
                    for (int u = 0; u < users; u++)
                        BFloat16Rows.Widen(productBits.Slice((s * users + u) * width, width), gradInputValues.Slice((u * positions + s) * width, width), wide);
            }
            else
            {
                // The input gradient's time-major product is copied row by row into a batch-first tensor (a transposed view
                // would cost its consumer a strided pass or a copy).
                var inputsFlat = inputs.view(t * b, i);
                hiddenWeightGradient = hiddenFlat.t().mm(states.narrow(0, 0, t).reshape(t * b, h));
                inputWeightGradient = empty(new[] { 3 * h, i }, inputs.dtype, inputs.device);
                inputWeightGradient.narrow(0, 0, 2 * h).zero_().addmm_(resetUpdateFlat.t(), inputsFlat);
                inputWeightGradient.narrow(0, 2 * h, h).zero_().addmm_(newFlat.t(), inputsFlat);
                var product = newFlat.mm(inputWeight.narrow(0, 2 * h, h)).addmm_(resetUpdateFlat, inputWeight.narrow(0, 0, 2 * h)); // [T·B, I]
                gradInput = empty(new[] { b, t, i }, ScalarType.Float32, device);
                SwapRowOrder(CpuTensorMemory.Floats(product), CpuTensorMemory.Floats(gradInput), positions, users, width);
            }
            return new(gradInput, inputWeightGradient, hiddenWeightGradient, inputBiasGradient, hiddenBiasGradient);
        }

        /// <summary>
        /// Rows of <paramref name="width"/> values from <c>[outer, inner]</c> order into <c>[inner, outer]</c> order: row
        /// <c>a·inner + c</c> of <paramref name="source"/> becomes row <c>c·outer + a</c> of <paramref name="destination"/>
        /// (batch-first ↔ time-major).
        /// </summary>
        private static void SwapRowOrder(ReadOnlySpan<float> source, Span<float> destination, int outer, int inner, int width)
        {
            // In the destination's order: sequential writes measured faster than sequential reads here.
            for (int c = 0; c < inner; c++)
                for (int a = 0; a < outer; a++)
                    source.Slice((a * inner + c) * width, width).CopyTo(destination.Slice((c * outer + a) * width, width));
        }

        /// <summary>A new float32 tensor with the values of the contiguous bfloat16 CPU tensor <paramref name="reduced"/>.</summary>
        private static Tensor Widened(Tensor reduced, bool wide)
        {
            var result = empty(reduced.shape, ScalarType.Float32, reduced.device);
            BFloat16Rows.Widen(CpuTensorMemory.BFloat16Bits(reduced), CpuTensorMemory.Floats(result), wide);
            return result;
        }

        /// <summary>The forward pass as libtorch operations (other number formats, other devices).</summary>
        private static Tensor OperationsForward(autograd.AutogradContext ctx, Tensor input, Tensor inputWeight, Tensor hiddenWeight,
            Tensor inputBias, Tensor hiddenBias, bool reduced)
        {
            long b = input.shape[0], t = input.shape[1], i = input.shape[2], h = hiddenWeight.shape[1];

            // Time-major input and its projection for every step at once: [T·B, I] → gi [T, B, 3H].
            // A new tensor even when B = 1 or T = 1 (where contiguous() would return a view of the input).
            // With bfloat16 products, the saved inputs are a bfloat16 [T·B rounded up (BFloat16Rows), I] copy with zero rows
            // after the T·B positions, W_ih a bfloat16 copy, and the float32 bias plus the product's first T·B rows a float32
            // projection.
            Tensor inputs, projected;
            var productWeight = reduced ? inputWeight.to(ScalarType.BFloat16) : inputWeight;
            if (reduced)
            {
                inputs = BFloat16Rows.Empty(t * b, i, input.device);                                      // [T·B⁺, I]
                inputs.narrow(0, 0, t * b).view(t, b, i).copy_(input.transpose(0, 1));
                projected = inputs.mm(productWeight.t()).narrow(0, 0, t * b).to(ScalarType.Float32).add_(inputBias).view(t, b, 3 * h);
            }
            else
            {
                inputs = Fresh(input.transpose(0, 1));                                                  // [T, B, I]
                projected = inputBias.addmm(inputs.view(t * b, i), inputWeight.t()).view(t, b, 3 * h);
            }
            var hiddenWeightT = hiddenWeight.t().contiguous();

            // As in ManagedForward: `hidden` holds (gi_r + b_hr, gi_z + b_hz, b_hn), then r, z and gh_n; `candidates` gi_n,
            // then n; `states` h_0 = 0, h_1..h_T. Every saved tensor is a new tensor, not a view (libtorch refuses to save a
            // view changed in place).
            var hidden = Fresh(hiddenBias.expand(t, b, 3 * h));                                         // [T, B, 3H]
            hidden.narrow(2, 0, 2 * h).add_(projected.narrow(2, 0, 2 * h), TorchScalars.One);
            var candidates = Fresh(projected.narrow(2, 2 * h, h));                                      // [T, B, H]
            var states = zeros(new[] { t + 1, b, h }, hiddenWeight.dtype, input.device);                      // [T+1, B, H]
            var hiddenSteps = hidden.unbind(0);
            var stateSteps = states.unbind(0);
            var gateSteps = hidden.narrow(2, 0, 2 * h).unbind(0);
            var resetSteps = hidden.narrow(2, 0, h).unbind(0);
            var updateSteps = hidden.narrow(2, h, h).unbind(0);
            var hiddenNewSteps = hidden.narrow(2, 2 * h, h).unbind(0);
            var candidateSteps = candidates.unbind(0);
            for (long s = 0; s < t; s++)
            {
                var previous = stateSteps[s];
                hiddenSteps[s].addmm_(previous, hiddenWeightT);                                          // + W_hh h
                gateSteps[s].sigmoid_();                                                                // r, z
                var candidate = candidateSteps[s].addcmul_(resetSteps[s], hiddenNewSteps[s], TorchScalars.One).tanh_(); // n
                stateSteps[s + 1].copy_(candidate).lerp_(previous, updateSteps[s]);                      // n + z ⊙ (h − n)
            }

            // A new tensor (contiguous() would return a view of the states when B = 1), not saved: saving a function's
            // own output would tie it to its node.
            var output = Fresh(states.narrow(0, 1, t).transpose(0, 1));                                 // [B, T, H]
            ctx.save_for_backward([
                inputs.MoveToOuterDisposeScope(), reduced ? productWeight.MoveToOuterDisposeScope() : inputWeight, hiddenWeight,
                hidden.MoveToOuterDisposeScope(), candidates.MoveToOuterDisposeScope(), states.MoveToOuterDisposeScope(),
            ]);
            return output;
        }

        /// <summary>The backward pass as libtorch operations, from what <see cref="OperationsForward"/> saved.</summary>
        private static Gradients OperationsBackward(IList<Tensor> saved, Tensor grad_output)
        {
            var (inputs, inputWeight, hiddenWeight) = (saved[0], saved[1], saved[2]);
            var (hidden, candidates, states) = (saved[3], saved[4], saved[5]);
            long t = hidden.shape[0], b = hidden.shape[1], h = candidates.shape[2], i = inputWeight.shape[1];
            var hiddenNew = hidden.narrow(2, 2 * h, h);                                                 // gh_n
            var previous = states.narrow(0, 0, t);                                                      // h_{t−1}

            // The factors that do not depend on the recursion, for every step at once. With dh the gradient at h_t:
            // da_n = dh ⊙ (1 − z)(1 − n²), da_z = dh ⊙ (h_{t−1} − n) z(1 − z), da_r = da_n ⊙ gh_n r(1 − r),
            // and the gradient at gh_n is da_n ⊙ r. The gradient at gh, [T, B, 3, H], is written over these factors step by
            // step, and dh over the copy of the output gradient.
            var stateGradient = Fresh(grad_output.transpose(0, 1));                                     // [T, B, H]
            var reset = hidden.narrow(2, 0, h);
            var update = hidden.narrow(2, h, h);
            var keep = update.neg().add_(TorchScalars.One, TorchScalars.One);                             // 1 − z
            var newFactor = keep.addcmul(keep.mul(candidates), candidates, TorchScalars.MinusOne);       // (1 − z)(1 − n²)
            var updateFactor = previous.sub(candidates).mul_(update).mul_(keep);                        // (h − n) z(1 − z)
            var resetFactor = reset.neg().add_(TorchScalars.One, TorchScalars.One).mul_(reset).mul_(hiddenNew).mul_(newFactor);
            var factors = stack([resetFactor, updateFactor, newFactor.mul(reset)], 2);
            var factorSteps = factors.unbind(0);                                                        // T × [B, 3, H]
            var updateSteps = update.unbind(0);
            var stateGradientSteps = stateGradient.unbind(0);                                            // T × [B, H]
            Tensor? next = null;
            for (long s = t - 1; s >= 0; s--)
            {
                var dh = next is null ? stateGradientSteps[s] : stateGradientSteps[s].add_(next, TorchScalars.One);
                var dgh = factorSteps[s].mul_(dh.unsqueeze(1)).view(b, 3 * h);                               // [B, 3H]
                if (s > 0)
                    next = dh.mul(updateSteps[s]).addmm_(dgh, hiddenWeight);
            }

            // gi's gradient: its (r, z) parts are gh's, its n part is da_n = dh ⊙ (1 − z)(1 − n²) (gh_n's without r).
            // Each weight and input gradient is a sum over both parts, so nothing is concatenated.
            var hiddenFlat = factors.view(t * b, 3 * h);                                                // d gh
            var resetUpdateFlat = hiddenFlat.narrow(1, 0, 2 * h);                                         // d gi_rz = d gh_rz
            var newFlat = stateGradient.mul_(newFactor).view(t * b, h);                                   // d gi_n
            var hiddenBiasGradient = hiddenFlat.sum(0L);
            var inputBiasGradient = cat([hiddenBiasGradient.narrow(0, 0, 2 * h), newFlat.sum(0L)], 0);
            Tensor gradInput, inputWeightGradient, hiddenWeightGradient;
            if (inputs.dtype == ScalarType.BFloat16)
            {
                // bfloat16 copies of d gh, h_{t−1} and d gi = (d gi_rz, d gi_n), each with the saved inputs' rows (zero rows
                // after T·B, which add nothing to the weight gradients); W_ih (saved) is bfloat16 already.
                var hiddenReduced = BFloat16Rows.Copy(hiddenFlat);                                         // [T·B⁺, 3H]
                var previousReduced = BFloat16Rows.Copy(previous.reshape(t * b, h));                       // [T·B⁺, H]
                var inputGateReduced = BFloat16Rows.Empty(t * b, 3 * h, inputs.device);                  // [T·B⁺, 3H]
                inputGateReduced.narrow(0, 0, t * b).narrow(1, 0, 2 * h).copy_(resetUpdateFlat);
                inputGateReduced.narrow(0, 0, t * b).narrow(1, 2 * h, h).copy_(newFlat);
                hiddenWeightGradient = hiddenReduced.t().mm(previousReduced).to(ScalarType.Float32);
                inputWeightGradient = inputGateReduced.t().mm(inputs).to(ScalarType.Float32);
                gradInput = inputGateReduced.mm(inputWeight).narrow(0, 0, t * b).to(ScalarType.Float32).view(t, b, i).transpose(0, 1);
            }
            else
            {
                var inputsFlat = inputs.view(t * b, i);
                hiddenWeightGradient = hiddenFlat.t().mm(previous.reshape(t * b, h));
                inputWeightGradient = empty(new[] { 3 * h, i }, inputs.dtype, inputs.device);
                inputWeightGradient.narrow(0, 0, 2 * h).zero_().addmm_(resetUpdateFlat.t(), inputsFlat);
                inputWeightGradient.narrow(0, 2 * h, h).zero_().addmm_(newFlat.t(), inputsFlat);
                gradInput = newFlat.mm(inputWeight.narrow(0, 2 * h, h))
                    .addmm_(resetUpdateFlat, inputWeight.narrow(0, 0, 2 * h)).view(t, b, i).transpose(0, 1);
            }
            return new(gradInput, inputWeightGradient, hiddenWeightGradient, inputBiasGradient, hiddenBiasGradient);
        }

        /// <summary>The gradients backward returns, in the order of the function's inputs.</summary>
        private readonly record struct Gradients(Tensor Input, Tensor InputWeight, Tensor HiddenWeight, Tensor InputBias, Tensor HiddenBias);
    }
}
