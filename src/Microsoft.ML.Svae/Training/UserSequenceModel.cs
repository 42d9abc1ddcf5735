using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Svae;

/// <summary>A network with per-user parameters, as the shared pieces of BPR, FPMC and Caser see it.</summary>
internal interface IUserScoringNetwork
{
    /// <summary>The parameter whose rows are the users' vectors (<c>[U, ·]</c>); zero rows are users without parameters.</summary>
    Tensor UserTable { get; }

    /// <summary>
    /// Scores every item for each user: <c>[B, N]</c> from 0-based user indices <c>[B]</c> (−1: unknown user,
    /// scored with a zero user vector) and the users' right-padded histories <c>[B, T]</c> with their lengths
    /// <c>[B]</c>. This is what the ONNX graph computes; seen items are not masked.
    /// </summary>
    Tensor Score(Tensor users, Tensor items, Tensor lengths);
}

/// <summary>A model with per-user parameters, as <see cref="UserKeyedTrainerBase{TTransformer}"/> sees it.</summary>
internal interface IUserKeyedModel : ISequenceModel
{
    /// <summary>The training data (rows and their users).</summary>
    UserKeyedData Data { get; }

    /// <summary>The parameter whose rows are the users' vectors (<c>[U, ·]</c>).</summary>
    Tensor UserTable { get; }
}

/// <summary>
/// A model with per-user parameters as the shared loop sees it: training batches are rows of
/// <see cref="TrainingData.Train"/>, scoring batches are rows of the validation data.
/// </summary>
internal abstract class UserSequenceModel<TNetwork> : IUserKeyedModel
    where TNetwork : nn.Module, IUserScoringNetwork
{
    private protected UserSequenceModel(TNetwork network, UserKeyedData data, int seed)
    {
        Network = network;
        Data = data;
        Negatives = new NegativeSampler(data.Train, unchecked(seed * 31 + 17));
        ScoringUsers = data.ValidationUsers ?? [];
    }

    /// <summary>The network (owned: disposed with the model).</summary>
    public TNetwork Network { get; }

    /// <summary>The training data.</summary>
    public UserKeyedData Data { get; }

    /// <summary>The user of each row of the data that <see cref="ScoreUsers"/> scores (the validation rows).</summary>
    public int[] ScoringUsers { get; set; }

    /// <summary>The source of negative items.</summary>
    private protected NegativeSampler Negatives { get; }

    /// <inheritdoc/>
    public NegativeSampler? NegativeSampler => Negatives;

    /// <inheritdoc/>
    public virtual IReadOnlyList<Generator> Generators => [];

    /// <inheritdoc/>
    public nn.Module Module => Network;

    /// <inheritdoc/>
    public Tensor UserTable => Network.UserTable;

    /// <inheritdoc/>
    public abstract long LossUnits(int length);

    /// <inheritdoc/>
    public abstract Tensor Loss(SequenceBatch batch, double klWeight);

    /// <inheritdoc/>
    public abstract byte[] WriteOnnx(RecommendationModelDescription description);

    /// <summary>The network's scores for the batch's users (rows of the scoring data).</summary>
    public Tensor ScoreUsers(SequenceBatch batch)
    {
        using var scope = NewDisposeScope();
        var users = tensor(batch.Users.Select(r => (long)ScoringUsers[r]).ToArray(), ScalarType.Int64, batch.Device);
        return Network.Score(users, batch.Items, batch.LengthTensor).MoveToOuterDisposeScope();
    }

    /// <summary>The user of training row <paramref name="row"/>.</summary>
    private protected int User(int row) => Data.TrainUsers[row];

    /// <summary>
    /// Row b's events as the batch holds them: the most recent <c>batch.Lengths[b]</c> events of the row
    /// (the batcher's truncation), read from managed memory.
    /// </summary>
    private protected ReadOnlySpan<int> Events(SequenceBatch batch, int b)
    {
        var all = Data.Train[batch.Users[b]];
        return all[(all.Length - batch.Lengths[b])..];
    }

    /// <summary>An int64 tensor on <paramref name="device"/> (in the current dispose scope).</summary>
    private protected static Tensor Int64(long[] values, Device device, params long[] shape)
        => tensor(values, shape.Length == 0 ? new long[] { values.Length } : shape, ScalarType.Int64).to(device);

    /// <inheritdoc/>
    public virtual void Dispose() => Network.Dispose();
}

/// <summary>The users of a model with per-user parameters that no training unit reaches.</summary>
internal static class UntrainedUsers
{
    /// <summary>
    /// Zeroes the vectors of users without a training unit, so that they score like unknown users (they receive no
    /// gradient and stay zero).
    /// </summary>
    public static void Zero(IUserKeyedModel model, int? maxHistoryLength)
    {
        var data = model.Data;
        var trained = new bool[data.UserCount];
        for (int r = 0; r < data.Train.Count; r++)
        {
            int length = data.Train.Length(r);
            if (model.LossUnits(maxHistoryLength is int max ? Math.Min(length, max) : length) > 0)
                trained[data.TrainUsers[r]] = true;
        }
        var untrained = Enumerable.Range(0, data.UserCount).Where(u => !trained[u]).Select(u => (long)u).ToArray();
        if (untrained.Length == 0)
            return;
        using var noGrad = no_grad();
        using var rows = tensor(untrained, ScalarType.Int64);
        model.UserTable.index_fill_(0, rows, TorchScalars.Zero);
    }
}
