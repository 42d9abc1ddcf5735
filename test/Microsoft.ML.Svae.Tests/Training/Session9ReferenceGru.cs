using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace Microsoft.ML.Svae.Tests.Training;

/// <summary>
/// TEST-ONLY REFERENCE: the fused GRU as session 9 left it (commit 30178c5's <c>GruSequence.FusedGru</c> and
/// <c>GruStepKernels.Forward</c>/<c>Factors</c>/<c>Backward</c>), kept verbatim in its arithmetic so that the library's
/// restructured fused GRU can be checked against it bit for bit (<see cref="GruSequenceTests"/>). Float32 on the CPU,
/// both product precisions: the forward's whole-tensor libtorch glue (transposed copy, bias additions, bfloat16 casts)
/// around per-step <c>addmm</c> and span kernels; backward, every factor for all steps at once, the recursion with one
/// <c>addmm</c> per step, then the weight, bias and input gradients over all steps at once. Never used by the library.
/// </summary>
internal static class Session9ReferenceGru
{
    /// <summary>Session 9's fused GRU on <paramref name="input"/> <c>[B, T, I]</c> with <paramref name="gru"/>'s parameters.</summary>
    public static Tensor Apply(GRU gru, Tensor input, bool reduced)
        => Function.apply(input, gru.get_parameter("weight_ih_l0")!, gru.get_parameter("weight_hh_l0")!,
            gru.get_parameter("bias_ih_l0")!, gru.get_parameter("bias_hh_l0")!, reduced);

    private static Tensor Fresh(Tensor values) => empty(values.shape, values.dtype, values.device).copy_(values);

    /// <summary>A bfloat16 <c>[Padded(R), C]</c> tensor, zero after the first <paramref name="rows"/> rows (session 9's BFloat16Rows.Empty).</summary>
    private static Tensor ReducedRows(long rows, long columns, Device device)
    {
        long padded = BFloat16Rows.Padded(rows);
        var result = empty(new[] { padded, columns }, ScalarType.BFloat16, device);
        if (padded > rows)
            result.narrow(0, rows, padded - rows).zero_();
        return result;
    }

    /// <summary><paramref name="values"/> <c>[R, C]</c> cast by libtorch into <see cref="ReducedRows"/> (session 9's BFloat16Rows.Copy).</summary>
    private static Tensor ReducedCopy(Tensor values)
    {
        var result = ReducedRows(values.shape[0], values.shape[1], values.device);
        result.narrow(0, 0, values.shape[0]).copy_(values);
        return result;
    }

    private sealed class Function : autograd.SingleTensorFunction<Function>
    {
        public override string Name => "Session9ReferenceGru";

        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            var input = (Tensor)vars[0];
            var inputWeight = (Tensor)vars[1];
            var hiddenWeight = (Tensor)vars[2];
            var inputBias = (Tensor)vars[3];
            var hiddenBias = (Tensor)vars[4];
            bool reduced = (bool)vars[5];
            using var scope = NewDisposeScope();
            long b = input.shape[0], t = input.shape[1], i = input.shape[2], h = hiddenWeight.shape[1];

            Tensor inputs, projected;
            var productWeight = reduced ? inputWeight.to(ScalarType.BFloat16) : inputWeight;
            if (reduced)
            {
                inputs = ReducedRows(t * b, i, input.device);
                inputs.narrow(0, 0, t * b).view(t, b, i).copy_(input.transpose(0, 1));
                projected = inputs.mm(productWeight.t()).narrow(0, 0, t * b).to(ScalarType.Float32).add_(inputBias).view(t, b, 3 * h);
            }
            else
            {
                inputs = Fresh(input.transpose(0, 1));
                projected = inputBias.addmm(inputs.view(t * b, i), inputWeight.t()).view(t, b, 3 * h);
            }
            var hiddenWeightT = hiddenWeight.t().contiguous();

            var hidden = Fresh(hiddenBias.expand(t, b, 3 * h));
            hidden.narrow(2, 0, 2 * h).add_(projected.narrow(2, 0, 2 * h), TorchScalars.One);
            var candidates = Fresh(projected.narrow(2, 2 * h, h));
            var states = zeros(new[] { t + 1, b, h }, hiddenWeight.dtype, input.device);
            var hiddenSteps = hidden.unbind(0);
            var stateSteps = states.unbind(0);
            var gateValues = CpuTensorMemory.Floats(hidden);
            var candidateValues = CpuTensorMemory.Floats(candidates);
            var stateValues = CpuTensorMemory.Floats(states);
            int gateStep = checked((int)(b * 3 * h)), stateStep = checked((int)(b * h));
            for (int s = 0; s < t; s++)
            {
                hiddenSteps[s].addmm_(stateSteps[s], hiddenWeightT);
                StepForward(gateValues.Slice(s * gateStep, gateStep), candidateValues.Slice(s * stateStep, stateStep),
                    stateValues.Slice(s * stateStep, stateStep), stateValues.Slice((s + 1) * stateStep, stateStep), (int)h);
            }

            var output = Fresh(states.narrow(0, 1, t).transpose(0, 1));
            ctx.save_for_backward([
                inputs.MoveToOuterDisposeScope(), reduced ? productWeight.MoveToOuterDisposeScope() : inputWeight, hiddenWeight,
                hidden.MoveToOuterDisposeScope(), candidates.MoveToOuterDisposeScope(), states.MoveToOuterDisposeScope(),
            ]);
            return output.MoveToOuterDisposeScope();
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor grad_output)
        {
            using var scope = NewDisposeScope();
            var saved = ctx.get_saved_variables();
            var (inputs, inputWeight, hiddenWeight) = (saved[0], saved[1], saved[2]);
            var (hidden, candidates, states) = (saved[3], saved[4], saved[5]);
            long t = hidden.shape[0], b = hidden.shape[1], h = candidates.shape[2], i = inputWeight.shape[1];
            var previous = states.narrow(0, 0, t);

            var stateGradient = Fresh(grad_output.transpose(0, 1));
            var factors = empty(new[] { t, b, 3, h }, hidden.dtype, hidden.device);
            var newFactor = empty(new[] { t, b, h }, hidden.dtype, hidden.device);
            var gateValues = CpuTensorMemory.Floats(hidden);
            var factorValues = CpuTensorMemory.Floats(factors);
            var gradientValues = CpuTensorMemory.Floats(stateGradient);
            int gateStep = checked((int)(b * 3 * h)), stateStep = checked((int)(b * h));
            Factors(gateValues, CpuTensorMemory.Floats(candidates), CpuTensorMemory.Floats(states)[..((int)t * stateStep)],
                factorValues, CpuTensorMemory.Floats(newFactor), (int)h);
            var carried = empty(new[] { b, h }, hidden.dtype, hidden.device);
            var carriedValues = CpuTensorMemory.Floats(carried);
            var gateGradientSteps = factors.view(t, b, 3 * h).unbind(0);
            for (int s = (int)t - 1; s >= 0; s--)
            {
                StepBackward(gradientValues.Slice(s * stateStep, stateStep), factorValues.Slice(s * gateStep, gateStep),
                    gateValues.Slice(s * gateStep, gateStep), carriedValues, first: s == t - 1, (int)h);
                if (s > 0)
                    carried.addmm_(gateGradientSteps[s], hiddenWeight);
            }

            var hiddenFlat = factors.view(t * b, 3 * h);
            var resetUpdateFlat = hiddenFlat.narrow(1, 0, 2 * h);
            var newFlat = stateGradient.mul_(newFactor).view(t * b, h);
            var hiddenBiasGradient = hiddenFlat.sum(0L);
            var inputBiasGradient = cat([hiddenBiasGradient.narrow(0, 0, 2 * h), newFlat.sum(0L)], 0);
            Tensor gradInput, inputWeightGradient, hiddenWeightGradient;
            if (inputs.dtype == ScalarType.BFloat16)
            {
                var hiddenReduced = ReducedCopy(hiddenFlat);
                var previousReduced = ReducedCopy(previous.reshape(t * b, h));
                var inputGateReduced = ReducedRows(t * b, 3 * h, inputs.device);
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
            return [gradInput.MoveToOuterDisposeScope(), inputWeightGradient.MoveToOuterDisposeScope(),
                hiddenWeightGradient.MoveToOuterDisposeScope(), inputBiasGradient.MoveToOuterDisposeScope(),
                hiddenBiasGradient.MoveToOuterDisposeScope(), null!];
        }
    }

    /// <summary>Session 9's <c>GruStepKernels.Forward</c>: one forward step for every user after the step's addmm.</summary>
    private static void StepForward(Span<float> gates, Span<float> candidates, ReadOnlySpan<float> previous, Span<float> next, int hidden)
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

    /// <summary>Session 9's <c>GruStepKernels.Factors</c>: the backward factors of every position and user.</summary>
    private static void Factors(ReadOnlySpan<float> gates, ReadOnlySpan<float> candidates, ReadOnlySpan<float> previous,
        Span<float> factors, Span<float> newFactors, int hidden)
    {
        int rows = candidates.Length / hidden;
        Span<float> keep = new float[hidden];
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

            TensorPrimitives.Subtract(1f, update, keep);
            TensorPrimitives.Multiply(candidate, candidate, newFactor);
            TensorPrimitives.Subtract(1f, newFactor, newFactor);
            TensorPrimitives.Multiply(newFactor, keep, newFactor);
            TensorPrimitives.Subtract(previous.Slice(row * hidden, hidden), candidate, updateFactor);
            TensorPrimitives.Multiply(updateFactor, update, updateFactor);
            TensorPrimitives.Multiply(updateFactor, keep, updateFactor);
            TensorPrimitives.Subtract(1f, reset, resetFactor);
            TensorPrimitives.Multiply(resetFactor, reset, resetFactor);
            TensorPrimitives.Multiply(resetFactor, hiddenNew, resetFactor);
            TensorPrimitives.Multiply(resetFactor, newFactor, resetFactor);
            TensorPrimitives.Multiply(newFactor, reset, newGateFactor);
        }
    }

    /// <summary>Session 9's <c>GruStepKernels.Backward</c>: one backward step for every user before the step's addmm.</summary>
    private static void StepBackward(Span<float> stateGradient, Span<float> factors, ReadOnlySpan<float> gates, Span<float> carried, bool first, int hidden)
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
