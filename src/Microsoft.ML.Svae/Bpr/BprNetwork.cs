using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Microsoft.ML.Svae;

/// <summary>
/// BPR's matrix factorisation (Rendle et al., UAI 2009): <c>x_ui = ⟨W_u, H_i⟩ + b_i</c>, with an optional item
/// bias b. User and item factors start from N(0, 0.1²) drawn from a generator seeded by the constructor's seed;
/// biases start at zero.
/// </summary>
internal sealed class BprNetwork : Module, IUserScoringNetwork
{
    // Field names are the state-dict prefixes: keep them.
#pragma warning disable IDE1006 // Naming: PyTorch-style module names
    internal readonly Embedding userFactors;
    internal readonly Embedding itemFactors;
    internal readonly Embedding? itemBias;
#pragma warning restore IDE1006

    /// <summary>The standard deviation of the initial factors.</summary>
    public const double InitialStandardDeviation = 0.1;

    /// <summary>Creates the network on the CPU, initialized from <paramref name="seed"/>.</summary>
    public BprNetwork(int userCount, int itemCount, int factors, bool useItemBias, long seed)
        : base(nameof(BprNetwork))
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(userCount, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(itemCount, 1);
        UserCount = userCount;
        ItemCount = itemCount;
        Factors = factors;
        userFactors = Embedding(userCount, factors);
        itemFactors = Embedding(itemCount, factors);
        itemBias = useItemBias ? Embedding(itemCount, 1) : null;
        RegisterComponents();
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        using var generator = new Generator(unchecked((ulong)seed), CPU);
        userFactors.weight!.copy_(randn(userFactors.weight!.shape, generator: generator) * InitialStandardDeviation);
        itemFactors.weight!.copy_(randn(itemFactors.weight!.shape, generator: generator) * InitialStandardDeviation);
        itemBias?.weight!.zero_();
    }

    /// <summary>U, the number of users.</summary>
    public int UserCount { get; }

    /// <summary>N, the number of items.</summary>
    public int ItemCount { get; }

    /// <summary>The number of latent factors.</summary>
    public int Factors { get; }

    /// <inheritdoc/>
    public Tensor UserTable => userFactors.weight!;

    /// <summary>
    /// The sum over pairs of BPR-Opt's per-pair loss, <c>−log σ(x_ui − x_uj) + λ(‖W_u‖² + ‖H_i‖² + ‖H_j‖² + b_i² + b_j²)</c>,
    /// for users, positive and negative items <c>[P]</c>.
    /// </summary>
    public Tensor PairLoss(Tensor users, Tensor positives, Tensor negatives, double regularization)
    {
        using var scope = NewDisposeScope();
        var u = userFactors.call(users);
        var i = itemFactors.call(positives);
        var j = itemFactors.call(negatives);
        var difference = (u * (i - j)).sum(1);
        var penalty = u.square().sum(1) + i.square().sum(1) + j.square().sum(1);
        if (itemBias is not null)
        {
            var bi = itemBias.call(positives).squeeze(1);
            var bj = itemBias.call(negatives).squeeze(1);
            difference = difference + bi - bj;
            penalty = penalty + bi.square() + bj.square();
        }
        return (functional.softplus(-difference).sum() + regularization * penalty.sum()).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public Tensor Score(Tensor users, Tensor items, Tensor lengths)
    {
        using var scope = NewDisposeScope();
        var logits = UserVectors.Lookup(userFactors.weight!, users).matmul(itemFactors.weight!.t());
        if (itemBias is not null)
            logits = logits + itemBias.weight!.view(1, ItemCount);
        return logits.MoveToOuterDisposeScope();
    }
}

/// <summary>BPR as the shared loop sees it: one loss unit per (user, item) event, each with one negative item.</summary>
internal sealed class BprModel : UserSequenceModel<BprNetwork>
{
    private readonly double _regularization;

    public BprModel(BprNetwork network, UserKeyedData data, double regularization, int seed)
        : base(network, data, seed)
    {
        _regularization = regularization;
    }

    /// <inheritdoc/>
    public override long LossUnits(int length) => length;

    /// <inheritdoc/>
    public override Tensor Loss(SequenceBatch batch, double klWeight)
    {
        int pairs = batch.Lengths.Sum();
        var users = new long[pairs];
        var positives = new long[pairs];
        var negatives = new long[pairs];
        int p = 0;
        for (int b = 0; b < batch.Count; b++)
        {
            int row = batch.Users[b];
            int user = User(row);
            foreach (int item in Events(batch, b))
            {
                users[p] = user;
                positives[p] = item;
                negatives[p] = Negatives.Sample(row);
                p++;
            }
        }
        var device = batch.Device;
        return Network.PairLoss(Int64(users, device), Int64(positives, device), Int64(negatives, device), _regularization);
    }
}

/// <summary>User vectors of possibly unknown users.</summary>
internal static class UserVectors
{
    /// <summary>
    /// The rows <c>[B, d]</c> of <paramref name="table"/> <c>[U, d]</c> at 0-based <paramref name="users"/>
    /// <c>[B]</c>, zero where a user is −1 (unknown).
    /// </summary>
    public static Tensor Lookup(Tensor table, Tensor users)
    {
        using var scope = NewDisposeScope();
        var known = users.ge(0);
        var rows = table.index_select(0, users.clamp_min(0));
        return (rows * known.unsqueeze(1).to(rows.dtype)).MoveToOuterDisposeScope();
    }
}
