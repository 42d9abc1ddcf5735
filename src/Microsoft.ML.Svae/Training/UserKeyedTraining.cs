using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Svae;

// What BPR, FPMC and Caser share: the models with per-user parameters, trained on the held-out users' fold-in
// (the BPR* protocol of section 5.3 of Sachdeva et al., WSDM 2019) with the shared loop and negative sampling.

/// <summary>
/// The training data of a model with per-user parameters: the histories of the rows with a user key, each
/// row's user, and the validation users (fold-in, fold-out, user).
/// </summary>
internal sealed class UserKeyedData
{
    public UserKeyedData(UserSequences train, int[] trainUsers, int userCount,
        UserSequences? validationFoldIn = null, UserSequences? validationFoldOut = null, int[]? validationUsers = null)
    {
        if (trainUsers.Length != train.Count)
            throw new ArgumentException($"{trainUsers.Length} users were given for {train.Count} training rows.", nameof(trainUsers));
        if (validationFoldIn is not null && (validationUsers is null || validationUsers.Length != validationFoldIn.Count))
            throw new ArgumentException("One user per validation row is needed.", nameof(validationUsers));
        Train = train;
        TrainUsers = trainUsers;
        UserCount = userCount;
        ValidationFoldIn = validationFoldIn;
        ValidationFoldOut = validationFoldOut;
        ValidationUsers = validationUsers;
    }

    /// <summary>The training rows' histories (rows without a user key left out).</summary>
    public UserSequences Train { get; }

    /// <summary>Each training row's 0-based user index (all known).</summary>
    public int[] TrainUsers { get; }

    /// <summary>U, the number of users with parameters: the key count of the training data's user column.</summary>
    public int UserCount { get; }

    /// <summary>The validation users' fold-ins, or <see langword="null"/>.</summary>
    public UserSequences? ValidationFoldIn { get; }

    /// <summary>The validation users' fold-outs, or <see langword="null"/>.</summary>
    public UserSequences? ValidationFoldOut { get; }

    /// <summary>Each validation row's 0-based user index, <see cref="UserKeys.Unknown"/> for unknown users.</summary>
    public int[]? ValidationUsers { get; }

    /// <summary>
    /// Reads the user column of the training and validation data next to the already-read training histories.
    /// Training rows with the missing user key 0 are left out (with a warning); validation users with an unknown
    /// key are scored with a zero user vector.
    /// </summary>
    public static UserKeyedData Read(IHostEnvironment env, IDataView trainData, UserSequences train, IDataView? validationData,
        SequenceTrainerOptions options, string userIdColumnName)
    {
        int userCount = UserKeys.CheckColumn(trainData.Schema, userIdColumnName, "user id");
        var rowUsers = UserKeys.Read(trainData, userIdColumnName, "user id", userCount);
        if (rowUsers.Length != train.Count)
            throw new InvalidOperationException($"The training data returned {train.Count} histories but {rowUsers.Length} user keys.");
        var known = new List<int>(train.Count);
        for (int r = 0; r < rowUsers.Length; r++)
        {
            if (rowUsers[r] != UserKeys.Unknown)
                known.Add(r);
        }
        if (known.Count == 0)
            throw new ArgumentException(
                $"No training row has a user key in column '{userIdColumnName}' (all {train.Count} are the missing key 0): the model learns one vector per user.", nameof(trainData));
        if (known.Count < train.Count)
        {
            using var ch = env.Start("Reading users");
            ch.Warning($"{train.Count - known.Count} of {train.Count} training rows have the missing user key 0 in column '{userIdColumnName}' and are ignored.");
            train = train.Select(known);
            rowUsers = known.Select(r => rowUsers[r]).ToArray();
        }

        var (foldIn, foldOut) = ValidationData.Read(validationData, options, train.ItemCount);
        if (validationData is null || foldIn is null || foldOut is null)
            return new UserKeyedData(train, rowUsers, userCount);
        var validationUsers = UserKeys.Read(validationData, userIdColumnName, "validation user id", userCount);
        if (validationUsers.Length != foldIn.Count)
            throw new InvalidOperationException($"The validation data returned {foldIn.Count} histories but {validationUsers.Length} user keys.");
        return new UserKeyedData(train, rowUsers, userCount, foldIn, foldOut, validationUsers);
    }
}

/// <summary>
/// Uniform negative items: an item the training row's user has not interacted with (as in BPR's sampling of
/// j ∉ I_u and Caser's candidate set), drawn from a seeded <see cref="Random"/>.
/// </summary>
internal sealed class NegativeSampler
{
    private const int MaxAttempts = 64;
    private readonly UserSequences _rows;
    private readonly int[][] _seen;
    private readonly Random _random;

    public NegativeSampler(UserSequences rows, int seed)
    {
        _rows = rows;
        _seen = new int[rows.Count][];
        for (int r = 0; r < rows.Count; r++)
        {
            var items = rows[r].ToArray();
            Array.Sort(items);
            _seen[r] = items.Distinct().ToArray();
        }
        _random = new Random(seed);
    }

    /// <summary>
    /// An item not in row <paramref name="row"/>'s history (rejection sampling; after many rejections, e.g. for
    /// a user who has seen nearly every item, the last draw is kept).
    /// </summary>
    public int Sample(int row)
    {
        var seen = _seen[row];
        int item = _random.Next(_rows.ItemCount);
        for (int attempt = 1; attempt < MaxAttempts && Array.BinarySearch(seen, item) >= 0; attempt++)
            item = _random.Next(_rows.ItemCount);
        return item;
    }
}

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

/// <summary>
/// A model with per-user parameters as the shared loop sees it: training batches are rows of
/// <see cref="UserKeyedData.Train"/>, scoring batches are rows of the validation data.
/// </summary>
internal abstract class UserSequenceModel<TNetwork> : ISequenceModel
    where TNetwork : nn.Module, IUserScoringNetwork
{
    private protected UserSequenceModel(TNetwork network, UserKeyedData data, int seed)
    {
        Network = network;
        Data = data;
        Negatives = new NegativeSampler(data.Train, unchecked(seed * 31 + 17));
        ScoringUsers = data.ValidationUsers ?? [];
    }

    /// <summary>The network (not owned).</summary>
    public TNetwork Network { get; }

    /// <summary>The training data.</summary>
    public UserKeyedData Data { get; }

    /// <summary>The user of each row of the data that <see cref="ScoreUsers"/> scores (the validation rows).</summary>
    public int[] ScoringUsers { get; set; }

    /// <summary>The source of negative items.</summary>
    private protected NegativeSampler Negatives { get; }

    /// <inheritdoc/>
    public nn.Module Module => Network;

    /// <inheritdoc/>
    public abstract long LossUnits(int length);

    /// <inheritdoc/>
    public abstract Tensor Loss(SequenceBatch batch, double klWeight);

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
    public virtual void Dispose()
    {
    }
}

/// <summary>What the training of a model with per-user parameters hands to its trainer.</summary>
internal sealed class UserKeyedTrainingResult<TNetwork>
    where TNetwork : nn.Module
{
    public UserKeyedTrainingResult(TNetwork network, int userCount, IReadOnlyList<TrainingEpoch> history, int bestEpoch, bool stoppedEarly)
    {
        Network = network;
        UserCount = userCount;
        History = history;
        BestEpoch = bestEpoch;
        StoppedEarly = stoppedEarly;
    }

    /// <summary>The trained network, on the CPU, in eval mode; owned (and disposed) by the caller.</summary>
    public TNetwork Network { get; }

    /// <summary>U, the number of users with parameters.</summary>
    public int UserCount { get; }

    /// <summary>One entry per epoch run.</summary>
    public IReadOnlyList<TrainingEpoch> History { get; }

    /// <summary>The epoch (from 1) whose weights <see cref="Network"/> holds.</summary>
    public int BestEpoch { get; }

    /// <summary>Whether early stopping ended training.</summary>
    public bool StoppedEarly { get; }
}

/// <summary>Trains a model with per-user parameters with the shared loop.</summary>
internal static class UserKeyedTraining
{
    /// <summary>
    /// Creates the network (on the CPU, seeded), zeroes the vectors of users without a training unit (so that
    /// they score like unknown users; they receive no gradient and stay zero), trains it with
    /// <see cref="SequenceTrainingLoop"/> and returns it on the CPU in eval mode.
    /// </summary>
    public static UserKeyedTrainingResult<TNetwork> Train<TNetwork>(IHostEnvironment env, string trainerName, string modelName,
        UserKeyedData data, SequenceTrainerOptions options, Func<TNetwork> createNetwork,
        Func<TNetwork, Device, UserSequenceModel<TNetwork>> createModel)
        where TNetwork : nn.Module, IUserScoringNetwork
    {
        ArgumentNullException.ThrowIfNull(env);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var host = env.Register(trainerName);
        var device = TrainingDevice.Resolve(env, options);
        var network = createNetwork();
        try
        {
            using var model = createModel(network, device);
            ZeroUntrainedUsers(network, data, model, options.MaxHistoryLength);
            network.to(device);
            var result = SequenceTrainingLoop.Train(host, model, data.Train, data.ValidationFoldIn, data.ValidationFoldOut,
                options, KlAnnealingSchedule.None, device, modelName);
            if (device.type != DeviceType.CPU)
                network.to(CPU);
            network.eval();
            return new UserKeyedTrainingResult<TNetwork>(network, data.UserCount, result.History, result.BestEpoch, result.StoppedEarly);
        }
        catch
        {
            network.Dispose();
            throw;
        }
    }

    private static void ZeroUntrainedUsers<TNetwork>(TNetwork network, UserKeyedData data, UserSequenceModel<TNetwork> model, int? maxHistoryLength)
        where TNetwork : nn.Module, IUserScoringNetwork
    {
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
        network.UserTable.index_fill_(0, rows, 0);
    }
}
