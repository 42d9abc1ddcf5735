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
        if (userIds.Length != train.Count + validationFoldIn.Count + testFoldIn.Count)
            throw new ArgumentException("One raw user id per user is needed.", nameof(userIds));

        ItemIds = new ReadOnlyCollection<uint>(itemIds);
        UserIds = new ReadOnlyCollection<uint>(userIds);
        _itemAnnotations = KeyValues(itemIds);
        _userKeyType = new KeyDataViewType(typeof(uint), Math.Max(1, userIds.Length));
        _userAnnotations = KeyValues(userIds);

        Train = BuildView(0, train, trainTimestamps, null);
        Validation = BuildView(ValidationUserOffset, validationFoldIn, validationFoldInTimestamps, validationFoldOut);
        Test = BuildView(TestUserOffset, testFoldIn, testFoldInTimestamps, testFoldOut);
        ItemVocabulary = FitItemVocabulary(mlContext, itemIds);
        _trainWithFoldIn = new Lazy<(UserSequences, long[], IDataView)>(BuildTrainWithHeldOutFoldIn);
    }

    private readonly DataViewSchema.Annotations _itemAnnotations;
    private readonly DataViewSchema.Annotations _userAnnotations;
    private readonly KeyDataViewType _userKeyType;

    /// <summary>Training users: UserId, History (full time-ordered history), HistoryTimestamps.</summary>
    public IDataView Train { get; }

    /// <summary>Validation users: UserId, History (fold-in), HistoryTimestamps (of the fold-in), FoldOut.</summary>
    public IDataView Validation { get; }

    /// <summary>Test users: UserId, History (fold-in), HistoryTimestamps (of the fold-in), FoldOut.</summary>
    public IDataView Test { get; }

    /// <summary>N, the number of items: the distinct items of the training users (keys 1..N).</summary>
    public int ItemCount { get; }

    /// <summary>The raw item id of item key k at index k − 1 (keys are ordered by ascending raw id).</summary>
    public IReadOnlyList<uint> ItemIds { get; }

    /// <summary>The raw user id of user key k at index k − 1 (train users, then validation, then test users).</summary>
    public IReadOnlyList<uint> UserIds { get; }

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
    /// (<c>MapValueToKey</c> with the vocabulary as key data) that replaces the UInt32 column
    /// <see cref="InteractionColumns.ItemId"/> by a <c>Key&lt;UInt32&gt;</c> column of the same name with key count
    /// <see cref="ItemCount"/>; ids outside the vocabulary become the missing key 0.
    /// </summary>
    public ITransformer ItemVocabulary { get; }

    /// <summary>What each step kept and dropped.</summary>
    public ProtocolReport Report { get; }

    /// <summary>A copy of the options the data set was prepared with.</summary>
    public SequenceProtocolOptions Options { get; }

    /// <summary>
    /// The training rows followed by one row per validation and test user holding their fold-in as history
    /// (columns UserId, History, HistoryTimestamps; user keys as in the splits). This is the training set of
    /// the BPR*, FPMC and Caser protocol of section 5.3: models that need a learned embedding for every user they
    /// score are trained on it and still evaluated on the held-out users' fold-outs only.
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

    /// <summary>0-based position of the first validation user in the user key space (its key is this + 1).</summary>
    internal int ValidationUserOffset => TrainSequences.Count;

    /// <summary>0-based position of the first test user in the user key space.</summary>
    internal int TestUserOffset => TrainSequences.Count + ValidationFoldIn.Count;

    private IDataView BuildView(int userOffset, UserSequences history, long[] timestamps, UserSequences? foldOut)
    {
        int rows = history.Count;
        var userKeys = new uint[rows];
        for (int i = 0; i < rows; i++)
            userKeys[i] = (uint)(userOffset + i + 1);
        var columns = new List<ArrayColumn>
        {
            new ScalarArrayColumn<uint>(SequenceColumns.UserId, _userKeyType, userKeys, _userAnnotations),
            new ItemKeyVectorColumn(SequenceColumns.History, ItemCount, history.Offsets, history.Items, _itemAnnotations),
            new RaggedArrayColumn<long>(SequenceColumns.HistoryTimestamps, NumberDataViewType.Int64, history.Offsets, timestamps),
        };
        if (foldOut is not null)
            columns.Add(new ItemKeyVectorColumn(SequenceColumns.FoldOut, ItemCount, foldOut.Offsets, foldOut.Items, _itemAnnotations));
        return new ArrayDataView(rows, columns.ToArray());
    }

    private (UserSequences, long[], IDataView) BuildTrainWithHeldOutFoldIn()
    {
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
        return (combined, times, BuildView(0, combined, times, null));
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

    private static ITransformer FitItemVocabulary(MLContext mlContext, uint[] itemIds)
    {
        var keyData = new ArrayDataView(itemIds.Length,
            new ScalarArrayColumn<uint>(InteractionColumns.ItemId, NumberDataViewType.UInt32, itemIds));
        return mlContext.Transforms.Conversion
            .MapValueToKey(InteractionColumns.ItemId, InteractionColumns.ItemId, keyData: keyData)
            .Fit(keyData);
    }
}
