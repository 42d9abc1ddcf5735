namespace Microsoft.ML.Svae;

/// <summary>
/// Entry points of MLNet.Svae on <see cref="MLContext"/>: <c>mlContext.SequenceRecommendation()</c>, and
/// <c>mlContext.Recommendation()</c> for apps that do not reference ML.NET's <c>Microsoft.ML.Recommender</c>.
/// </summary>
/// <remarks>
/// <para>
/// ML.NET's own recommender package (<c>Microsoft.ML.Recommender</c>, matrix factorization; every AutoML app
/// references it) defines <c>Recommendation(this MLContext)</c> in namespace <c>Microsoft.ML</c>. These
/// extensions live in namespace <c>Microsoft.ML.Svae</c> and our catalog types have names of their own, so an app
/// that references both packages compiles, and ML.NET's <c>mlContext.Recommendation()</c> keeps working in every
/// file that does not import <c>Microsoft.ML.Svae</c>.
/// </para>
/// <para>
/// In a file that imports both <c>Microsoft.ML</c> and <c>Microsoft.ML.Svae</c> while referencing
/// <c>Microsoft.ML.Recommender</c>, <c>mlContext.Recommendation()</c> is ambiguous (CS0121): use
/// <see cref="SequenceRecommendation(MLContext)"/> there, which always works.
/// </para>
/// </remarks>
public static class SequenceRecommendationExtensions
{
    /// <summary>
    /// The sequence-recommendation catalog of MLNet.Svae: trainers, data protocol and evaluation. Unambiguous
    /// next to ML.NET's <c>Microsoft.ML.Recommender</c>; the same catalog as <see cref="Recommendation(MLContext)"/>.
    /// </summary>
    /// <param name="mlContext">The ML.NET context.</param>
    public static SequenceRecommendationCatalog SequenceRecommendation(this MLContext mlContext)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        return new SequenceRecommendationCatalog(mlContext);
    }

    /// <summary>
    /// The sequence-recommendation catalog of MLNet.Svae (as <see cref="SequenceRecommendation(MLContext)"/>).
    /// In a file that imports <c>Microsoft.ML.Svae</c> in an app that also references ML.NET's
    /// <c>Microsoft.ML.Recommender</c>, this call is ambiguous with ML.NET's own <c>Recommendation()</c>
    /// (CS0121): call <see cref="SequenceRecommendation(MLContext)"/> there.
    /// </summary>
    /// <param name="mlContext">The ML.NET context.</param>
    public static SequenceRecommendationCatalog Recommendation(this MLContext mlContext)
        => SequenceRecommendation(mlContext);
}

/// <summary>
/// Trainers, data steps and evaluation for sequence recommendation (Sachdeva et al., WSDM 2019).
/// Reached through <c>mlContext.SequenceRecommendation()</c> or <c>mlContext.Recommendation()</c>
/// (see <see cref="SequenceRecommendationExtensions"/>).
/// </summary>
public sealed class SequenceRecommendationCatalog
{
    internal SequenceRecommendationCatalog(MLContext mlContext)
    {
        Environment = mlContext;
        Trainers = new SequenceRecommendationTrainers(mlContext);
        Data = new SequenceDataCatalog(mlContext);
    }

    internal MLContext Environment { get; }

    /// <summary>The recommenders: POP, SVAE, MVAE, RVAE, BPR, FPMC, Caser, GRU4Rec, SASRec.</summary>
    public SequenceRecommendationTrainers Trainers { get; }

    /// <summary>The data protocol of section 5: readers, binarization, sequences, user split, fold-in/fold-out, statistics, synthetic data.</summary>
    public SequenceDataCatalog Data { get; }

    /// <summary>
    /// Evaluates recommendations as section 5.2 defines: for each held-out user, NDCG, Recall (hits / |R|)
    /// and Precision at each cutoff, ranking all items not in the user's history against the fold-out R.
    /// </summary>
    /// <param name="data">A transformer's output: the history (fold-in), the fold-out and the top-K items (or a full score vector).</param>
    /// <param name="foldOutColumnName">The relevant items R (<c>Vector&lt;Key&lt;UInt32&gt;&gt;</c>).</param>
    /// <param name="historyColumnName">The fold-in, whose items are excluded from the ranking.</param>
    /// <param name="topItemsColumnName">The ranked items, best first.</param>
    /// <param name="cutoffs">The cutoffs n; default 10 and 100.</param>
    public RecommendationMetrics Evaluate(IDataView data, string foldOutColumnName = SequenceColumns.FoldOut,
        string historyColumnName = SequenceColumns.History, string topItemsColumnName = SequenceColumns.TopItems, IReadOnlyList<int>? cutoffs = null)
        => Evaluate(data, new RecommendationEvaluatorOptions
        {
            FoldOutColumnName = foldOutColumnName,
            HistoryColumnName = historyColumnName,
            TopItemsColumnName = topItemsColumnName,
            Cutoffs = cutoffs ?? new[] { 10, 100 },
        });

    /// <summary>
    /// Saves a model (a fitted recommender, or any chain containing one) as an ML.NET zip, atomically: the
    /// zip is written to a temporary file beside <paramref name="path"/> and renamed over it, so a reader
    /// never sees a half-written model and a failed save leaves the previous file intact.
    /// </summary>
    /// <remarks>
    /// A fitted recommender's zip reads the user's own item ids (see <see cref="RecommendationTransformer.ItemIdType"/>),
    /// so for a recommender the schema stored in the zip (the one <c>mlContext.Model.Load</c> returns) has the history
    /// column as a vector of ids, whatever key-typed schema is passed. To save a zip that reads keys, save
    /// <see cref="RecommendationTransformer.AsKeyInputModel"/> instead.
    /// </remarks>
    /// <param name="model">The model to save.</param>
    /// <param name="inputSchema">The schema of the data the model reads (e.g. the training data's).</param>
    /// <param name="path">The zip file to write.</param>
    public void SaveModel(ITransformer model, DataViewSchema inputSchema, string path)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(inputSchema);
        ArgumentException.ThrowIfNullOrEmpty(path);
        // A fitted recommender saves its id form: record the input schema that form reads.
        if (model is RecommendationTransformer recommender)
            inputSchema = recommender.IdInputSchema(inputSchema);
        ModelFiles.WriteAtomically(path, stream => Environment.Model.Save(model, inputSchema, stream));
    }

    /// <summary>
    /// Loads a model zip as <c>mlContext.Model.Load</c> does (the result is ML.NET's own <see cref="ITransformer"/>),
    /// but a damaged file raises one <see cref="InvalidDataException"/> saying so (an unreadable zip, or an ONNX graph
    /// that ONNX Runtime cannot read) instead of ML.NET's nested instantiation errors. Dispose the model when done.
    /// </summary>
    /// <param name="path">The zip file.</param>
    /// <param name="inputSchema">The schema of the data the model reads.</param>
    public ITransformer LoadModel(string path, out DataViewSchema inputSchema)
        => ModelLoading.Load(Environment, path, out inputSchema);

    /// <summary>Evaluates recommendations with all options (e.g. a full score column instead of a top-K list).</summary>
    public RecommendationMetrics Evaluate(IDataView data, RecommendationEvaluatorOptions options)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(options);
        return RecommendationEvaluator.Evaluate(data, options);
    }
}

/// <summary>The trainers of <see cref="SequenceRecommendationCatalog"/>.</summary>
public sealed class SequenceRecommendationTrainers
{
    private readonly MLContext _mlContext;

    internal SequenceRecommendationTrainers(MLContext mlContext) => _mlContext = mlContext;

    /// <summary>POP: the most popular training items the user has not seen.</summary>
    /// <param name="historyColumnName">The history column (variable-length <c>Vector&lt;Key&lt;UInt32&gt;&gt;</c>).</param>
    /// <param name="topK">The length of the recommendation list.</param>
    public PopularityTrainer Popularity(string historyColumnName = SequenceColumns.History, int topK = 100)
        => Popularity(new PopularityTrainer.Options { HistoryColumnName = historyColumnName, TopK = topK });

    /// <summary>POP with all options.</summary>
    public PopularityTrainer Popularity(PopularityTrainer.Options options)
        => new(_mlContext, options);

    /// <summary>SVAE, the sequential variational autoencoder (Sachdeva et al., WSDM 2019), with the paper's architecture.</summary>
    /// <param name="historyColumnName">The history column (variable-length <c>Vector&lt;Key&lt;UInt32&gt;&gt;</c>, time-ordered).</param>
    /// <param name="numberOfEpochs">The maximum number of epochs.</param>
    /// <param name="nextK">k, the number of next items each step predicts (eq. 4.9).</param>
    /// <param name="learningRate">Adam's learning rate.</param>
    public SvaeTrainer Svae(string historyColumnName = SequenceColumns.History, int numberOfEpochs = SvaeTrainer.Defaults.NumberOfEpochs,
        int nextK = SvaeTrainer.Defaults.NextK, double learningRate = SvaeTrainer.Defaults.LearningRate)
        => Svae(new SvaeTrainer.Options { HistoryColumnName = historyColumnName, NumberOfEpochs = numberOfEpochs, NextK = nextK, LearningRate = learningRate });

    /// <summary>SVAE with all options.</summary>
    public SvaeTrainer Svae(SvaeTrainer.Options options)
        => new(_mlContext, options);

    /// <summary>MVAE, the multinomial variational autoencoder of Liang et al. (WWW 2018; section 4.1), with their architecture and settings.</summary>
    /// <param name="historyColumnName">The history column (variable-length <c>Vector&lt;Key&lt;UInt32&gt;&gt;</c>; order is ignored).</param>
    /// <param name="numberOfEpochs">The maximum number of epochs.</param>
    /// <param name="learningRate">Adam's learning rate.</param>
    public MvaeTrainer Mvae(string historyColumnName = SequenceColumns.History, int numberOfEpochs = MvaeTrainer.Defaults.NumberOfEpochs,
        double learningRate = MvaeTrainer.Defaults.LearningRate)
        => Mvae(new MvaeTrainer.Options { HistoryColumnName = historyColumnName, NumberOfEpochs = numberOfEpochs, LearningRate = learningRate });

    /// <summary>MVAE with all options.</summary>
    public MvaeTrainer Mvae(MvaeTrainer.Options options)
        => new(_mlContext, options);

    /// <summary>RVAE, the ranking variational autoencoder of section 4.2 (eq. 4.4), with the architecture of section 5.4.</summary>
    /// <param name="historyColumnName">The history column (variable-length <c>Vector&lt;Key&lt;UInt32&gt;&gt;</c>; order is ignored).</param>
    /// <param name="numberOfEpochs">The maximum number of epochs.</param>
    /// <param name="negativesPerPositive">The non-preferred items drawn for each event of a training history.</param>
    /// <param name="learningRate">Adam's learning rate.</param>
    public RvaeTrainer Rvae(string historyColumnName = SequenceColumns.History, int numberOfEpochs = RvaeTrainer.Defaults.NumberOfEpochs,
        int negativesPerPositive = RvaeTrainer.Defaults.NegativesPerPositive, double learningRate = RvaeTrainer.Defaults.LearningRate)
        => Rvae(new RvaeTrainer.Options
        {
            HistoryColumnName = historyColumnName,
            NumberOfEpochs = numberOfEpochs,
            NegativesPerPositive = negativesPerPositive,
            LearningRate = learningRate,
        });

    /// <summary>RVAE with all options.</summary>
    public RvaeTrainer Rvae(RvaeTrainer.Options options)
        => new(_mlContext, options);

    /// <summary>
    /// BPR, matrix factorisation with Bayesian Personalized Ranking (Rendle et al., UAI 2009): one vector per
    /// user, so train it on <c>SequenceDataset.TrainWithHeldOutFoldIn()</c> (the paper's BPR* protocol).
    /// </summary>
    /// <param name="historyColumnName">The history column (variable-length <c>Vector&lt;Key&lt;UInt32&gt;&gt;</c>).</param>
    /// <param name="userIdColumnName">The user key column (<c>Key&lt;UInt32&gt;</c>).</param>
    /// <param name="embeddingSize">The size of the user and item factor vectors (their number of latent factors).</param>
    /// <param name="numberOfEpochs">The maximum number of epochs.</param>
    /// <param name="learningRate">Adam's learning rate.</param>
    public BprTrainer Bpr(string historyColumnName = SequenceColumns.History, string userIdColumnName = SequenceColumns.UserId,
        int embeddingSize = BprTrainer.Defaults.EmbeddingSize, int numberOfEpochs = BprTrainer.Defaults.NumberOfEpochs,
        double learningRate = BprTrainer.Defaults.LearningRate)
        => Bpr(new BprTrainer.Options
        {
            HistoryColumnName = historyColumnName,
            UserIdColumnName = userIdColumnName,
            EmbeddingSize = embeddingSize,
            NumberOfEpochs = numberOfEpochs,
            LearningRate = learningRate,
        });

    /// <summary>BPR with all options.</summary>
    public BprTrainer Bpr(BprTrainer.Options options)
        => new(_mlContext, options);

    /// <summary>
    /// FPMC, the factorised personalised Markov chain (Rendle et al., WWW 2010): one vector per user, so train it
    /// on <c>SequenceDataset.TrainWithHeldOutFoldIn()</c> (the paper's protocol for models with per-user parameters).
    /// </summary>
    /// <param name="historyColumnName">The history column (variable-length <c>Vector&lt;Key&lt;UInt32&gt;&gt;</c>, time-ordered).</param>
    /// <param name="userIdColumnName">The user key column (<c>Key&lt;UInt32&gt;</c>).</param>
    /// <param name="embeddingSize">The size of the user and item factor vectors (their number of latent factors).</param>
    /// <param name="numberOfEpochs">The maximum number of epochs.</param>
    /// <param name="learningRate">Adam's learning rate.</param>
    public FpmcTrainer Fpmc(string historyColumnName = SequenceColumns.History, string userIdColumnName = SequenceColumns.UserId,
        int embeddingSize = FpmcTrainer.Defaults.EmbeddingSize, int numberOfEpochs = FpmcTrainer.Defaults.NumberOfEpochs,
        double learningRate = FpmcTrainer.Defaults.LearningRate)
        => Fpmc(new FpmcTrainer.Options
        {
            HistoryColumnName = historyColumnName,
            UserIdColumnName = userIdColumnName,
            EmbeddingSize = embeddingSize,
            NumberOfEpochs = numberOfEpochs,
            LearningRate = learningRate,
        });

    /// <summary>FPMC with all options.</summary>
    public FpmcTrainer Fpmc(FpmcTrainer.Options options)
        => new(_mlContext, options);

    /// <summary>
    /// Caser, the convolutional sequence embedding recommender (Tang and Wang, WSDM 2018), with the authors'
    /// architecture: one embedding per user, so train it on <c>SequenceDataset.TrainWithHeldOutFoldIn()</c>.
    /// </summary>
    /// <param name="historyColumnName">The history column (variable-length <c>Vector&lt;Key&lt;UInt32&gt;&gt;</c>, time-ordered).</param>
    /// <param name="userIdColumnName">The user key column (<c>Key&lt;UInt32&gt;</c>).</param>
    /// <param name="sequenceLength">L, the number of previous items the convolutions read.</param>
    /// <param name="targetLength">T, the number of next items each training window predicts.</param>
    /// <param name="numberOfEpochs">The maximum number of epochs.</param>
    /// <param name="learningRate">Adam's learning rate.</param>
    public CaserTrainer Caser(string historyColumnName = SequenceColumns.History, string userIdColumnName = SequenceColumns.UserId,
        int sequenceLength = CaserTrainer.Defaults.SequenceLength, int targetLength = CaserTrainer.Defaults.TargetLength,
        int numberOfEpochs = CaserTrainer.Defaults.NumberOfEpochs, double learningRate = CaserTrainer.Defaults.LearningRate)
        => Caser(new CaserTrainer.Options
        {
            HistoryColumnName = historyColumnName,
            UserIdColumnName = userIdColumnName,
            SequenceLength = sequenceLength,
            TargetLength = targetLength,
            NumberOfEpochs = numberOfEpochs,
            LearningRate = learningRate,
        });

    /// <summary>Caser with all options.</summary>
    public CaserTrainer Caser(CaserTrainer.Options options)
        => new(_mlContext, options);

    /// <summary>
    /// GRU4Rec, the recurrent next-item recommender (Hidasi et al., ICLR 2016), trained with full cross-entropy over
    /// all items as RecBole benchmarks it; scores a user from the history alone.
    /// </summary>
    /// <param name="historyColumnName">The history column (variable-length <c>Vector&lt;Key&lt;UInt32&gt;&gt;</c>, time-ordered).</param>
    /// <param name="numberOfEpochs">The maximum number of epochs.</param>
    /// <param name="learningRate">Adam's learning rate.</param>
    public Gru4RecTrainer Gru4Rec(string historyColumnName = SequenceColumns.History, int numberOfEpochs = Gru4RecTrainer.Defaults.NumberOfEpochs,
        double learningRate = Gru4RecTrainer.Defaults.LearningRate)
        => Gru4Rec(new Gru4RecTrainer.Options { HistoryColumnName = historyColumnName, NumberOfEpochs = numberOfEpochs, LearningRate = learningRate });

    /// <summary>GRU4Rec with all options.</summary>
    public Gru4RecTrainer Gru4Rec(Gru4RecTrainer.Options options)
        => new(_mlContext, options);

    /// <summary>
    /// One of the four sequential VAEs of section 4.3.2 (fig. 2a-d) of Sachdeva et al. (WSDM 2019), with SVAE's sizes
    /// and next-k likelihood; scores a user from the history alone.
    /// </summary>
    /// <param name="variant">Which model of fig. 2: global latent (2a), latent in the recurrence (2b), learned prior (2c) or global recurrence (2d).</param>
    /// <param name="historyColumnName">The history column (variable-length <c>Vector&lt;Key&lt;UInt32&gt;&gt;</c>, time-ordered).</param>
    /// <param name="numberOfEpochs">The maximum number of epochs.</param>
    /// <param name="learningRate">Adam's learning rate.</param>
    public SequentialVaeTrainer SequentialVae(SequentialVaeVariant variant, string historyColumnName = SequenceColumns.History,
        int numberOfEpochs = SequentialVaeTrainer.Defaults.NumberOfEpochs, double learningRate = SequentialVaeTrainer.Defaults.LearningRate)
        => SequentialVae(new SequentialVaeTrainer.Options
        {
            Variant = variant,
            HistoryColumnName = historyColumnName,
            NumberOfEpochs = numberOfEpochs,
            LearningRate = learningRate,
        });

    /// <summary>A sequential VAE of section 4.3.2 with all options (<see cref="SequentialVaeTrainer.Options.Variant"/> picks the model).</summary>
    public SequentialVaeTrainer SequentialVae(SequentialVaeTrainer.Options options)
        => new(_mlContext, options);

    /// <summary>
    /// SASRec, the self-attentive sequential recommender (Kang and McAuley, ICDM 2018), with the paper's architecture
    /// and full cross-entropy over all items; scores a user from the most recent <paramref name="maxHistoryLength"/> items alone.
    /// </summary>
    /// <param name="historyColumnName">The history column (variable-length <c>Vector&lt;Key&lt;UInt32&gt;&gt;</c>, time-ordered).</param>
    /// <param name="numberOfEpochs">The maximum number of epochs.</param>
    /// <param name="maxHistoryLength">n, the most recent items the model reads (its number of positional embeddings).</param>
    /// <param name="learningRate">Adam's learning rate.</param>
    public SasrecTrainer Sasrec(string historyColumnName = SequenceColumns.History, int numberOfEpochs = SasrecTrainer.Defaults.NumberOfEpochs,
        int maxHistoryLength = SasrecTrainer.Defaults.MaxHistoryLength, double learningRate = SasrecTrainer.Defaults.LearningRate)
        => Sasrec(new SasrecTrainer.Options
        {
            HistoryColumnName = historyColumnName,
            NumberOfEpochs = numberOfEpochs,
            MaxHistoryLength = maxHistoryLength,
            LearningRate = learningRate,
        });

    /// <summary>SASRec with all options.</summary>
    public SasrecTrainer Sasrec(SasrecTrainer.Options options)
        => new(_mlContext, options);
}
