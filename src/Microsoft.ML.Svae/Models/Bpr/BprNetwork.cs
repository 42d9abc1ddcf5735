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
        userFactors.weight!.copy_(randn(userFactors.weight!.shape, generator: generator).Times(InitialStandardDeviation));
        itemFactors.weight!.copy_(randn(itemFactors.weight!.shape, generator: generator).Times(InitialStandardDeviation));
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

    /// <inheritdoc/>
    public Tensor Score(Tensor users, Tensor items, Tensor lengths)
    {
        using var scope = NewDisposeScope();
        var logits = UserVectors.Lookup(userFactors.weight!, users).matmul(itemFactors.weight!.t());
        if (itemBias is not null)
            logits = logits.Plus(itemBias.weight!.view(1, ItemCount));
        return logits.MoveToOuterDisposeScope();
    }
}
