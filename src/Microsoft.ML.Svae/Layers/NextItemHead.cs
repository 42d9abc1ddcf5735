using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Svae;

/// <summary>
/// The pieces GRU4Rec and SASRec share: a causal network's state at every position of a right-padded batch
/// predicts the next item. Position s of a user of length L is a loss unit while s &lt; L − 1 (its target is item
/// s + 1); the state after the last item has no target and scores the user.
/// </summary>
internal static class NextItemHead
{
    /// <summary>
    /// Moves a next-item network to <paramref name="device"/> and creates what its model adapter keeps beside it: the
    /// seeded generator of its dropout masks and the training popularity <c>[1, N]</c> that scores empty histories,
    /// both on <paramref name="device"/>. Disposes the network when this fails.
    /// </summary>
    public static (Generator Noise, Tensor Popularity) Place(nn.Module network, float[] itemCounts, int seed, Device device)
    {
        try
        {
            network.to(device);
            var noise = NoiseSeeds.NoiseGenerator(seed, device);
            var popularity = tensor(itemCounts, new long[] { 1, itemCounts.Length }, ScalarType.Float32);
            return (noise, device.type == DeviceType.CPU ? popularity : popularity.to(device, disposeAfter: true));
        }
        catch
        {
            network.Dispose();
            throw;
        }
    }

    /// <summary>The loss units of a user with <paramref name="length"/> events: one per position with a next item.</summary>
    public static long Units(int length) => Math.Max(0, length - 1);

    /// <summary>
    /// The flat indices <c>[P]</c> into the batch's <c>B·T</c> positions of its units (s &lt; length − 1), and their
    /// target items <c>[P]</c> (item s + 1).
    /// </summary>
    public static (Tensor Units, Tensor Targets) Units(SequenceBatch batch)
    {
        using var scope = NewDisposeScope();
        long b = batch.Count, t = batch.MaxLength;
        var positions = TorchScalars.Range(t, batch.Device);
        var unitMask = positions.unsqueeze(0) < batch.LengthTensor.sub(TorchScalars.One).unsqueeze(1);             // [B, T]
        var units = unitMask.reshape(-1).nonzero().squeeze(1);                                      // [P]
        var next = cat(new[] { batch.Items.narrow(1, 1, t - 1), zeros(b, 1, ScalarType.Int64, batch.Device) }, 1); // [B, T]
        var targets = next.reshape(-1).index_select(0, units);
        return (units.MoveToOuterDisposeScope(), targets.MoveToOuterDisposeScope());
    }

    /// <summary>The rows of <c>[B, T, H]</c> <paramref name="states"/> at the flat <paramref name="units"/>: <c>[P, H]</c>.</summary>
    public static Tensor AtUnits(Tensor states, Tensor units)
        => states.reshape(states.shape[0] * states.shape[1], states.shape[2]).index_select(0, units);

    /// <summary>The full-softmax cross-entropy <c>−log softmax(logits)[target]</c> summed over the units.</summary>
    public static Tensor CrossEntropySum(Tensor logits, Tensor targets)
    {
        using var scope = NewDisposeScope();
        return (-logits.log_softmax(1).gather(1, targets.unsqueeze(1)).sum()).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Each row's state after its last valid item: <c>[B, H]</c> from <c>[B, T, H]</c> states and <c>[B]</c> lengths;
    /// rows of length 0 get zeros.
    /// </summary>
    public static Tensor LastState(Tensor states, Tensor lengths)
    {
        using var scope = NewDisposeScope();
        long b = states.shape[0], h = states.shape[2];
        var last = lengths.sub(TorchScalars.One).clamp_min(TorchScalars.Zero).view(b, 1, 1).expand(b, 1, h);
        var state = states.gather(1, last).squeeze(1);
        return where(lengths.gt(TorchScalars.Zero).unsqueeze(1), state, zeros_like(state)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Each row's most recent <paramref name="window"/> items, right-padded: <c>[B, min(T, window)]</c> items and
    /// their <c>[B]</c> lengths. Returns the inputs unchanged when no row is longer than the window.
    /// </summary>
    public static (Tensor Items, Tensor Lengths) MostRecent(Tensor items, Tensor lengths, int window)
    {
        long t = items.shape[1];
        if (t <= window)
            return (items, lengths);
        using var scope = NewDisposeScope();
        using var windowScalar = window.ToScalar();
        using var lastPosition = (t - 1).ToScalar();
        var start = lengths.sub(windowScalar).clamp_min(TorchScalars.Zero).unsqueeze(1);           // [B, 1]
        var positions = start.Plus(TorchScalars.Range(window, items.device).unsqueeze(0));         // [B, W]
        var windowed = items.gather(1, positions.clamp_max(lastPosition));
        var newLengths = lengths.clamp_max(windowScalar);
        var valid = TorchScalars.Range(window, items.device).unsqueeze(0) < newLengths.unsqueeze(1);
        windowed = where(valid, windowed, zeros_like(windowed));
        return (windowed.MoveToOuterDisposeScope(), newLengths.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// Replaces the rows of <paramref name="logits"/> <c>[B, N]</c> whose length is 0 by <paramref name="popularity"/>
    /// <c>[1, N]</c> (a model with no state before the first item ranks an empty history by training popularity,
    /// as its ONNX graph does).
    /// </summary>
    public static Tensor PopularityWhenEmpty(Tensor logits, SequenceBatch batch, Tensor popularity)
        => batch.Lengths.Contains(0) ? where(batch.LengthTensor.gt(TorchScalars.Zero).unsqueeze(1), logits, popularity.expand_as(logits)) : logits;
}
