using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Microsoft.ML.Svae;

/// <summary>
/// FPMC's factorised personalised Markov chain (Rendle, Freudenthaler and Schmidt-Thieme, WWW 2010) for
/// sequences of single items: the score of item i after item l for user u is
/// <c>x(u, l, i) = ⟨V_U,I[u], V_I,U[i]⟩ + ⟨V_I,L[i], V_L,I[l]⟩</c> (the MF term plus the factorised first-order
/// transition l → i). Every factor starts from N(0, 0.1²), drawn from a generator seeded by the constructor's seed.
/// </summary>
internal sealed class FpmcNetwork : Module, IUserScoringNetwork
{
    // Field names are the state-dict prefixes: keep them.
#pragma warning disable IDE1006 // Naming: PyTorch-style module names
    internal readonly Embedding userItem;      // V_U,I [U, d]
    internal readonly Embedding itemUser;      // V_I,U [N, d]
    internal readonly Embedding itemPrevious;  // V_I,L [N, d]
    internal readonly Embedding previousItem;  // V_L,I [N, d]
#pragma warning restore IDE1006

    /// <summary>The standard deviation of the initial factors.</summary>
    public const double InitialStandardDeviation = 0.1;

    /// <summary>Creates the network on the CPU, initialized from <paramref name="seed"/>.</summary>
    public FpmcNetwork(int userCount, int itemCount, int factors, long seed)
        : base(nameof(FpmcNetwork))
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(userCount, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(itemCount, 1);
        UserCount = userCount;
        ItemCount = itemCount;
        Factors = factors;
        userItem = Embedding(userCount, factors);
        itemUser = Embedding(itemCount, factors);
        itemPrevious = Embedding(itemCount, factors);
        previousItem = Embedding(itemCount, factors);
        RegisterComponents();
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        using var generator = new Generator(unchecked((ulong)seed), CPU);
        foreach (var table in new[] { userItem, itemUser, itemPrevious, previousItem })
            table.weight!.copy_(randn(table.weight!.shape, generator: generator).Times(InitialStandardDeviation));
    }

    /// <summary>U, the number of users.</summary>
    public int UserCount { get; }

    /// <summary>N, the number of items.</summary>
    public int ItemCount { get; }

    /// <summary>The number of factors of each of the four tables.</summary>
    public int Factors { get; }

    /// <inheritdoc/>
    public Tensor UserTable => userItem.weight!;

    /// <summary>
    /// Scores every item <c>[B, N]</c> for 0-based users <c>[B]</c> (−1: unknown, a zero user vector) after each
    /// right-padded history's LAST item (the previous item l); an empty history has only the user term.
    /// </summary>
    public Tensor Score(Tensor users, Tensor items, Tensor lengths)
    {
        using var scope = NewDisposeScope();
        var userTerm = UserVectors.Lookup(userItem.weight!, users).matmul(itemUser.weight!.t());
        var last = items.gather(1, lengths.sub(TorchScalars.One).clamp_min(TorchScalars.Zero).unsqueeze(1)).squeeze(1);
        var previous = previousItem.call(last) * lengths.gt(TorchScalars.Zero).unsqueeze(1).to(userTerm.dtype);
        return userTerm.Plus(previous.matmul(itemPrevious.weight!.t())).MoveToOuterDisposeScope();
    }
}
