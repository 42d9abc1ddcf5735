using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Svae;

/// <summary>
/// The next-k multi-set likelihood of eq. 4.9 (section 4.3.3 of Sachdeva et al., WSDM 2019) for models whose state
/// after item s explains the next k items s+1..s+k, in SVAE's 0-based indexing: the states s = 0..L−2 of a user of
/// length L have at least one target and are the loss units; the first item is never a target.
/// </summary>
/// <remarks>
/// Shared by SVAE (<c>Models/Svae/SvaeObjective.cs</c>, which adds eq. 4.10's mixture) and the sequential VAEs of
/// section 4.3.2 (<c>Models/SequentialVae/</c>). The sequential VAEs use the fused multi-set NLL with its hand-written
/// backward pass (<see cref="MultiSetNll"/>) on logits their networks computed; SVAE's multi-set likelihood, and its
/// output layer with it, is <see cref="NextKOutputLayer"/> (on the CPU, the products and one managed pass over the
/// logits), which falls back to <see cref="MultiSetNll"/> off the CPU. The sequential VAEs could take that pass too where
/// their logits come from one output layer; not done (their networks return logits, not the layer's input).
/// </remarks>
internal static class NextKTargets
{
    /// <summary>The loss units of a user with <paramref name="length"/> events: one per state with a next item.</summary>
    public static long Units(int length) => Math.Max(0, length - 1);

    /// <summary>
    /// The batch's units and their targets: <c>Units</c> the flat indices <c>[P]</c> into the <c>B·T</c> positions
    /// (s &lt; length − 1), <c>UnitMask</c> the same positions as <c>bool [B, T]</c>, <c>Targets</c> items s+1..s+k
    /// <c>[P, k]</c> and <c>TargetMask</c> <c>bool [P, k]</c>, true where s + j &lt; length.
    /// </summary>
    public static (Tensor Units, Tensor UnitMask, Tensor Targets, Tensor TargetMask) Of(SequenceBatch batch, int nextK)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(nextK, 1);
        using var scope = NewDisposeScope();
        long b = batch.Count, t = batch.MaxLength;
        var device = batch.Device;
        var lengths = batch.LengthTensor;
        var positions = TorchScalars.Range(t, device);
        var unitMask = positions.unsqueeze(0) < lengths.sub(TorchScalars.One).unsqueeze(1);              // [B, T]
        var units = unitMask.reshape(-1).nonzero().squeeze(1);                                           // [P]
        var padded = cat(new[] { batch.Items, zeros(b, nextK, ScalarType.Int64, device) }, 1);           // [B, T+k]
        var targets = padded.unfold(1, nextK, 1).narrow(1, 1, t);                                        // [B, T, k]
        using var lastOffset = (nextK + 1).ToScalar();
        var offsets = arange(TorchScalars.One, lastOffset, TorchScalars.One, ScalarType.Int64, device);
        var targetMask = positions.view(1, t, 1).Plus(offsets.view(1, 1, nextK)) < lengths.view(b, 1, 1); // [B, T, k]
        var unitTargets = targets.reshape(b * t, nextK).index_select(0, units);
        var unitTargetMask = targetMask.reshape(b * t, nextK).index_select(0, units);
        return (units.MoveToOuterDisposeScope(), unitMask.MoveToOuterDisposeScope(),
            unitTargets.MoveToOuterDisposeScope(), unitTargetMask.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// The negative log-likelihood of eq. 4.9 summed over the units: per unit, minus the mean over its valid targets
    /// of <c>log softmax(logits)[target]</c>, so that a unit near the end of a sequence with fewer than k targets
    /// weighs as much as the others (through <see cref="MultiSetNll"/>).
    /// </summary>
    /// <param name="logits"><c>[P, N]</c> item logits of the units.</param>
    /// <param name="targets"><c>[P, k]</c> target items.</param>
    /// <param name="targetMask"><c>[P, k]</c> valid targets (at least one per unit).</param>
    public static Tensor MultiSetNllSum(Tensor logits, Tensor targets, Tensor targetMask)
    {
        using var scope = NewDisposeScope();
        return MultiSetNll(logits, targets, targetMask.to(logits.dtype)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The multi-set NLL of eq. 4.9 summed over units: <c>−Σ_s (Σ_j w_sj · log_softmax(logits_s)[targets_sj]) / Σ_j w_sj</c>
    /// (a scalar), with the gradient <c>∂/∂logits_s = softmax(logits_s) · Σ_j ŵ_sj − scatter(ŵ_s)</c>, ŵ = w / Σ_j w.
    /// </summary>
    /// <param name="logits"><c>[P, N]</c> item logits of the units.</param>
    /// <param name="targets"><c>[P, k]</c> int64 target items of each unit.</param>
    /// <param name="weights"><c>[P, k]</c> 1 for a valid target, 0 for none; every row has at least one valid target.</param>
    /// <remarks>
    /// The only <c>[P × N]</c> tensor is the log-softmax of the forward pass; the backward pass turns it into the
    /// gradient in place (exp, scale, scatter-add of the targets). Same value as <c>log_softmax</c> then
    /// <c>gather</c>; the gradient agrees to rounding. Because the backward pass overwrites what the forward saved, the
    /// graph supports one backward pass only: a second <c>backward(retain_graph: true)</c> through it would be wrong.
    /// </remarks>
    internal static Tensor MultiSetNll(Tensor logits, Tensor targets, Tensor weights)
        => NextItemsCrossEntropy.apply(logits, targets, weights);

    private sealed class NextItemsCrossEntropy : autograd.SingleTensorFunction<NextItemsCrossEntropy>
    {
        public override string Name => nameof(NextItemsCrossEntropy);

        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            var logits = (Tensor)vars[0];
            var targets = (Tensor)vars[1];
            var weights = (Tensor)vars[2];
            var logProbabilities = logits.log_softmax(1);                                   // [P, N]
            var normalised = weights / weights.sum(1, keepdim: true);                      // ŵ, [P, k]
            ctx.save_for_backward([logProbabilities, targets, normalised]);
            // The same operations, in the same order, as log_softmax → gather → mean over the valid targets.
            return -((logProbabilities.gather(1, targets) * weights).sum(1) / weights.sum(1)).sum();
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor grad_output)
        {
            var saved = ctx.get_saved_variables();
            var (logProbabilities, targets, normalised) = (saved[0], saved[1], saved[2]);
            // softmax · (Σ_j ŵ) − scatter(ŵ), times the incoming scalar gradient, in the forward's buffer.
            var gradient = logProbabilities.exp_();
            gradient.mul_(normalised.sum(1, keepdim: true) * grad_output);
            gradient.scatter_add_(1, targets, normalised * grad_output.neg());
            return [gradient, null!, null!];
        }
    }
}
