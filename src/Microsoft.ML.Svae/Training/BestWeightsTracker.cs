using static TorchSharp.torch;

namespace Microsoft.ML.Svae;

/// <summary>
/// Keeps a copy of the weights of the best validation epoch, decides when early stopping ends training, and
/// restores the best weights at the end. Without validation data every epoch is the best (the last one wins).
/// </summary>
internal sealed class BestWeightsTracker : IDisposable
{
    private readonly bool _validate;
    private readonly int _patience;
    private Dictionary<string, Tensor>? _best;

    /// <summary>Creates a tracker; <paramref name="patience"/> 0 never stops early.</summary>
    public BestWeightsTracker(bool validate, int patience)
    {
        _validate = validate;
        _patience = patience;
    }

    /// <summary>The best epoch so far (from 1), 0 before the first.</summary>
    public int BestEpoch { get; private set; }

    /// <summary>The best validation NDCG so far.</summary>
    public double BestNdcg { get; private set; } = double.NegativeInfinity;

    /// <summary>The best epoch's weights (<see langword="null"/> before a best validation epoch, and without validation).</summary>
    public IReadOnlyDictionary<string, Tensor>? BestWeights => _best;

    /// <summary>Continues from a checkpoint: the best epoch, its NDCG and a copy of its weights.</summary>
    public void Restore(int bestEpoch, double bestNdcg, IReadOnlyDictionary<string, Tensor>? bestWeights)
    {
        BestEpoch = bestEpoch;
        BestNdcg = bestNdcg;
        if (bestWeights is null)
            return;
        using var noGrad = no_grad();
        _best ??= new Dictionary<string, Tensor>();
        foreach (var (name, value) in bestWeights)
        {
            var copy = value.clone();
            if (_best.TryGetValue(name, out var old))
                old.Dispose();
            _best[name] = copy;
        }
    }

    /// <summary>Records an epoch's validation NDCG; snapshots the module's weights and returns true when it is the best so far.</summary>
    public bool Observe(int epoch, double? ndcg, nn.Module module)
    {
        if (!_validate)
        {
            BestEpoch = epoch;
            return true;
        }
        if (ndcg > BestNdcg)
        {
            BestNdcg = ndcg.Value;
            BestEpoch = epoch;
            _best = Snapshot(module, _best);
            return true;
        }
        return false;
    }

    /// <summary>Whether <see cref="_patience"/> epochs have passed without an improvement.</summary>
    public bool ShouldStop(int epoch) => _validate && _patience > 0 && epoch - BestEpoch >= _patience;

    /// <summary>Restores the best weights when a later epoch ran; returns the epoch whose weights the module holds.</summary>
    public int Finish(nn.Module module, int epochsRun, TrainingReporter reporter)
    {
        if (!_validate)
            return BestEpoch;
        if (_best is null)
        {
            // Only when no validation user had a fold-out (NDCG is NaN): keep the last weights.
            BestEpoch = epochsRun;
            reporter.NothingToValidate();
        }
        else if (BestEpoch != epochsRun)
        {
            Restore(module, _best);
            reporter.Restored(BestEpoch, BestNdcg);
        }
        return BestEpoch;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (_best is null)
            return;
        foreach (var tensor in _best.Values)
            tensor.Dispose();
        _best = null;
    }

    /// <summary>Copies every state tensor (parameters and buffers) into <paramref name="into"/>, allocating it the first time.</summary>
    private static Dictionary<string, Tensor> Snapshot(nn.Module module, Dictionary<string, Tensor>? into)
    {
        using var noGrad = no_grad();
        into ??= new Dictionary<string, Tensor>();
        foreach (var (name, value) in module.state_dict())
        {
            if (into.TryGetValue(name, out var copy))
                copy.copy_(value);
            else
                into[name] = value.detach().clone();
        }
        return into;
    }

    /// <summary>Copies the snapshot back into the module's live parameters and buffers.</summary>
    private static void Restore(nn.Module module, Dictionary<string, Tensor> snapshot)
    {
        using var noGrad = no_grad();
        foreach (var (name, value) in module.state_dict())
            value.copy_(snapshot[name]);
    }
}
