using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Microsoft.ML.Svae;

/// <summary>
/// TorchSharp's <see cref="Adam"/> and <see cref="AdamW"/> with the same update, but with <see cref="Scalar"/>s whose
/// lifetime is explicit (see <see cref="TorchScalars"/>), and float32 CPU parameters updated in one fused managed pass
/// (<see cref="FusedAdamStep"/>).
/// </summary>
/// <remarks>
/// <para>
/// Scalars: TorchSharp 0.107.0's <c>step</c> passes six or seven doubles per parameter (β₁, 1 − β₁, β₂, 1 − β₂,
/// √(1 − β₂ᵗ), ε, the step size, the weight decay) to tensor methods that convert them to <see cref="Scalar"/>s nothing
/// keeps alive during the native call; a collection on another thread can free them under libtorch (dotnet/TorchSharp
/// pull requests #1434 and #1496). The op-by-op path below is a copy of TorchSharp 0.107.0's <c>Adam.step</c> and
/// <c>AdamW.step</c> (same operations in the same order on the same values, so the same bits), with each of those
/// values in a <c>using</c> Scalar.
/// </para>
/// <para>
/// Fused path (issue 16): libtorch's step is about eight elementwise operations per parameter, each a full pass over
/// memory, about 9.5 of an 88 CPU ms ML-1M-shaped SVAE step. A float32, dense, contiguous CPU parameter with such a
/// gradient (and moments) is instead updated by <see cref="FusedAdamStep"/>: the same operations in one pass, each vector
/// of elements loaded once and kept in registers, reading and writing the same state tensors. Its results equal the op-by-op path to float
/// rounding, not bit for bit: libtorch's <c>sqrt</c> is off by one ulp on about 0.6% of elements, ours is the IEEE
/// square root; every other operation reproduces libtorch's rounding (see <see cref="FusedAdamStep"/>). Everything
/// else (CUDA, other dtypes, non-contiguous or sparse tensors, amsgrad, maximize) keeps the op-by-op path; parameters
/// without a gradient are skipped as TorchSharp skips them.
/// </para>
/// <para>
/// The state (<c>step</c>, <c>exp_avg</c>, <c>exp_avg_sq</c>) is TorchSharp's own on both paths, so
/// <c>save_state_dict</c>/<c>load_state_dict</c> (checkpoints) are unchanged. TorchSharp writes the optimiser's type
/// name into the state and refuses a state of another name, so renaming <see cref="CoupledWeightDecay"/> or
/// <see cref="DecoupledWeightDecay"/> would make existing checkpoints unreadable (and a state of TorchSharp's own
/// <c>optim.Adam</c>/<c>optim.AdamW</c> does not load here; <c>FusedAdamTests</c>). Exit condition: as for
/// <see cref="TorchScalars"/> for the Scalars; the fused path stays as long as it measures faster than libtorch's
/// (a fused or <c>foreach</c> CPU Adam in TorchSharp would replace it).
/// </para>
/// </remarks>
internal static class ExplicitScalarAdam
{
    /// <summary>
    /// Adam (coupled L2 weight decay) or AdamW (decoupled), with TorchSharp's defaults for β₁, β₂ and ε. The result
    /// implements <see cref="IFusedAdam"/>; <paramref name="fused"/> false keeps every parameter on the op-by-op path.
    /// </summary>
    public static optim.Optimizer Create(IEnumerable<Parameter> parameters, double learningRate, double weightDecay, bool decoupled, bool fused = true)
        => decoupled
            ? new DecoupledWeightDecay(parameters, learningRate, weightDecay, fused)
            : new CoupledWeightDecay(parameters, learningRate, weightDecay, fused);

    /// <summary>The fused path's switches and counters (tests and probes); both optimisers keep them in a <see cref="FusedPath"/>.</summary>
    internal interface IFusedAdam
    {
        /// <summary>The optimiser's switches, counters and fused branch.</summary>
        FusedPath Path { get; }

        /// <summary>Whether parameters the fused pass supports take it (true by default).</summary>
        bool Fused { get => Path.Fused; set => Path.Fused = value; }

        /// <summary>Threads of the fused pass; <see langword="null"/>: libtorch's intra-op thread count at each step.</summary>
        int? Threads { get => Path.Threads; set => Path.Threads = value; }

        /// <summary>Parameter updates made by the fused pass so far.</summary>
        long FusedUpdates => Path.FusedUpdates;

        /// <summary>Parameter updates made by libtorch's operations so far.</summary>
        long OpByOpUpdates => Path.OpByOpUpdates;
    }

    /// <summary>
    /// What <see cref="CoupledWeightDecay"/> and <see cref="DecoupledWeightDecay"/> share: the fused path's switches
    /// and counters, and the choice, per parameter, between the fused pass and the op-by-op operations.
    /// </summary>
    internal sealed class FusedPath(bool decoupled, bool fused)
    {
        /// <summary>Whether parameters the fused pass supports take it.</summary>
        public bool Fused { get; set; } = fused;

        /// <summary>Threads of the fused pass; <see langword="null"/>: libtorch's intra-op thread count at each step.</summary>
        public int? Threads { get; set; }

        /// <summary>Parameter updates made by the fused pass so far.</summary>
        public long FusedUpdates { get; private set; }

        /// <summary>Parameter updates made by libtorch's operations so far.</summary>
        public long OpByOpUpdates { get; private set; }

        /// <summary>
        /// One parameter group's step with these options: amsgrad, maximize or <see cref="Fused"/> off keep every
        /// parameter of the group on the op-by-op path.
        /// </summary>
        public GroupStep Begin(double lr, double beta1, double beta2, double eps, double weightDecay, bool amsgrad, bool maximize)
            => new(this, Fused && !amsgrad && !maximize ? Threads ?? torch.get_num_threads() : 0, lr, beta1, beta2, eps, weightDecay);

        /// <summary>A group's options for the fused pass; <c>threads</c> 0: the group keeps the op-by-op path.</summary>
        internal readonly struct GroupStep(FusedPath path, int threads, double lr, double beta1, double beta2, double eps, double weightDecay)
        {
            /// <summary>
            /// Updates <paramref name="param"/> with the fused pass for its <paramref name="step"/> (from 1, already
            /// counted in the state) and returns true, or counts an op-by-op update and returns false when the group or
            /// the tensors keep the op-by-op path (the caller then runs libtorch's operations).
            /// </summary>
            public bool TryUpdate(Tensor param, Tensor grad, Tensor expAvg, Tensor expAvgSq, long step)
            {
                if (threads > 0 && FusedAdamStep.Supports(param, grad, expAvg, expAvgSq))
                {
                    var coefficients = FusedAdamStep.Coefficients.For(path._decoupled, lr, beta1, beta2, eps, weightDecay, step);
                    FusedAdamStep.Step(param, grad, expAvg, expAvgSq, coefficients, threads);
                    path.FusedUpdates++;
                    return true;
                }
                path.OpByOpUpdates++;
                return false;
            }
        }

        private readonly bool _decoupled = decoupled;
    }

    /// <summary>Adam: the weight decay is added to the gradient (L2).</summary>
    private sealed class CoupledWeightDecay(IEnumerable<Parameter> parameters, double lr, double weightDecay, bool fused)
        : Adam(parameters, lr, weight_decay: weightDecay), IFusedAdam
    {
        /// <inheritdoc/>
        public FusedPath Path { get; } = new(decoupled: false, fused);

        /// <inheritdoc/>
        public override Tensor step(Func<Tensor>? closure = null) => _step<ParamGroup>(group =>
        {
            var options = (Options)group.Options;
            double beta1 = options.beta1!.Value, beta2 = options.beta2!.Value, weightDecay = options.weight_decay!.Value;
            double eps = options.eps!.Value, lr = options.LearningRate!.Value;
            bool amsgrad = options.amsgrad!.Value, maximize = options.maximize!.Value;
            var fusedStep = Path.Begin(lr, beta1, beta2, eps, weightDecay, amsgrad, maximize);
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
                state.step += 1;
                if (fusedStep.TryUpdate(param, grad, state.exp_avg, state.exp_avg_sq, state.step))
                    continue;
                if (maximize)
                    grad = -grad;
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
    private sealed class DecoupledWeightDecay(IEnumerable<Parameter> parameters, double lr, double weightDecay, bool fused)
        : AdamW(parameters, lr, weight_decay: weightDecay), IFusedAdam
    {
        /// <inheritdoc/>
        public FusedPath Path { get; } = new(decoupled: true, fused);

        /// <inheritdoc/>
        public override Tensor step(Func<Tensor>? closure = null) => _step<ParamGroup>(group =>
        {
            var options = (Options)group.Options;
            double beta1 = options.beta1!.Value, beta2 = options.beta2!.Value, weightDecay = options.weight_decay!.Value;
            double eps = options.eps!.Value, lr = options.LearningRate!.Value;
            bool amsgrad = options.amsgrad!.Value, maximize = options.maximize!.Value;
            var fusedStep = Path.Begin(lr, beta1, beta2, eps, weightDecay, amsgrad, maximize);
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
                state.step += 1;
                if (fusedStep.TryUpdate(param, grad, state.exp_avg, state.exp_avg_sq, state.step))
                    continue;
                if (maximize)
                    grad = -grad;
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
