using Microsoft.ML;
using Microsoft.ML.Svae;

namespace Svae.Cli;

/// <summary>How a model is trained and evaluated under the paper's protocol (section 5.2-5.3).</summary>
internal enum ModelProtocol
{
    /// <summary>Train on the training users; evaluate held-out users' temporal fold-out.</summary>
    Temporal,

    /// <summary>As <see cref="Temporal"/>, but the held-out users' fold-in/fold-out split is random (Table 2's MVAE*).</summary>
    RandomSplit,

    /// <summary>The held-out users' fold-in is added to the training data (BPR*, FPMC, Caser: models with per-user parameters).</summary>
    TrainWithHeldOutFoldIn,
}

/// <summary>Settings a run passes to every model factory.</summary>
internal sealed record RunSettings(int? Epochs, bool Small, int Seed, int? NextK = null)
{
    /// <summary>Option values given with <c>--set Name=Value</c>, applied to every model whose options have that property.</summary>
    public IReadOnlyDictionary<string, string> Overrides { get; init; } = new Dictionary<string, string>();

    /// <summary>The checkpoint folder of this model and split (<c>--checkpoint</c>), or null.</summary>
    public string? CheckpointFolder { get; init; }

    /// <summary>Sets the overridden properties that <paramref name="options"/> has, and the checkpoint folder of neural models.</summary>
    public T Apply<T>(T options)
        where T : class
    {
        if (CheckpointFolder is not null && options is SequenceTrainerOptions neural)
            neural.CheckpointFolder = CheckpointFolder;
        foreach (var (name, text) in Overrides)
        {
            var property = SettableProperty(options.GetType(), name);
            if (property is null) continue;
            property.SetValue(options, ParseValue(property, name, text));
        }
        return options;
    }

    /// <summary>The public settable property <paramref name="name"/> (exact case) of an options type, or null.</summary>
    internal static System.Reflection.PropertyInfo? SettableProperty(Type optionsType, string name)
    {
        var property = optionsType.GetProperty(name);
        return property is { CanWrite: true } && property.SetMethod!.IsPublic && IsSettableType(property.PropertyType) ? property : null;
    }

    /// <summary>The types <c>--set</c> can parse: numbers, Boolean, enums and strings (and their nullable forms).</summary>
    private static bool IsSettableType(Type type)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        return type.IsEnum || type.IsPrimitive || type == typeof(string) || type == typeof(decimal);
    }

    /// <summary>Parses <c>--set</c>'s text for <paramref name="property"/>; a value that does not parse is a <see cref="CliException"/>.</summary>
    internal static object? ParseValue(System.Reflection.PropertyInfo property, string name, string text)
    {
        var underlying = Nullable.GetUnderlyingType(property.PropertyType);
        var type = underlying ?? property.PropertyType;
        if (underlying is not null && (text.Length == 0 || text.Equals("null", StringComparison.OrdinalIgnoreCase)))
            return null;
        if (type.IsEnum)
        {
            if (!text.All(char.IsDigit) && Enum.TryParse(type, text, ignoreCase: true, out object? member))
                return member;
            throw new CliException($"--set {name}={text}: '{text}' is not one of {string.Join(", ", Enum.GetNames(type))}.");
        }
        try
        {
            return Convert.ChangeType(text, type, System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is FormatException or OverflowException or InvalidCastException)
        {
            throw new CliException($"--set {name}={text}: '{text}' is not a valid {type.Name}.", e);
        }
    }
}

/// <summary>A model the runner knows: its Table 2 name, protocol, the paper's ML-1M figures and how to fit it.</summary>
internal sealed record ModelEntry(
    string Name,
    ModelProtocol Protocol,
    double[]? PaperMovieLens1M,
    Func<MLContext, RunSettings, IDataView, IDataView, RecommendationTransformer> Fit)
{
    /// <summary>The trainer's <c>Options</c> class, whose properties <c>--set</c> may set.</summary>
    public required Type OptionsType { get; init; }

    /// <summary>
    /// <c>svae sweep</c> of this model on a prepared split and the model's training data (null for POP, which has no
    /// hyperparameters): a random search over its options, starting from the options a run with the request's settings uses.
    /// </summary>
    public Func<SweepRequest, SequenceDataset, IDataView, Microsoft.Data.Analysis.DataFrame>? Sweep { get; init; }

    /// <summary>Checks a sweep request against this model's options before any data is read (null when <see cref="Sweep"/> is).</summary>
    public Action<SweepRequest>? CheckSweep { get; init; }

    public string ProtocolDescription => Protocol switch
    {
        ModelProtocol.Temporal => "temporal 80/20 fold-in/out",
        ModelProtocol.RandomSplit => "random 80/20 fold-in/out",
        ModelProtocol.TrainWithHeldOutFoldIn => "temporal; held-out fold-in added to training",
        _ => Protocol.ToString(),
    };
}

/// <summary>The models of Table 2, in the paper's row order, then GRU4Rec and SASRec (issue 15).</summary>
internal static class ModelRegistry
{
    /// <summary>
    /// The models of the paper's Table 2: <c>reproduce</c>'s default list, so that the main example stays a few
    /// minutes long. GRU4Rec and SASRec (issue 15) run when named in <c>--models</c>.
    /// </summary>
    public static IReadOnlyList<ModelEntry> Table2 => All.Where(m => m.Name is not ("GRU4Rec" or "SASRec") && !SequentialVaes.Contains(m)).ToList();

    /// <summary>
    /// The four sequential VAEs of section 4.3.2 (fig. 2a-d; issue 14), named <c>SeqVAE-&lt;Variant&gt;</c>: run when named in
    /// <c>--models</c> or all at once with <c>reproduce --variants</c>.
    /// </summary>
    public static IReadOnlyList<ModelEntry> SequentialVaes => All.Where(m => m.OptionsType == typeof(SequentialVaeTrainer.Options)).ToList();

    /// <summary>Table 2, MovieLens-1M: NDCG@10, NDCG@100, Recall@10, Recall@100, P@10, P@100 (percent).</summary>
    private static readonly Dictionary<string, double[]> Paper = new()
    {
        ["POP"] = new[] { 4.24, 11.30, 3.41, 22.15, 3.98, 3.14 },
        ["BPR*"] = new[] { 8.51, 16.66, 5.20, 29.38, 7.27, 4.51 },
        ["RVAE"] = new[] { 7.76, 14.02, 4.11, 23.82, 6.39, 3.96 },
        ["FPMC"] = new[] { 5.65, 12.06, 3.46, 23.10, 4.77, 3.46 },
        ["Caser"] = new[] { 16.32, 27.55, 11.35, 46.01, 13.15, 6.45 },
        ["MVAE"] = new[] { 11.69, 23.01, 9.12, 41.43, 9.02, 5.39 },
        ["SVAE"] = new[] { 17.81, 29.93, 12.48, 49.09, 14.40, 6.93 },
        ["MVAE*"] = new[] { 27.82, 39.79, 17.46, 59.70, 23.01, 9.59 },
    };

    public static IReadOnlyList<ModelEntry> All { get; } = new List<ModelEntry>
    {
        Entry("POP", ModelProtocol.Temporal, Paper["POP"], s => s.Apply(new PopularityTrainer.Options()),
            (ml, o, train, validation) => ml.Recommendation().Trainers.Popularity(o).Fit(train)),
        Neural("BPR*", ModelProtocol.TrainWithHeldOutFoldIn, Paper["BPR*"], s => WithEpochs(new BprTrainer.Options(), s, 20),
            (ml, o, train, validation) => ml.Recommendation().Trainers.Bpr(o).Fit(train, validation)),
        Neural("RVAE", ModelProtocol.Temporal, Paper["RVAE"], s => WithEpochs(new RvaeTrainer.Options(), s, 10),
            (ml, o, train, validation) => ml.Recommendation().Trainers.Rvae(o).Fit(train, validation)),
        Neural("FPMC", ModelProtocol.TrainWithHeldOutFoldIn, Paper["FPMC"], s => WithEpochs(new FpmcTrainer.Options(), s, 20),
            (ml, o, train, validation) => ml.Recommendation().Trainers.Fpmc(o).Fit(train, validation)),
        Neural("Caser", ModelProtocol.TrainWithHeldOutFoldIn, Paper["Caser"], s => WithEpochs(new CaserTrainer.Options(), s, 10),
            (ml, o, train, validation) => ml.Recommendation().Trainers.Caser(o).Fit(train, validation)),
        Neural("MVAE", ModelProtocol.Temporal, Paper["MVAE"], s => WithEpochs(new MvaeTrainer.Options(), s, 60),
            (ml, o, train, validation) => ml.Recommendation().Trainers.Mvae(o).Fit(train, validation)),
        Neural("SVAE", ModelProtocol.Temporal, Paper["SVAE"], SvaeOptions,
            (ml, o, train, validation) => ml.Recommendation().Trainers.Svae(o).Fit(train, validation)),
        Neural("MVAE*", ModelProtocol.RandomSplit, Paper["MVAE*"], s => WithEpochs(new MvaeTrainer.Options(), s, 60),
            (ml, o, train, validation) => ml.Recommendation().Trainers.Mvae(o).Fit(train, validation)),
        Neural("GRU4Rec", ModelProtocol.Temporal, null, s => WithEpochs(new Gru4RecTrainer.Options(), s, 10),
            (ml, o, train, validation) => ml.Recommendation().Trainers.Gru4Rec(o).Fit(train, validation)),
        Neural("SASRec", ModelProtocol.Temporal, null, s => WithEpochs(new SasrecTrainer.Options(), s, 10),
            (ml, o, train, validation) => ml.Recommendation().Trainers.Sasrec(o).Fit(train, validation)),
        SequentialVae(SequentialVaeVariant.GlobalLatent),
        SequentialVae(SequentialVaeVariant.LatentInRecurrence),
        SequentialVae(SequentialVaeVariant.LearnedPrior),
        SequentialVae(SequentialVaeVariant.GlobalRecurrence),
    };

    private static ModelEntry SequentialVae(SequentialVaeVariant variant)
        => Neural(SequentialVaeTrainer.ModelNameOf(variant), ModelProtocol.Temporal, null, s => SequentialVaeOptions(s, variant),
            (ml, o, train, validation) => ml.Recommendation().Trainers.SequentialVae(o).Fit(train, validation),
            identity: nameof(SequentialVaeTrainer.Options.Variant));

    /// <summary>A model whose run options come from <paramref name="options"/> and are fitted by <paramref name="fit"/>.</summary>
    private static ModelEntry Entry<TOptions>(string name, ModelProtocol protocol, double[]? paper, Func<RunSettings, TOptions> options,
        Func<MLContext, TOptions, IDataView, IDataView, RecommendationTransformer> fit)
        where TOptions : class
        => new(name, protocol, paper, (ml, s, train, validation) => fit(ml, options(s), train, validation)) { OptionsType = typeof(TOptions) };

    /// <summary>
    /// A neural model: as <see cref="Entry{TOptions}"/>, and <c>svae sweep</c> can search its options, starting from the
    /// run's options. <paramref name="identity"/> names an option that selects the model itself (never swept).
    /// </summary>
    private static ModelEntry Neural<TOptions>(string name, ModelProtocol protocol, double[]? paper, Func<RunSettings, TOptions> options,
        Func<MLContext, TOptions, IDataView, IDataView, RecommendationTransformer> fit, string? identity = null)
        where TOptions : SequenceTrainerOptions, new()
        => Entry(name, protocol, paper, options, fit) with
        {
            CheckSweep = request => HyperparameterSweep.Space<TOptions>(request, identity),
            Sweep = (request, dataset, train) => HyperparameterSweep.Run(request, options(request.Settings), o =>
            {
                using var model = (TrainedRecommendationTransformer)fit(request.Ml, o, train, dataset.Validation);
                return model.TrainingHistory.Max(e => e.ValidationNdcg ?? 0);
            }, identity),
        };

    /// <summary>The suffix of a history-only model's row when it also trains on the held-out users' fold-ins.</summary>
    public const string FoldInSuffix = "+fold-in";

    /// <summary>
    /// <paramref name="models"/> with, after each model that trains on the training users only (POP, RVAE, MVAE, SVAE,
    /// GRU4Rec, SASRec), the same model trained as BPR*, FPMC and Caser are: on the training users plus the held-out users'
    /// fold-ins (never their fold-outs). Its row is named <c>&lt;model&gt;+fold-in</c>, so the table reads both ways.
    /// </summary>
    public static List<ModelEntry> WithFoldInVariants(IReadOnlyList<ModelEntry> models)
    {
        var result = new List<ModelEntry>();
        foreach (var model in models)
        {
            result.Add(model);
            if (model.Protocol == ModelProtocol.Temporal)
                result.Add(model with { Name = model.Name + FoldInSuffix, Protocol = ModelProtocol.TrainWithHeldOutFoldIn, PaperMovieLens1M = null });
        }
        return result;
    }

    /// <summary>
    /// The model named <paramref name="name"/> (any case). A history-only model's name with <see cref="FoldInSuffix"/>
    /// (e.g. <c>SVAE+fold-in</c>) is that model trained on the held-out users' fold-ins too, the row
    /// <c>--history-models-also-on-fold-in</c> adds, so that row can be run (or swept) alone.
    /// </summary>
    public static ModelEntry Find(string name)
    {
        var found = All.FirstOrDefault(m => string.Equals(m.Name, name, StringComparison.OrdinalIgnoreCase));
        if (found is not null) return found;
        if (name.EndsWith(FoldInSuffix, StringComparison.OrdinalIgnoreCase))
        {
            string baseName = name[..^FoldInSuffix.Length];
            var plain = All.FirstOrDefault(m => string.Equals(m.Name, baseName, StringComparison.OrdinalIgnoreCase));
            if (plain is { Protocol: ModelProtocol.Temporal })
                return WithFoldInVariants(new[] { plain })[1];
        }
        throw new ArgumentException($"Unknown model '{name}'. Known models: {string.Join(", ", All.Select(m => m.Name))}, "
            + $"and {string.Join(", ", All.Where(m => m.Protocol == ModelProtocol.Temporal).Select(m => m.Name + FoldInSuffix))}.");
    }

    /// <summary>
    /// Checks <c>--set</c> values before anything runs: every name must be a settable property of the options of at
    /// least one of <paramref name="models"/> (exact case), every value must parse, and each model's options with the
    /// values set must pass the options' own validation.
    /// </summary>
    public static void CheckOverrides(IReadOnlyDictionary<string, string> overrides, IReadOnlyList<ModelEntry> models)
    {
        if (overrides.Count == 0) return;
        foreach (var (name, text) in overrides)
        {
            var owners = models.Where(m => RunSettings.SettableProperty(m.OptionsType, name) is not null).ToList();
            if (owners.Count == 0)
            {
                var valid = models.SelectMany(m => m.OptionsType.GetProperties().Where(p => RunSettings.SettableProperty(m.OptionsType, p.Name) is not null).Select(p => p.Name))
                    .Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal);
                throw new CliException($"--set {name}: no option '{name}' in the options of {string.Join(", ", models.Select(m => m.Name))}. Valid names: {string.Join(", ", valid)}.");
            }
            foreach (var owner in owners)
                RunSettings.ParseValue(RunSettings.SettableProperty(owner.OptionsType, name)!, name, text);
        }
        var settings = new RunSettings(null, false, 1) { Overrides = overrides };
        foreach (var model in models)
        {
            var options = settings.Apply(Activator.CreateInstance(model.OptionsType)!);
            try
            {
                (options as RecommendationTrainerOptions)?.Validate();
            }
            catch (ArgumentException e)
            {
                throw new CliException($"--set: {model.Name}: {CliErrors.OneLine(e.Message)}", e);
            }
        }
    }

    /// <summary>SVAE's options for a run: the paper's network, or a small one for the quick synthetic default.</summary>
    public static SvaeTrainer.Options SvaeOptions(RunSettings s)
    {
        var options = new SvaeTrainer.Options { Seed = s.Seed };
        if (s.Small)
        {
            options.EmbeddingSize = 64;
            options.RecurrentSize = 64;
            options.EncoderSize = 64;
            options.LatentSize = 32;
            options.DecoderSize = 64;
            options.NumberOfEpochs = 30;
            options.BatchSize = 16;
        }
        if (s.Epochs is int epochs) options.NumberOfEpochs = epochs;
        s.Apply(options);
        if (s.NextK is int k) options.NextK = k;
        return options;
    }

    /// <summary>A sequential VAE's options for a run: SVAE's sizes, or SVAE's small network for the quick synthetic default.</summary>
    public static SequentialVaeTrainer.Options SequentialVaeOptions(RunSettings s, SequentialVaeVariant variant)
    {
        var options = new SequentialVaeTrainer.Options { Variant = variant, Seed = s.Seed };
        if (s.Small)
        {
            options.EmbeddingSize = 64;
            options.RecurrentSize = 64;
            options.EncoderSize = 64;
            options.LatentSize = 32;
            options.DecoderSize = 64;
            options.NumberOfEpochs = 30;
            options.BatchSize = 16;
        }
        if (s.Epochs is int epochs) options.NumberOfEpochs = epochs;
        return s.Apply(options);
    }

    /// <summary>Applies the run's epoch count to any trainer's options.</summary>
    public static T WithEpochs<T>(T options, RunSettings s, int smallEpochs)
        where T : SequenceTrainerOptions
    {
        options.Seed = s.Seed;
        if (s.Small) options.NumberOfEpochs = smallEpochs;
        if (s.Epochs is int epochs) options.NumberOfEpochs = epochs;
        return s.Apply(options);
    }
}
