using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Svae;

/// <summary>
/// TorchSharp's <see cref="Adam"/> and <see cref="AdamW"/> with the same update, operation for operation, but with
/// <see cref="Scalar"/>s whose lifetime is explicit (see <see cref="TorchScalars"/>).
/// </summary>
/// <remarks>
/// TorchSharp 0.107.0's <c>step</c> passes six or seven doubles per parameter (β₁, 1 − β₁, β₂, 1 − β₂, √(1 − β₂ᵗ), ε,
/// the step size, the weight decay) to tensor methods that convert them to <see cref="Scalar"/>s nothing keeps alive
/// during the native call; a collection on another thread can free them under libtorch (dotnet/TorchSharp pull
/// requests #1434 and #1496). The overrides below are copies of TorchSharp 0.107.0's <c>Adam.step</c> and
/// <c>AdamW.step</c> (same operations in the same order on the same values, so the same bits), with each of those
/// values in a <c>using</c> Scalar. The state (<c>step</c>, <c>exp_avg</c>, <c>exp_avg_sq</c>) is TorchSharp's own, so
/// <c>save_state_dict</c>/<c>load_state_dict</c> (checkpoints) are unchanged. Exit condition: as for
/// <see cref="TorchScalars"/>; then go back to <c>optim.Adam</c>/<c>optim.AdamW</c>.
/// </remarks>
internal static class ExplicitScalarAdam
{
    /// <summary>Adam (coupled L2 weight decay) or AdamW (decoupled), with TorchSharp's defaults for β₁, β₂ and ε.</summary>
    public static optim.Optimizer Create(IEnumerable<Parameter> parameters, double learningRate, double weightDecay, bool decoupled)
        => decoupled ? new DecoupledWeightDecay(parameters, learningRate, weightDecay) : new CoupledWeightDecay(parameters, learningRate, weightDecay);

    /// <summary>Adam: the weight decay is added to the gradient (L2).</summary>
    private sealed class CoupledWeightDecay(IEnumerable<Parameter> parameters, double lr, double weightDecay)
        : Adam(parameters, lr, weight_decay: weightDecay)
    {
        /// <inheritdoc/>
        public override Tensor step(Func<Tensor>? closure = null) => _step<ParamGroup>(group =>
        {
            var options = (Options)group.Options;
            double beta1 = options.beta1!.Value, beta2 = options.beta2!.Value, weightDecay = options.weight_decay!.Value;
            double eps = options.eps!.Value, lr = options.LearningRate!.Value;
            bool amsgrad = options.amsgrad!.Value, maximize = options.maximize!.Value;
            using var beta1Scalar = beta1.ToScalar();
            using var beta2Scalar = beta2.ToScalar();
            using var oneMinusBeta1 = (1 - beta1).ToScalar();
            using var oneMinusBeta2 = (1 - beta2).ToScalar();
            using var epsScalar = eps.ToScalar();
            using var weightDecayScalar = weightDecay.ToScalar();
            foreach (var param in group.Parameters)
            {
                var state = (State)_state[param.Handle];
                var grad = param.grad;
                if (grad is null)
                    continue;
                if (maximize)
                    grad = -grad;
                state.step += 1;
                var biasCorrection1 = 1 - Math.Pow(beta1, state.step);
                var biasCorrection2 = 1 - Math.Pow(beta2, state.step);
                if (weightDecay != 0)
                    grad = grad.add(param, weightDecayScalar);
                state.exp_avg.mul_(beta1Scalar).add_(grad, oneMinusBeta1);
                state.exp_avg_sq.mul_(beta2Scalar).addcmul_(grad, grad.conj(), oneMinusBeta2);
                using var correction2 = Math.Sqrt(biasCorrection2).ToScalar();
                Tensor denominator;
                if (amsgrad)
                {
                    var previous = state.max_exp_avg_sq;
                    state.max_exp_avg_sq = maximum(previous, state.exp_avg_sq).DetachFromDisposeScope();
                    previous.Dispose();
                    denominator = state.max_exp_avg_sq.sqrt().div(correction2).add_(epsScalar, TorchScalars.One);
                }
                else
                {
                    denominator = state.exp_avg_sq.sqrt().div(correction2).add_(epsScalar, TorchScalars.One);
                }
                using var stepSize = (-(lr / biasCorrection1)).ToScalar();
                param.addcdiv_(state.exp_avg, denominator, stepSize);
            }
        }, closure);
    }

    /// <summary>AdamW: the parameters are shrunk by <c>1 − lr·weightDecay</c> before the update (decoupled).</summary>
    private sealed class DecoupledWeightDecay(IEnumerable<Parameter> parameters, double lr, double weightDecay)
        : AdamW(parameters, lr, weight_decay: weightDecay)
    {
        /// <inheritdoc/>
        public override Tensor step(Func<Tensor>? closure = null) => _step<ParamGroup>(group =>
        {
            var options = (Options)group.Options;
            double beta1 = options.beta1!.Value, beta2 = options.beta2!.Value, weightDecay = options.weight_decay!.Value;
            double eps = options.eps!.Value, lr = options.LearningRate!.Value;
            bool amsgrad = options.amsgrad!.Value, maximize = options.maximize!.Value;
            using var beta1Scalar = beta1.ToScalar();
            using var beta2Scalar = beta2.ToScalar();
            using var oneMinusBeta1 = (1 - beta1).ToScalar();
            using var oneMinusBeta2 = (1 - beta2).ToScalar();
            using var epsScalar = eps.ToScalar();
            using var shrink = (1 - lr * weightDecay).ToScalar();
            foreach (var param in group.Parameters)
            {
                var state = (State)_state[param.Handle];
                var grad = param.grad;
                if (grad is null)
                    continue;
                if (maximize)
                    grad = -grad;
                state.step += 1;
                param.mul_(shrink);
                var biasCorrection1 = 1 - Math.Pow(beta1, state.step);
                var biasCorrection2 = 1 - Math.Pow(beta2, state.step);
                state.exp_avg.mul_(beta1Scalar).add_(grad, oneMinusBeta1);
                state.exp_avg_sq.mul_(beta2Scalar).addcmul_(grad, grad, oneMinusBeta2);
                using var correction2 = Math.Sqrt(biasCorrection2).ToScalar();
                Tensor denominator;
                if (amsgrad)
                {
                    var previous = state.max_exp_avg_sq;
                    state.max_exp_avg_sq = maximum(previous, state.exp_avg_sq).DetachFromDisposeScope();
                    previous.Dispose();
                    denominator = state.max_exp_avg_sq.sqrt().div(correction2).add_(epsScalar, TorchScalars.One);
                }
                else
                {
                    denominator = state.exp_avg_sq.sqrt().div(correction2).add_(epsScalar, TorchScalars.One);
                }
                using var stepSize = (-(lr / biasCorrection1)).ToScalar();
                param.addcdiv_(state.exp_avg, denominator, stepSize);
            }
        }, closure);
    }
}
