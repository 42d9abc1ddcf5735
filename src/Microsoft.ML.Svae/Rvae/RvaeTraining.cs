using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Svae;

/// <summary>What RVAE training hands to the trainer: the network and its learning curve.</summary>
internal sealed class RvaeTrainingResult
{
    public RvaeTrainingResult(RvaeNetwork network, IReadOnlyList<TrainingEpoch> history, int bestEpoch, bool stoppedEarly)
    {
        Network = network;
        History = history;
        BestEpoch = bestEpoch;
        StoppedEarly = stoppedEarly;
    }

    /// <summary>The trained network, on the CPU, in eval mode; owned (and disposed) by the caller.</summary>
    public RvaeNetwork Network { get; }

    /// <summary>One entry per epoch run.</summary>
    public IReadOnlyList<TrainingEpoch> History { get; }

    /// <summary>The epoch (from 1) whose weights <see cref="Network"/> holds: the best validation epoch, else the last.</summary>
    public int BestEpoch { get; }

    /// <summary>Whether early stopping ended training.</summary>
    public bool StoppedEarly { get; }
}

/// <summary>Trains RVAE with the shared loop.</summary>
internal static class RvaeTraining
{
    /// <summary>
    /// Trains an RVAE on <paramref name="train"/>, validating (and early stopping) on the validation users when given.
    /// </summary>
    /// <param name="env">The environment: logging, progress, cancellation and the default GPU settings.</param>
    /// <param name="train">The training users' histories (order is ignored).</param>
    /// <param name="validationFoldIn">Validation users' fold-ins, or <see langword="null"/>.</param>
    /// <param name="validationFoldOut">Validation users' fold-outs, or <see langword="null"/>.</param>
    /// <param name="options">The options (validated here).</param>
    public static RvaeTrainingResult Train(IHostEnvironment env, UserSequences train, UserSequences? validationFoldIn, UserSequences? validationFoldOut, RvaeTrainer.Options options)
    {
        ArgumentNullException.ThrowIfNull(env);
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (train.ItemCount < 2)
            throw new ArgumentOutOfRangeException(nameof(train), train.ItemCount,
                "RVAE ranks a preferred item above a non-preferred one: the vocabulary needs at least two items.");
        var host = env.Register(nameof(RvaeTrainer));
        var device = TrainingDevice.Resolve(env, options);
        var itemCounts = PopularityTrainer.ItemCounts(train);

        var network = new RvaeNetwork(train.ItemCount, options.EmbeddingSize, options.HiddenSize, options.LatentSize, options.Seed);
        try
        {
            network.to(device);
            using var noise = new Generator(SvaeTraining.NoiseSeed(options.Seed), device);
            using var negatives = new Generator(NegativeSeed(options.Seed), device);
            network.NoiseGenerator = noise;
            using var model = new RvaeModel(network, options.NegativesPerPositive, options.NegativeSampling, itemCounts, negatives, device);
            var kl = new KlAnnealingSchedule(options.KlWeightCap, options.KlAnnealingSteps, resetsEachEpoch: false);
            var result = SequenceTrainingLoop.Train(host, model, train, validationFoldIn, validationFoldOut, options, kl, device, "RVAE");
            network.NoiseGenerator = null;
            if (device.type != DeviceType.CPU)
                network.to(CPU);
            network.eval();
            return new RvaeTrainingResult(network, result.History, result.BestEpoch, result.StoppedEarly);
        }
        catch
        {
            network.Dispose();
            throw;
        }
    }

    /// <summary>A seed for the negative samples distinct from the initialization and ε seeds.</summary>
    internal static ulong NegativeSeed(int seed) => unchecked((ulong)(uint)seed * 0xBF58476D1CE4E5B9UL + 7);
}

/// <summary>
/// RVAE as the shared loop sees it. A loss unit is a triple (u, i, j): an event i of the training user's history
/// (preferred) and an item j the user never interacted with (non-preferred), sampled on the device.
/// </summary>
/// <remarks>
/// <para>
/// Per triple: <c>−log σ(f(z_{u,i}) − f(z_{u,j})) + β·(KL(q(z_{u,j})) + KL(q(z_{u,i})) / n)</c> with n negatives per
/// positive, so that each sampled latent's KL is counted once. Eq. 4.4 writes <c>P(i ≺_u j) = σ(f(z_{u,j}) −
/// f(z_{u,i}))</c>, where <c>i ≺_u j</c> means that u prefers j (section 4.2: <c>p_uᵀq_i &lt; p_uᵀq_j</c> whenever
/// <c>i ≺_u j</c>); with i the preferred item, as here and in BPR, that is <c>σ(f(z_{u,i}) − f(z_{u,j}))</c>.
/// </para>
/// <para>
/// The user embedding of the positive's latent is computed from the history WITHOUT item i (leave one out), that of
/// the negatives from the whole history (j is not in it): both then see the history as it is at scoring time, where
/// candidates are unseen items and x_u is the whole history; this is <c>z_{u,i} = μ(x_u | x_{u,i} = 1)</c> of
/// section 4.2, the history and the indicator of item i entering the encoder separately.
/// </para>
/// </remarks>
internal sealed class RvaeModel : ISequenceModel
{
    private readonly RvaeNetwork _network;
    private readonly int _negatives;
    private readonly Tensor? _popularity;
    private readonly Generator _generator;

    /// <summary>Wraps <paramref name="network"/> (not owned).</summary>
    /// <param name="network">The network, on <paramref name="device"/>.</param>
    /// <param name="negatives">Negatives per positive.</param>
    /// <param name="sampling">The distribution of the negatives.</param>
    /// <param name="itemCounts">Training popularity, the weights of <see cref="RvaeNegativeSampling.Popularity"/>.</param>
    /// <param name="generator">The source of the negatives, on <paramref name="device"/> (not owned).</param>
    /// <param name="device">The device.</param>
    public RvaeModel(RvaeNetwork network, int negatives, RvaeNegativeSampling sampling, float[] itemCounts, Generator generator, Device device)
    {
        _network = network;
        _negatives = negatives;
        _generator = generator;
        if (sampling == RvaeNegativeSampling.Popularity)
        {
            var popularity = tensor(itemCounts, new long[] { 1, itemCounts.Length }, ScalarType.Float32);
            _popularity = device.type == DeviceType.CPU ? popularity : popularity.to(device, disposeAfter: true);
        }
    }

    /// <inheritdoc/>
    public nn.Module Module => _network;

    /// <inheritdoc/>
    public long LossUnits(int length) => (long)length * _negatives;

    /// <inheritdoc/>
    public Tensor Loss(SequenceBatch batch, double klWeight)
    {
        using var scope = NewDisposeScope();
        long b = batch.Count, t = batch.MaxLength, k = _negatives;
        var device = batch.Device;
        var x = MultiHotInput.Dense(batch, _network.ItemCount);                                  // [B, N]

        // Positives: every valid event; rows: its user's row in the batch.
        var valid = batch.Mask.reshape(-1).nonzero().squeeze(1);                                 // [P]
        var rows = arange(b, ScalarType.Int64, device).unsqueeze(1).expand(b, t).reshape(-1).index_select(0, valid);
        var positives = batch.Items.reshape(-1).index_select(0, valid);                          // [P]

        var (drawn, rowOk) = SampleNegatives(x, _popularity, t * k, _generator);                  // [B, T·k], [B]
        var negatives = drawn.view(b * t, k).index_select(0, valid);                             // [P, k]
        var pairOk = rowOk.index_select(0, rows);                                                // [P]

        // User embeddings: without item i for the positive's latent, the whole history for the negatives'.
        var (sum, count) = _network.HistorySum(x);
        var rowSum = sum.index_select(0, rows);                                                  // [P, E]
        var rowCount = count.index_select(0, rows);                                              // [P]
        var userPositive = _network.UserFromSum(rowSum - _network.UserColumns(positives), rowCount - 1);
        var userNegative = _network.UserFromSum(rowSum, rowCount);
        long p = positives.shape[0];

        var (meanI, logVarianceI) = _network.Encode(userPositive, positives);                   // [P, K]
        var scoreI = _network.Score(_network.Sample(meanI, logVarianceI));                       // [P]
        var (meanJ, logVarianceJ) = _network.Encode(userNegative.unsqueeze(1).expand(p, k, _network.EmbeddingSize), negatives);
        var scoreJ = _network.Score(_network.Sample(meanJ, logVarianceJ));                       // [P, k]

        var nll = -nn.functional.logsigmoid(scoreI.unsqueeze(1) - scoreJ);                       // [P, k]
        var kl = GaussianLatent.KlDivergence(meanJ, logVarianceJ) + GaussianLatent.KlDivergence(meanI, logVarianceI).unsqueeze(1) / k;
        var perTriple = nll + klWeight * kl;
        return where(pairOk.unsqueeze(1), perTriple, zeros_like(perTriple)).sum().MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Draws <paramref name="count"/> items per row, with replacement, among the items the row's user never
    /// interacted with: uniformly, or proportionally to <paramref name="popularity"/> (<c>[1, N]</c>) when given.
    /// Returns the items <c>[B, count]</c> and <c>[B]</c> whether the row has any candidate (a user who saw every
    /// item has none: that row's draws are meaningless and must be masked).
    /// </summary>
    internal static (Tensor Items, Tensor HasCandidates) SampleNegatives(Tensor multiHot, Tensor? popularity, long count, Generator generator)
    {
        using var scope = NewDisposeScope();
        var weights = 1 - multiHot;
        if (popularity is not null)
            weights = weights * popularity;
        var rowOk = weights.sum(1) > 0;
        weights = where(rowOk.unsqueeze(1), weights, ones_like(weights));
        var drawn = weights.multinomial(count, replacement: true, generator: generator);
        return (drawn.MoveToOuterDisposeScope(), rowOk.MoveToOuterDisposeScope());
    }

    /// <summary>Every item's score f(μ(u, i)) from each user's whole history (an empty history gives <c>p_u = tanh(b_user)</c>), as in the ONNX graph.</summary>
    public Tensor ScoreUsers(SequenceBatch batch)
    {
        using var scope = NewDisposeScope();
        return _network.ScoreAll(MultiHotInput.Dense(batch, _network.ItemCount)).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public void Dispose() => _popularity?.Dispose();
}
