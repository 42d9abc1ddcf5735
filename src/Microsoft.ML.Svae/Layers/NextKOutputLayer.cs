using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Svae;

/// <summary>
/// A network's output layer over all N items together with the next-k multi-set likelihood of eq. 4.9 (Sachdeva et
/// al., WSDM 2019): <c>−Σ_s (Σ_j w_sj · log_softmax(a_s·Wᵀ + b)[targets_sj]) / Σ_j w_sj</c> as one autograd
/// function, so that the matrix products can run in bfloat16 while the softmax, the loss and every gradient stay
/// float32 (issue 16).
/// </summary>
/// <remarks>
/// <para>
/// Forward: the logits <c>a·Wᵀ</c> (<c>[P × D]·[D × N]</c>), plus the float32 bias, then <c>log_softmax</c> in float32:
/// the only <c>[P × N]</c> tensor kept. Backward: that buffer becomes the gradient at the logits <c>G</c> in place, as in
/// <see cref="NextKTargets.MultiSetNll"/>; then <c>∂a = G·W</c>, <c>∂W = Gᵀ·a</c> and <c>∂b = Σ_s G_s</c> (float32).
/// </para>
/// <para>
/// With <see cref="TrainingPrecision.BFloat16"/> the three products take bfloat16 copies of <c>a</c>, <c>W</c> and
/// <c>G</c> (libtorch runs them through oneDNN, on AMX where the CPU has it) and return float32 gradients; their
/// results carry bfloat16's rounding (a relative error of about 2⁻⁸ per product, the products accumulate in float32).
/// Their row count P is rounded up with zero rows (<see cref="BFloat16Rows"/>) so that oneDNN meets few distinct shapes.
/// With <see cref="TrainingPrecision.Float32"/> the products are the ones autograd's <c>Linear</c> runs, so the value
/// equals <c>Linear</c> then <see cref="NextKTargets.MultiSetNll"/> and the gradients agree to rounding.
/// </para>
/// <para>
/// The backward pass overwrites what the forward saved: the graph supports one backward pass only.
/// </para>
/// </remarks>
internal static class NextKOutputLayer
{
    /// <summary>
    /// The multi-set NLL of eq. 4.9 summed over units of the logits <c>hidden·weightᵀ + bias</c>.
    /// </summary>
    /// <param name="hidden"><c>[P, D]</c> float32 activations feeding the output layer.</param>
    /// <param name="weight"><c>[N, D]</c> float32 output weights (a <c>Linear(D, N)</c>'s weight).</param>
    /// <param name="bias"><c>[N]</c> float32 output bias.</param>
    /// <param name="targets"><c>[P, k]</c> int64 target items of each unit.</param>
    /// <param name="weights"><c>[P, k]</c> float32: 1 for a valid target, 0 for none; every row has at least one valid target.</param>
    /// <param name="precision">The number format of the three matrix products.</param>
    public static Tensor MultiSetNll(Tensor hidden, Tensor weight, Tensor bias, Tensor targets, Tensor weights, TrainingPrecision precision)
    {
        if (hidden.dim() != 2 || weight.dim() != 2 || hidden.shape[1] != weight.shape[1] || bias.dim() != 1 || bias.shape[0] != weight.shape[0])
            throw new ArgumentException(
                $"The output layer needs activations [P, D], weights [N, D] and a bias [N]; got [{string.Join(", ", hidden.shape)}], [{string.Join(", ", weight.shape)}] and [{string.Join(", ", bias.shape)}].",
                nameof(hidden));
        return OutputCrossEntropy.apply(hidden, weight, bias, targets, weights, precision == TrainingPrecision.BFloat16);
    }

    private sealed class OutputCrossEntropy : autograd.SingleTensorFunction<OutputCrossEntropy>
    {
        public override string Name => nameof(OutputCrossEntropy);

        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            var hidden = (Tensor)vars[0];
            var weight = (Tensor)vars[1];
            var bias = (Tensor)vars[2];
            var targets = (Tensor)vars[3];
            var weights = (Tensor)vars[4];
            bool reduced = (bool)vars[5];
            using var scope = NewDisposeScope();
            Tensor logProbabilities, left, right;
            if (reduced)
            {
                // bfloat16 copies of a (rows rounded up, see BFloat16Rows) and W serve the forward product and, saved, the
                // backward ones.
                left = BFloat16Rows.Copy(hidden);
                right = weight.to(ScalarType.BFloat16);
                // The product's first P rows to float32, plus the float32 bias in place, then log-softmax in float32. (Adding
                // the bfloat16 product to the bias directly, with type promotion, runs libtorch's slower mixed-type loop.)
                // The bfloat16 product goes as soon as it is cast, and the float32 logits once the log-softmax is taken (training's
                // peak memory is still higher than float32's: docs/BENCHMARKS.md, issue 16, review fixes).
                Tensor logits;
                using (var product = left.mm(right.t()))
                    logits = product.narrow(0, 0, hidden.shape[0]).to(ScalarType.Float32);
                using (logits)
                    logProbabilities = logits.add_(bias).log_softmax(1);
            }
            else
            {
                (left, right) = (hidden, weight);
                // What Linear computes (addmm), then log-softmax.
                logProbabilities = bias.addmm(hidden, weight.t()).log_softmax(1);
            }
            var normalised = weights / weights.sum(1, keepdim: true);                      // ŵ, [P, k]
            var loss = NextKTargets.Loss(logProbabilities, targets, weights);
            ctx.save_for_backward([logProbabilities.MoveToOuterDisposeScope(), targets, normalised.MoveToOuterDisposeScope(),
                reduced ? left.MoveToOuterDisposeScope() : left, reduced ? right.MoveToOuterDisposeScope() : right]);
            return loss.MoveToOuterDisposeScope();
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor grad_output)
        {
            using var scope = NewDisposeScope();
            var saved = ctx.get_saved_variables();
            var (logProbabilities, targets, normalised, left, right) = (saved[0], saved[1], saved[2], saved[3], saved[4]);
            // softmax · (Σ_j ŵ) − scatter(ŵ), times the incoming scalar gradient, in the forward's buffer.
            var gradient = NextKTargets.LogitGradientInPlace(logProbabilities, targets, normalised, grad_output);
            var biasGradient = gradient.sum(0L);
            Tensor hiddenGradient, weightGradient;
            if (left.dtype == ScalarType.BFloat16)
            {
                // G in bfloat16 with as many (zero) rows as the saved a, so that its padded rows add nothing to ∂W.
                var reduced = BFloat16Rows.Copy(gradient);
                hiddenGradient = reduced.mm(right).narrow(0, 0, gradient.shape[0]).to(ScalarType.Float32);
                weightGradient = reduced.t().mm(left).to(ScalarType.Float32);
            }
            else
            {
                hiddenGradient = gradient.mm(right);
                weightGradient = gradient.t().mm(left);
            }
            return [hiddenGradient.MoveToOuterDisposeScope(), weightGradient.MoveToOuterDisposeScope(), biasGradient.MoveToOuterDisposeScope(),
                null!, null!, null!];
        }
    }
}
