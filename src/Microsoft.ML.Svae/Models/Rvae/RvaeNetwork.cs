using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Microsoft.ML.Svae;

/// <summary>
/// The RVAE network of section 4.2 of Sachdeva et al. (WSDM 2019), score form of eq. 4.4, with the architecture of
/// section 5.4: a user embedding computed from the history, an item embedding, two encoding layers giving
/// q(z_{u,i}) = N(μ(u, i), σ²(u, i)), and a final layer to the score f(z_{u,i}).
/// </summary>
/// <remarks>
/// <para>
/// User embedding (E = 128), from the binary multi-hot history x_u (<see cref="MultiHotInput.Dense"/>) by a neural
/// layer: <c>p_u = tanh(W_user · x_u / max(|x_u|, 1) + b_user)</c>, i.e. tanh of the MEAN of the history items'
/// columns of <c>W_user [E, N]</c> plus a bias (an empty history gives <c>tanh(b_user)</c>). Users never seen in
/// training are therefore scored from their history, unlike BPR.
/// </para>
/// <para>
/// Encoder: <c>h = tanh(W_h [p_u ; q_i] + b_h)</c> (H = 100) with q_i the item embedding (E = 128), then a linear
/// layer to 2K values (K = 64): μ and log σ². Score: <c>f(z) = w_s · z + b_s</c>. In training mode z is sampled with
/// ε from <see cref="NoiseGenerator"/>; in eval mode z = μ.
/// </para>
/// <para>
/// Initialization, from a generator seeded by the constructor's seed: the user layer's weights and the item
/// embedding N(0, 0.01²), as the embeddings of the authors' RVAE notebook; Xavier-normal weights for the other
/// layers, as in that notebook; all biases zero.
/// </para>
/// </remarks>
internal sealed class RvaeNetwork : Module<Tensor, Tensor, Tensor>
{
    // Field names are the state-dict prefixes: keep them.
#pragma warning disable IDE1006 // Naming: PyTorch-style module names
    internal readonly Linear userEmbedding;
    internal readonly Embedding itemEmbedding;
    internal readonly Linear encoderHidden;
    internal readonly Linear encoderOut;
    internal readonly Linear scoreOut;
#pragma warning restore IDE1006

    /// <summary>The standard deviation of the initial user-layer weights and item embeddings (0.01, as the authors' notebook's embeddings).</summary>
    private const double EmbeddingInitStd = 0.01;

    /// <summary>Creates the network on the CPU, initialized from <paramref name="seed"/>.</summary>
    public RvaeNetwork(int itemCount, int embeddingSize, int encoderSize, int latentSize, long seed)
        : base(nameof(RvaeNetwork))
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(itemCount, 1);
        ItemCount = itemCount;
        EmbeddingSize = embeddingSize;
        EncoderSize = encoderSize;
        LatentSize = latentSize;
        userEmbedding = Linear(itemCount, embeddingSize);
        itemEmbedding = Embedding(itemCount, embeddingSize);
        encoderHidden = Linear(2L * embeddingSize, encoderSize);
        encoderOut = Linear(encoderSize, 2L * latentSize);
        scoreOut = Linear(latentSize, 1);
        RegisterComponents();
        ResetParameters(seed);
    }

    /// <summary>N, the number of items.</summary>
    public int ItemCount { get; }

    /// <summary>E, the size of the user and item embeddings (128 in the paper).</summary>
    public int EmbeddingSize { get; }

    /// <summary>H, the size of the first encoding layer (100 in the paper).</summary>
    public int EncoderSize { get; }

    /// <summary>K, the latent size (64 in the paper).</summary>
    public int LatentSize { get; }

    /// <summary>The source of ε in training mode; must be on the network's device. <see langword="null"/> uses the global generator.</summary>
    public Generator? NoiseGenerator { get; set; }

    /// <summary>
    /// The literal forward pass: multi-hot histories <c>[B, N]</c> and candidate items <c>[B, M]</c> (0-based) →
    /// scores f(z_{u,i}) <c>[B, M]</c>; z is sampled in training mode, z = μ in eval mode.
    /// </summary>
    public override Tensor forward(Tensor multiHot, Tensor items)
    {
        using var scope = NewDisposeScope();
        var user = User(multiHot);
        var users = user.unsqueeze(1).expand(user.shape[0], items.shape[1], EmbeddingSize);
        var (mean, logVariance) = Encode(users, items);
        return Score(Sample(mean, logVariance)).MoveToOuterDisposeScope();
    }

    /// <summary>The users' embeddings <c>[B, E]</c> from multi-hot histories <c>[B, N]</c>.</summary>
    public Tensor User(Tensor multiHot)
    {
        using var scope = NewDisposeScope();
        var count = multiHot.sum(1, keepdim: true).clamp_min(TorchScalars.One);
        return tanh(userEmbedding.call(multiHot / count)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// <c>Σ_{i ∈ x_u} W_user[:, i]</c> <c>[B, E]</c> and |x_u| <c>[B]</c> of multi-hot histories: what
    /// <see cref="UserFromSum"/> turns into user embeddings, with items left out if needed.
    /// </summary>
    public (Tensor Sum, Tensor Count) HistorySum(Tensor multiHot)
    {
        using var scope = NewDisposeScope();
        var sum = multiHot.matmul(userEmbedding.weight!.t());
        var count = multiHot.sum(1);
        return (sum.MoveToOuterDisposeScope(), count.MoveToOuterDisposeScope());
    }

    /// <summary>The columns <c>W_user[:, i]</c> of items <paramref name="items"/> <c>[P]</c>: <c>[P, E]</c>.</summary>
    public Tensor UserColumns(Tensor items) => userEmbedding.weight!.t().index_select(0, items);

    /// <summary><c>tanh(sum / max(count, 1) + b_user)</c>: sums <c>[P, E]</c>, counts <c>[P]</c>.</summary>
    public Tensor UserFromSum(Tensor sum, Tensor count)
    {
        using var scope = NewDisposeScope();
        return tanh((sum / count.clamp_min(TorchScalars.One).unsqueeze(-1)).Plus(userEmbedding.bias!)).MoveToOuterDisposeScope();
    }

    /// <summary>q(z_{u,i}): user embeddings <c>[..., E]</c> and items <c>[...]</c> → (μ, log σ²), each <c>[..., K]</c>.</summary>
    public (Tensor mean, Tensor logVariance) Encode(Tensor users, Tensor items)
    {
        using var scope = NewDisposeScope();
        var hidden = tanh(encoderHidden.call(cat(new[] { users, itemEmbedding.call(items) }, -1)));
        var parameters = encoderOut.call(hidden);
        var (mean, logVariance) = GaussianLatent.Split(parameters, LatentSize);
        return (mean.MoveToOuterDisposeScope(), logVariance.MoveToOuterDisposeScope());
    }

    /// <summary>z = μ + exp(½ log σ²)·ε in training mode; z = μ in eval mode.</summary>
    public Tensor Sample(Tensor mean, Tensor logVariance)
        => GaussianLatent.Sample(mean, logVariance, NoiseGenerator, training);

    /// <summary>The score f(z): <c>[..., K]</c> → <c>[...]</c>.</summary>
    public Tensor Score(Tensor z)
    {
        using var scope = NewDisposeScope();
        return scoreOut.call(z).squeeze(-1).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The parts of the inference score that do not depend on the user, computed once (z = μ):
    /// <c>score(u, i) = tanh(W_h,user · p_u + C[i]) · v + c</c> with <c>C = Q · W_h,itemᵀ + b_h</c> <c>[N, H]</c>,
    /// <c>v = W_μᵀ w_s</c> <c>[H, 1]</c> and <c>c = w_s · b_μ + b_s</c> <c>[1]</c>; <c>W_h,user</c> is
    /// <c>[H, E]</c>.
    /// </summary>
    public (Tensor UserWeight, Tensor ItemHidden, Tensor ScoreVector, Tensor ScoreBias) InferenceParts()
    {
        using var scope = NewDisposeScope();
        var weight = encoderHidden.weight!;
        var userWeight = weight.narrow(1, 0, EmbeddingSize).contiguous();
        var itemWeight = weight.narrow(1, EmbeddingSize, EmbeddingSize);
        var itemHidden = itemEmbedding.weight!.matmul(itemWeight.t()).Plus(encoderHidden.bias!);
        var meanWeight = encoderOut.weight!.narrow(0, 0, LatentSize);   // [K, H]
        var meanBias = encoderOut.bias!.narrow(0, 0, LatentSize);       // [K]
        var scoreWeight = scoreOut.weight!;                              // [1, K]
        var scoreVector = meanWeight.t().matmul(scoreWeight.t());       // [H, 1]
        var scoreBias = (meanBias * scoreWeight.squeeze(0)).sum().unsqueeze(0).Plus(scoreOut.bias!); // [1]
        return (userWeight.MoveToOuterDisposeScope(), itemHidden.MoveToOuterDisposeScope(),
            scoreVector.MoveToOuterDisposeScope(), scoreBias.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// Every item's inference score for each history, whatever the mode: multi-hot <c>[B, N]</c> → <c>[B, N]</c>,
    /// batched over the items (the user part broadcast against <c>C</c> of <see cref="InferenceParts"/>) and
    /// chunked over users so that the <c>[users, N, H]</c> hidden layer stays near 64 MB. The ONNX graph computes
    /// the same.
    /// </summary>
    public Tensor ScoreAll(Tensor multiHot)
    {
        using var scope = NewDisposeScope();
        var (userWeight, itemHidden, scoreVector, scoreBias) = InferenceParts();
        var userHidden = User(multiHot).matmul(userWeight.t());       // [B, H]
        long users = userHidden.shape[0];
        long chunk = Math.Clamp((1L << 24) / ((long)ItemCount * EncoderSize), 1, Math.Max(1, users));
        var parts = new List<Tensor>();
        for (long start = 0; start < users; start += chunk)
        {
            var rows = userHidden.narrow(0, start, Math.Min(chunk, users - start));
            var hidden = tanh(rows.unsqueeze(1).Plus(itemHidden.unsqueeze(0))); // [b, N, H]
            parts.Add(hidden.matmul(scoreVector).squeeze(-1).Plus(scoreBias));  // [b, N]
        }
        var scores = parts.Count == 1 ? parts[0] : cat(parts, 0);
        return scores.MoveToOuterDisposeScope();
    }

    /// <summary>Re-initializes every parameter from <paramref name="seed"/> (see the class remarks).</summary>
    public void ResetParameters(long seed)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        using var generator = new Generator(unchecked((ulong)seed), CPU);
        userEmbedding.weight!.copy_(randn(userEmbedding.weight!.shape, generator: generator).Times(EmbeddingInitStd));
        userEmbedding.bias!.zero_();
        itemEmbedding.weight!.copy_(randn(itemEmbedding.weight!.shape, generator: generator).Times(EmbeddingInitStd));
        foreach (var linear in new[] { encoderHidden, encoderOut, scoreOut })
        {
            var weight = linear.weight!;
            long fanOut = weight.shape[0], fanIn = weight.shape[1];
            weight.copy_(randn(weight.shape, generator: generator).Times(Math.Sqrt(2.0 / (fanIn + fanOut))));
            linear.bias!.zero_();
        }
    }
}
