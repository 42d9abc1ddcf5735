using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Microsoft.ML.Svae;

/// <summary>
/// Caser, the convolutional sequence embedding of Tang and Wang (WSDM 2018), as in the authors' code
/// (graytowne/caser_pytorch): the embeddings of the last L items form an L × d image; horizontal convolutions
/// (heights 1..L, ReLU, max-pooling over time) and a vertical convolution (a weighted sum of the L rows) →
/// dropout → fully connected layer to d with ReLU → concatenated with the user embedding → scores through an
/// output item embedding W2 and bias b2.
/// </summary>
/// <remarks>
/// Item indices are 0-based; the item embedding has one more row, <see cref="PaddingIndex"/> = N, for the
/// left padding of windows with fewer than L items (learned, as the authors' item 0). Initialization, from a
/// generator seeded by the constructor's seed: user and item embeddings N(0, (1/d)²), W2 N(0, (1/2d)²), b2 zero,
/// as in the authors' code; convolutions and the fully connected layer U(−1/√fan_in, 1/√fan_in) for weights and
/// biases, PyTorch's defaults. Dropout draws its masks from <see cref="DropoutGenerator"/>.
/// </remarks>
internal sealed class CaserNetwork : Module, IUserScoringNetwork
{
    // Field names are the state-dict prefixes: keep them.
#pragma warning disable IDE1006 // Naming: PyTorch-style module names
    internal readonly Embedding userEmbedding;
    internal readonly Embedding itemEmbedding;
    internal readonly Conv2d verticalConvolution;
    internal readonly ModuleList<Conv2d> horizontalConvolutions;
    internal readonly Linear fullyConnected;
    internal readonly Embedding outputItems;
    internal readonly Embedding outputBias;
#pragma warning restore IDE1006

    /// <summary>Creates the network on the CPU, initialized from <paramref name="seed"/>.</summary>
    public CaserNetwork(int userCount, int itemCount, int embeddingSize, int sequenceLength, int horizontalFilters, int verticalFilters,
        double dropoutRate, long seed)
        : base(nameof(CaserNetwork))
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(userCount, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(itemCount, 1);
        UserCount = userCount;
        ItemCount = itemCount;
        EmbeddingSize = embeddingSize;
        SequenceLength = sequenceLength;
        HorizontalFilters = horizontalFilters;
        VerticalFilters = verticalFilters;
        DropoutRate = dropoutRate;
        userEmbedding = Embedding(userCount, embeddingSize);
        itemEmbedding = Embedding(itemCount + 1L, embeddingSize);
        verticalConvolution = Conv2d(1, verticalFilters, (sequenceLength, 1));
        horizontalConvolutions = ModuleList(Enumerable.Range(1, sequenceLength).Select(h => Conv2d(1, horizontalFilters, (h, embeddingSize))).ToArray());
        fullyConnected = Linear(ConvolutionOutputSize, embeddingSize);
        outputItems = Embedding(itemCount, 2L * embeddingSize);
        outputBias = Embedding(itemCount, 1);
        RegisterComponents();
        ResetParameters(seed);
    }

    /// <summary>U, the number of users.</summary>
    public int UserCount { get; }

    /// <summary>N, the number of items.</summary>
    public int ItemCount { get; }

    /// <summary>d, the size of the item and user embeddings and of the fully connected layer.</summary>
    public int EmbeddingSize { get; }

    /// <summary>L, the number of previous items.</summary>
    public int SequenceLength { get; }

    /// <summary>The number of filters of each horizontal convolution.</summary>
    public int HorizontalFilters { get; }

    /// <summary>The number of vertical filters.</summary>
    public int VerticalFilters { get; }

    /// <summary>The dropout rate before the fully connected layer (training mode only).</summary>
    public double DropoutRate { get; }

    /// <summary>The item index of the left padding: N.</summary>
    public int PaddingIndex => ItemCount;

    /// <summary>The width of the concatenated convolution outputs: <c>n_v·d + n_h·L</c>.</summary>
    public int ConvolutionOutputSize => VerticalFilters * EmbeddingSize + HorizontalFilters * SequenceLength;

    /// <summary>
    /// The source of the dropout masks in training mode; must be on the network's device. <see langword="null"/>
    /// uses the global generator.
    /// </summary>
    public Generator? DropoutGenerator { get; set; }

    /// <inheritdoc/>
    public Tensor UserTable => userEmbedding.weight!;

    /// <summary>
    /// The hidden vector x = [z; P_u] <c>[W, 2d]</c> of windows of L previous items <c>[W, L]</c> (0-based, left
    /// padded with <see cref="PaddingIndex"/>) and their users <c>[W]</c> (−1: unknown, a zero user embedding).
    /// </summary>
    public Tensor Encode(Tensor sequences, Tensor users)
    {
        using var scope = NewDisposeScope();
        long windows = sequences.shape[0];
        var image = itemEmbedding.call(sequences).unsqueeze(1);                                   // [W, 1, L, d]
        var parts = new List<Tensor> { verticalConvolution.call(image).reshape(windows, VerticalFilters * EmbeddingSize) };
        foreach (var convolution in horizontalConvolutions)
            parts.Add(functional.relu(convolution.call(image).squeeze(3)).amax(new long[] { 2 }));  // [W, n_h]
        var features = cat(parts, 1);
        if (training)
            features = SeededDropout.Apply(features, DropoutRate, DropoutGenerator);
        var z = functional.relu(fullyConnected.call(features));
        return cat(new[] { z, UserVectors.Lookup(userEmbedding.weight!, users) }, 1).MoveToOuterDisposeScope();
    }

    /// <summary>The scores <c>[W, C]</c> of candidate items <c>[W, C]</c> from hidden vectors <c>[W, 2d]</c>: <c>⟨W2_i, x⟩ + b2_i</c>.</summary>
    public Tensor ScoreItems(Tensor hidden, Tensor items)
    {
        using var scope = NewDisposeScope();
        var weights = outputItems.call(items);                                                   // [W, C, 2d]
        var scores = weights.matmul(hidden.unsqueeze(2)).squeeze(2).Plus(outputBias.call(items).squeeze(2));
        return scores.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Scores every item <c>[B, N]</c> for 0-based users <c>[B]</c> (−1: unknown) from the LAST L items of each
    /// right-padded history (left padded when shorter; an empty history is all padding).
    /// </summary>
    public Tensor Score(Tensor users, Tensor items, Tensor lengths)
    {
        using var scope = NewDisposeScope();
        using var sequenceLength = SequenceLength.ToScalar();
        using var lastPosition = (items.shape[1] - 1).ToScalar();
        using var padding = PaddingIndex.ToScalar();
        var positions = lengths.unsqueeze(1).sub(sequenceLength).Plus(TorchScalars.Range(SequenceLength, items.device).unsqueeze(0));
        var gathered = items.gather(1, positions.clamp(TorchScalars.Zero, lastPosition));
        var sequences = where(positions.ge(TorchScalars.Zero), gathered, full_like(gathered, padding));
        var hidden = Encode(sequences, users);
        return hidden.matmul(outputItems.weight!.t()).Plus(outputBias.weight!.view(1, ItemCount)).MoveToOuterDisposeScope();
    }

    private void ResetParameters(long seed)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        using var generator = new Generator(unchecked((ulong)seed), CPU);
        void Normal(Tensor parameter, double std) => parameter.copy_(randn(parameter.shape, generator: generator).Times(std));
        void Uniform(Tensor parameter, long fanIn)
        {
            double bound = 1.0 / Math.Sqrt(fanIn);
            parameter.copy_(rand(parameter.shape, generator: generator).ToSymmetric(bound));
        }

        Normal(userEmbedding.weight!, 1.0 / EmbeddingSize);
        Normal(itemEmbedding.weight!, 1.0 / EmbeddingSize);
        Normal(outputItems.weight!, 1.0 / (2 * EmbeddingSize));
        outputBias.weight!.zero_();
        foreach (var convolution in horizontalConvolutions.Prepend(verticalConvolution))
        {
            var weight = convolution.weight!;
            long fanIn = weight.shape[1] * weight.shape[2] * weight.shape[3];
            Uniform(weight, fanIn);
            Uniform(convolution.bias!, fanIn);
        }
        Uniform(fullyConnected.weight!, fullyConnected.weight!.shape[1]);
        Uniform(fullyConnected.bias!, fullyConnected.weight!.shape[1]);
    }
}
