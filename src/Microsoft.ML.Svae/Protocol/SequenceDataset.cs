using System.Collections.ObjectModel;
using Microsoft.ML.Data;
using Microsoft.ML.Svae.Protocol;

namespace Microsoft.ML.Svae;

/// <summary>
/// The output of <see cref="SequenceDataCatalog.PrepareSequences(IDataView, SequenceProtocolOptions)"/>:
/// training users with their full time-ordered histories, and validation/test users with a fold-in (the input
/// of a recommender) and a fold-out (the relevant items R of section 5.2).
/// </summary>
/// <remarks>
/// <para>Columns of <see cref="Train"/>: <see cref="SequenceColumns.UserId"/>, <see cref="SequenceColumns.History"/>,
/// <see cref="SequenceColumns.HistoryTimestamps"/>. <see cref="Validation"/> and <see cref="Test"/> also have
/// <see cref="SequenceColumns.FoldOut"/>; their History is the fold-in.</para>
/// <para>Types: UserId is <c>Key&lt;UInt32&gt;</c> over one user key space shared by all three splits (train users
/// get keys 1..T, validation users the next ones, then test users; each split's rows are ordered by raw user id),
/// with the raw user ids as KeyValues annotation. History and FoldOut are variable-length
/// <c>Vector&lt;Key&lt;UInt32&gt;&gt;</c> with key count <see cref="ItemCount"/> and the raw item ids as KeyValues
/// annotation. HistoryTimestamps is a variable-length <c>Vector&lt;Int64&gt;</c> (Unix seconds) parallel to History.</para>
/// <para>Raw ids keep the type of the interaction data's id columns: String for Text ids (e.g. product SKUs; ordered
/// ordinally), Int64 for Int64 ids, UInt32 for every other type (see <see cref="ItemIdType"/>, <see cref="UserIdType"/>).
/// A model trained on <see cref="Train"/> reads and writes raw item ids of that type (see <see cref="RecommendationTransformer"/>).</para>
/// <para>The views are backed by arrays in memory: cursoring them copies each row's vector, nothing else.</para>
/// </remarks>
public sealed class SequenceDataset
{
    private readonly MLContext _mlContext;
    private readonly Lazy<(UserSequences Sequences, long[] Timestamps, IDataView View)> _trainWithFoldIn;

    internal SequenceDataset(
        MLContext mlContext,
        SequenceProtocolOptions options,
        ProtocolReport report,
        uint[] itemIds,
        uint[] userIds,
        UserSequences train, long[] trainTimestamps,
        UserSequences validationFoldIn, long[] validationFoldInTimestamps,
        UserSequences validationFoldOut, long[] validationFoldOutTimestamps,
        UserSequences testFoldIn, long[] testFoldInTimestamps,
        UserSequences testFoldOut, long[] testFoldOutTimestamps)
    {
        _mlContext = mlContext;
        Options = options;
        Report = report;
        ItemIdArray = itemIds;
        UserIdArray = userIds;
        ItemCount = itemIds.Length;
        TrainSequences = train;
        TrainTimestamps = trainTimestamps;
        ValidationFoldIn = validationFoldIn;
        ValidationFoldInTimestamps = validationFoldInTimestamps;
        ValidationFoldOut = validationFoldOut;
        ValidationFoldOutTimestamps = validationFoldOutTimestamps;
        TestFoldIn = testFoldIn;
        TestFoldInTimestamps = testFoldInTimestamps;
        TestFoldOut = testFoldOut;
        TestFoldOutTimestamps = testFoldOutTimestamps;
        SharesUsers = options.Split == SequenceSplit.LeaveOneOut;
        if (SharesUsers
            ? userIds.Length != train.Count || validationFoldIn.Count != train.Count || testFoldIn.Count != train.Count
            : userIds.Length != train.Count + validationFoldIn.Count + testFoldIn.Count)
            throw new ArgumentException("One raw user id per user is needed.", nameof(userIds));

        _userKeyType = new KeyDataViewType(typeof(uint), Math.Max(1, userIds.Length));
        _views = new Lazy<Views>(BuildViews);
        _trainWithFoldIn = new Lazy<(UserSequences, long[], IDataView)>(BuildTrainWithHeldOutFoldIn);
    }

    private readonly KeyDataViewType _userKeyType;
    private readonly Lazy<Views> _views;

    /// <summary>The views, built on first use (after <see cref="ItemNames"/> and <see cref="UserNames"/> are set).</summary>
    private sealed record Views(DataViewSchema.Annotations ItemAnnotations, DataViewSchema.Annotations UserAnnotations,
        IDataView Train, IDataView Validation, IDataView Test, ITransformer ItemVocabulary);

    private Views BuildViews()
    {
        var itemAnnotations = ItemNames?.KeyValues(ItemIdArray) ?? KeyValues(ItemIdArray);
        var userAnnotations = UserNames?.KeyValues(UserIdArray) ?? KeyValues(UserIdArray);
        return new Views(itemAnnotations, userAnnotations,
            BuildView(itemAnnotations, userAnnotations, 0, TrainSequences, TrainTimestamps, null),
            BuildView(itemAnnotations, userAnnotations, ValidationUserOffset, ValidationFoldIn, ValidationFoldInTimestamps, ValidationFoldOut),
            BuildView(itemAnnotations, userAnnotations, TestUserOffset, TestFoldIn, TestFoldInTimestamps, TestFoldOut),
            FitItemVocabulary(_mlContext, ItemNames?.View(InteractionColumns.ItemId, ItemIdArray) ?? new ArrayDataView(ItemIdArray.Length,
                new ScalarArrayColumn<uint>(InteractionColumns.ItemId, NumberDataViewType.UInt32, ItemIdArray))));
    }

    /// <summary>The raw item ids when they are Text or Int64 (then <see cref="ItemIdArray"/> holds stand-ins).</summary>
    internal IdNames? ItemNames { get; init; }

    /// <summary>The raw user ids when they are Text or Int64 (then <see cref="UserIdArray"/> holds stand-ins).</summary>
    internal IdNames? UserNames { get; init; }

    /// <summary>Training users: UserId, History (full time-ordered history), HistoryTimestamps.</summary>
    public IDataView Train => _views.Value.Train;

    /// <summary>Validation users: UserId, History (fold-in), HistoryTimestamps (of the fold-in), FoldOut.</summary>
    public IDataView Validation => _views.Value.Validation;

    /// <summary>Test users: UserId, History (fold-in), HistoryTimestamps (of the fold-in), FoldOut.</summary>
    public IDataView Test => _views.Value.Test;

    /// <summary>N, the number of items: the distinct items of the training users (keys 1..N).</summary>
    public int ItemCount { get; }

    /// <summary>
    /// The raw item id of item key k at index k − 1 (keys are ordered by ascending raw id), for UInt32 ids; for
    /// String or Int64 ids use <see cref="GetItemIds{T}"/>.
    /// </summary>
    /// <exception cref="InvalidOperationException">The item ids are not UInt32.</exception>
    public IReadOnlyList<uint> ItemIds => ItemNames is null ? new ReadOnlyCollection<uint>(ItemIdArray)
        : throw new InvalidOperationException($"The item ids are {SchemaChecks.Describe(ItemNames.Type)}: use GetItemIds<{Clr(ItemNames.Type)}>().");

    /// <summary>
    /// The raw user id of user key k at index k − 1 (train users, then validation, then test users), for UInt32
    /// ids; for String or Int64 ids use <see cref="GetUserIds{T}"/>.
    /// </summary>
    /// <exception cref="InvalidOperationException">The user ids are not UInt32.</exception>
    public IReadOnlyList<uint> UserIds => UserNames is null ? new ReadOnlyCollection<uint>(UserIdArray)
        : throw new InvalidOperationException($"The user ids are {SchemaChecks.Describe(UserNames.Type)}: use GetUserIds<{Clr(UserNames.Type)}>().");

    /// <summary>The type of the raw item ids: UInt32, Int64 or Text (see the remarks).</summary>
    public DataViewType ItemIdType => ItemNames?.Type ?? NumberDataViewType.UInt32;

    /// <summary>The type of the raw user ids: UInt32, Int64 or Text.</summary>
    public DataViewType UserIdType => UserNames?.Type ?? NumberDataViewType.UInt32;

    /// <summary>The raw item id of item key k at index k − 1, as <typeparamref name="T"/>: <see cref="uint"/>, <see cref="long"/> or <see cref="string"/> as <see cref="ItemIdType"/> says.</summary>
    /// <exception cref="InvalidOperationException"><typeparamref name="T"/> is not the type of the ids.</exception>
    public IReadOnlyList<T> GetItemIds<T>() => Ids<T>(ItemIdArray, ItemNames, "item");

    /// <summary>The raw user id of user key k at index k − 1, as <typeparamref name="T"/> (see <see cref="UserIdType"/>).</summary>
    /// <exception cref="InvalidOperationException"><typeparamref name="T"/> is not the type of the ids.</exception>
    public IReadOnlyList<T> GetUserIds<T>() => Ids<T>(UserIdArray, UserNames, "user");

    private static IReadOnlyList<T> Ids<T>(uint[] ids, IdNames? names, string role)
    {
        if (names is not null)
            return names.Values<T>(ids);
        if (typeof(T) != typeof(uint))
            throw new InvalidOperationException($"The {role} ids are UInt32, not {typeof(T).Name}.");
        return (IReadOnlyList<T>)(object)new ReadOnlyCollection<uint>(ids);
    }

    private static string Clr(DataViewType type) => type is TextDataViewType ? "string" : "long";

    /// <summary>Number of training users (rows of <see cref="Train"/>).</summary>
    public int TrainUserCount => TrainSequences.Count;

    /// <summary>Number of validation users (rows of <see cref="Validation"/>).</summary>
    public int ValidationUserCount => ValidationFoldIn.Count;

    /// <summary>Number of test users (rows of <see cref="Test"/>).</summary>
    public int TestUserCount => TestFoldIn.Count;

    /// <summary>Number of users in all three splits.</summary>
    public int UserCount => UserIdArray.Length;

    /// <summary>
    /// Maps raw item ids to this data set's item keys: a fitted ML.NET <c>ValueToKeyMappingTransformer</c>
    /// (<c>MapValueToKey</c> with the vocabulary as key data) that replaces the column
    /// <see cref="InteractionColumns.ItemId"/> (of <see cref="ItemIdType"/>) by a <c>Key&lt;UInt32&gt;</c> column of the
    /// same name with key count <see cref="ItemCount"/>; ids outside the vocabulary become the missing key 0.
    /// </summary>
    public ITransformer ItemVocabulary => _views.Value.ItemVocabulary;

    /// <summary>What each step kept and dropped.</summary>
    public ProtocolReport Report { get; }

    /// <summary>A copy of the options the data set was prepared with.</summary>
    public SequenceProtocolOptions Options { get; }

    /// <summary>
    /// The training rows followed by one row per validation and test user holding their fold-in as history
    /// (columns UserId, History, HistoryTimestamps; user keys as in the splits). This is the training set of
    /// the BPR*, FPMC and Caser protocol of section 5.3: models that need a learned embedding for every user they
    /// score are trained on it and still evaluated on the held-out users' fold-outs only. Under
    /// <see cref="SequenceSplit.LeaveOneOut"/> every user is already a training user, and this is <see cref="Train"/>.
    /// </summary>
    public IDataView TrainWithHeldOutFoldIn() => _trainWithFoldIn.Value.View;

    internal uint[] ItemIdArray { get; }

    internal uint[] UserIdArray { get; }

    /// <summary>Training histories (0-based item indices, time order).</summary>
    internal UserSequences TrainSequences { get; }

    /// <summary>Event times parallel to <c>TrainSequences.Items</c>.</summary>
    internal long[] TrainTimestamps { get; }

    internal UserSequences ValidationFoldIn { get; }

    internal long[] ValidationFoldInTimestamps { get; }

    internal UserSequences ValidationFoldOut { get; }

    internal long[] ValidationFoldOutTimestamps { get; }

    internal UserSequences TestFoldIn { get; }

    internal long[] TestFoldInTimestamps { get; }

    internal UserSequences TestFoldOut { get; }

    internal long[] TestFoldOutTimestamps { get; }

    /// <summary>Training histories followed by validation and test fold-ins (the rows of <see cref="TrainWithHeldOutFoldIn"/>).</summary>
    internal UserSequences TrainWithHeldOutFoldInSequences => _trainWithFoldIn.Value.Sequences;

    /// <summary>Leave-one-out: every user is in all three splits, with the same user key (row i of each split is user i).</summary>
    internal bool SharesUsers { get; }

    /// <summary>0-based position of the first validation user in the user key space (its key is this + 1).</summary>
    internal int ValidationUserOffset => SharesUsers ? 0 : TrainSequences.Count;

    /// <summary>0-based position of the first test user in the user key space.</summary>
    internal int TestUserOffset => SharesUsers ? 0 : TrainSequences.Count + ValidationFoldIn.Count;

    private IDataView BuildView(DataViewSchema.Annotations itemAnnotations, DataViewSchema.Annotations userAnnotations,
        int userOffset, UserSequences history, long[] timestamps, UserSequences? foldOut)
    {
        int rows = history.Count;
        var userKeys = new uint[rows];
        for (int i = 0; i < rows; i++)
            userKeys[i] = (uint)(userOffset + i + 1);
        var columns = new List<ArrayColumn>
        {
            new ScalarArrayColumn<uint>(SequenceColumns.UserId, _userKeyType, userKeys, userAnnotations),
            new ItemKeyVectorColumn(SequenceColumns.History, ItemCount, history.Offsets, history.Items, itemAnnotations),
            new RaggedArrayColumn<long>(SequenceColumns.HistoryTimestamps, NumberDataViewType.Int64, history.Offsets, timestamps),
        };
        if (foldOut is not null)
            columns.Add(new ItemKeyVectorColumn(SequenceColumns.FoldOut, ItemCount, foldOut.Offsets, foldOut.Items, itemAnnotations));
        return new ArrayDataView(rows, columns.ToArray());
    }

    private (UserSequences, long[], IDataView) BuildTrainWithHeldOutFoldIn()
    {
        // Leave-one-out: every user already trains on all but the two targets.
        if (SharesUsers)
            return (TrainSequences, TrainTimestamps, _views.Value.Train);
        var parts = new[] { (TrainSequences, TrainTimestamps), (ValidationFoldIn, ValidationFoldInTimestamps), (TestFoldIn, TestFoldInTimestamps) };
        int users = parts.Sum(p => p.Item1.Count);
        int events = parts.Sum(p => p.Item1.EventCount);
        var offsets = new int[users + 1];
        var items = new int[events];
        var times = new long[events];
        int user = 0;
        foreach (var (sequences, timestamps) in parts)
        {
            int baseOffset = offsets[user];
            sequences.Items.CopyTo(items, baseOffset);
            Array.Copy(timestamps, 0, times, baseOffset, sequences.EventCount);
            for (int u = 0; u < sequences.Count; u++)
                offsets[user + u + 1] = baseOffset + sequences.Offsets[u + 1];
            user += sequences.Count;
        }
        var combined = new UserSequences(ItemCount, offsets, items);
        var views = _views.Value;
        return (combined, times, BuildView(views.ItemAnnotations, views.UserAnnotations, 0, combined, times, null));
    }

    private static DataViewSchema.Annotations KeyValues(uint[] values)
    {
        var builder = new DataViewSchema.Annotations.Builder();
        builder.Add("KeyValues", new VectorDataViewType(NumberDataViewType.UInt32, Math.Max(1, values.Length)), (ValueGetter<VBuffer<uint>>)((ref VBuffer<uint> dst) =>
        {
            var editor = VBufferEditor.Create(ref dst, values.Length);
            values.AsSpan().CopyTo(editor.Values);
            dst = editor.Commit();
        }));
        return builder.ToAnnotations();
    }

    private static ITransformer FitItemVocabulary(MLContext mlContext, IDataView keyData)
    {
        return mlContext.Transforms.Conversion
            .MapValueToKey(InteractionColumns.ItemId, InteractionColumns.ItemId, keyData: keyData)
            .Fit(keyData);
    }
}
