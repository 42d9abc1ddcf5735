using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Svae;

/// <summary>Top-k recommendation lists of a <see cref="ISequenceModel"/> for many users, computed in TorchSharp.</summary>
internal static class SequenceScoring
{
    /// <summary>Padded positions per scoring batch (no <c>[positions × N]</c> tensor exists when scoring).</summary>
    public const long PositionsPerBatch = 1 << 17;

    /// <summary>
    /// Each user's top <paramref name="k"/> unseen items from the whole of <paramref name="histories"/>: a
    /// users × <paramref name="k"/> row-major array of 0-based item indices, best first, −1 where fewer than
    /// <paramref name="k"/> items are unseen. Seen items are masked to −∞ before <c>topk</c>; the indices are
    /// copied to managed memory once, at the end. Sets the module to eval mode.
    /// </summary>
    public static int[] TopItems(ISequenceModel model, UserSequences histories, int k, Device device)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        int users = histories.Count;
        int itemCount = histories.ItemCount;
        int take = Math.Min(k, itemCount);
        if (users == 0)
            return [];

        // [B, N] scores per batch: keep them near 64 MB.
        int usersPerBatch = (int)Math.Clamp((1L << 24) / itemCount, 1, 256);
        var batcher = new SequenceBatcher(histories, usersPerBatch, PositionsPerBatch);

        model.Module.eval();
        using var noGrad = no_grad();
        using var result = full(users, k, TorchScalars.MinusOne, ScalarType.Int64, device);
        using (var columns = result.narrow(1, 0, take))
        {
            foreach (var users_ in batcher.Plan(random: null))
            {
                using var noGc = NativeCallGuard.Enter();
                using var scope = NewDisposeScope();
                var batch = batcher.Pack(users_, device);
                var scores = MaskSeen(model.ScoreUsers(batch), batch);
                var (values, indices) = scores.topk(take, dim: 1);
                var top = where(values.isneginf(), tensor(-1L, device: device), indices);
                var rows = tensor(users_.Select(u => (long)u).ToArray(), ScalarType.Int64, device);
                columns.index_copy_(0, rows, top);
            }
        }

        using var cpu = result.cpu();
        var topItems = new int[(long)users * k];
        var data = cpu.data<long>();
        for (int i = 0; i < topItems.Length; i++)
            topItems[i] = (int)data[i];
        return topItems;
    }

    /// <summary>
    /// <paramref name="scores"/> <c>[B, N]</c> with every item of each row's history set to −∞ (a copy). Padding
    /// positions point to an extra column that is dropped, so they never mask item 0.
    /// </summary>
    public static Tensor MaskSeen(Tensor scores, SequenceBatch batch)
    {
        long itemCount = scores.shape[1];
        var index = where(batch.Mask, batch.Items, tensor(itemCount, device: batch.Device));
        var widened = cat(new[] { scores, zeros(scores.shape[0], 1, scores.dtype, scores.device) }, 1);
        widened.scatter_(1, index, full(index.shape, TorchScalars.NegativeInfinity, scores.dtype, scores.device));
        return widened.narrow(1, 0, itemCount);
    }
}
