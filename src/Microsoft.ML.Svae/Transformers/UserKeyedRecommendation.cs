using Microsoft.ML.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Svae;

/// <summary>
/// Options of the models with per-user parameters (BPR, FPMC, Caser): they also read a user key column.
/// </summary>
public abstract class UserKeyedTrainerOptions : SequenceTrainerOptions
{
    /// <summary>
    /// The user key column (a scalar <c>Key&lt;UInt32&gt;</c>): the training rows' users, whose parameters are
    /// learned, and the user of each scored row (a user key, or a user id when the history holds item ids). A key of 0 or above the training data's key count is an
    /// unknown user, scored with a zero user vector.
    /// </summary>
    public string UserIdColumnName { get; set; } = SequenceColumns.UserId;

    /// <inheritdoc/>
    public override void Validate()
    {
        base.Validate();
        if (string.IsNullOrWhiteSpace(UserIdColumnName))
            throw new ArgumentOutOfRangeException(nameof(UserIdColumnName), "UserIdColumnName must name the user key column.");
    }
}

/// <summary>The estimator side of the models with per-user parameters: the user column's checks and reading.</summary>
/// <typeparam name="TTransformer">The fitted recommender.</typeparam>
public abstract class UserKeyedTrainerBase<TTransformer> : SequenceTrainerBase<TTransformer>
    where TTransformer : UserKeyedRecommendationTransformer
{
    private protected UserKeyedTrainerBase(IHostEnvironment env, UserKeyedTrainerOptions options, string name, string modelName)
        : base(env, options, name, modelName)
    {
        UserOptions = options;
    }

    private protected UserKeyedTrainerOptions UserOptions { get; }

    private protected override void CheckInputShape(SchemaShape inputSchema)
        => UserKeys.CheckColumn(inputSchema, UserOptions.UserIdColumnName, "user id");

    /// <summary>The training rows' users (and the validation users') read next to their histories.</summary>
    private protected sealed override TrainingData ReadData(IDataView trainData, UserSequences train, IDataView? validationData)
        => UserKeyedData.Read(Host, trainData, train, validationData, UserOptions, UserOptions.UserIdColumnName);

    /// <summary>
    /// The model description, with the user column, the number of users that have parameters and the raw user ids
    /// (the user column's <c>KeyValues</c>, or its keys).
    /// </summary>
    private protected sealed override RecommendationModelDescription Describe(IDataView trainData, TrainingData data)
    {
        string user = UserOptions.UserIdColumnName;
        int keyCount = UserKeys.CheckColumn(trainData.Schema, user, "user id");
        return base.Describe(trainData, data) with
        {
            UserIdColumnName = user,
            UserCount = ((UserKeyedData)data).UserCount,
            Users = IdVocabulary.FromKeyColumn(trainData.Schema[user], keyCount),
        };
    }

    /// <summary>The model adapter with a new network on the CPU (initialized from the options' seed).</summary>
    private protected abstract IUserKeyedModel CreateUserModel(UserKeyedData data, Device device);

    private protected sealed override ISequenceModel CreateModel(TrainingData data, Device device)
    {
        var model = CreateUserModel((UserKeyedData)data, device);
        try
        {
            UntrainedUsers.Zero(model, SequenceOptions.MaxHistoryLength);
            model.Module.to(device);
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }
}

/// <summary>A fitted model with per-user parameters: it reads the user key column next to the history.</summary>
public abstract class UserKeyedRecommendationTransformer : TrainedRecommendationTransformer
{
    private protected UserKeyedRecommendationTransformer(IHostEnvironment env, RecommendationModelDescription description, byte[] onnxModel,
        SequenceTrainingResult training)
        : base(env, description, onnxModel, training)
    {
    }

    /// <summary>The user key column the model reads.</summary>
    public string UserIdColumnName => Description.UserIdColumnName!;

    /// <summary>The number of user keys with learned parameters; other keys are unknown users.</summary>
    public int UserCount => Description.UserCount;

    /// <summary>
    /// The type of the user ids the model reads with item ids (e.g. <c>UInt32</c>, <c>Int64</c> or <c>String</c>): the
    /// type of the training user column's <c>KeyValues</c>, or <c>UInt32</c> (the keys themselves) without them.
    /// Unknown user ids are unknown users.
    /// </summary>
    public DataViewType UserIdType => Description.Users!.ItemType;
}
