namespace Microsoft.ML.Svae;

/// <summary>
/// What a neural trainer trains on: the training users' histories and, when given, the validation users'
/// fold-in and fold-out (same users, same order) that drive early stopping.
/// </summary>
internal class TrainingData
{
    public TrainingData(UserSequences train, UserSequences? validationFoldIn = null, UserSequences? validationFoldOut = null)
    {
        Train = train;
        ValidationFoldIn = validationFoldIn;
        ValidationFoldOut = validationFoldOut;
    }

    /// <summary>The training users' histories.</summary>
    public UserSequences Train { get; }

    /// <summary>The validation users' fold-ins, or <see langword="null"/>.</summary>
    public UserSequences? ValidationFoldIn { get; }

    /// <summary>The validation users' fold-outs, or <see langword="null"/>.</summary>
    public UserSequences? ValidationFoldOut { get; }
}

/// <summary>
/// The training data of a model with per-user parameters (BPR, FPMC, Caser): the histories of the rows with a
/// user key, each row's user, and the validation users (fold-in, fold-out, user).
/// </summary>
internal sealed class UserKeyedData : TrainingData
{
    public UserKeyedData(UserSequences train, int[] trainUsers, int userCount,
        UserSequences? validationFoldIn = null, UserSequences? validationFoldOut = null, int[]? validationUsers = null)
        : base(train, validationFoldIn, validationFoldOut)
    {
        if (trainUsers.Length != train.Count)
            throw new ArgumentException($"{trainUsers.Length} users were given for {train.Count} training rows.", nameof(trainUsers));
        if (validationFoldIn is not null && (validationUsers is null || validationUsers.Length != validationFoldIn.Count))
            throw new ArgumentException("One user per validation row is needed.", nameof(validationUsers));
        TrainUsers = trainUsers;
        UserCount = userCount;
        ValidationUsers = validationUsers;
    }

    /// <summary>Each training row's 0-based user index (all known).</summary>
    public int[] TrainUsers { get; }

    /// <summary>U, the number of users with parameters: the key count of the training data's user column.</summary>
    public int UserCount { get; }

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
