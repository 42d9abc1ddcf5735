using System.Collections.Immutable;
using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace Microsoft.ML.Svae.Tests.Api;

/// <summary>
/// Compiles small apps in memory against our assembly and against stubs that carry the public names of ML.NET
/// packages not available here: <c>Microsoft.ML.Recommender</c> (matrix factorization, which every AutoML app
/// references), <c>Microsoft.ML.AutoML</c> and <c>Microsoft.ML.SearchSpace</c>. It pins which calls compile next to
/// ML.NET's recommender and which are ambiguous, and that the code of docs/AUTOML.md compiles.
/// </summary>
public class ApiCompatibilityTests
{
    /// <summary>
    /// The public names of Microsoft.ML.Recommender 5.x (dotnet/machinelearning, src/Microsoft.ML.Recommender/RecommenderCatalog.cs):
    /// the extension class <c>Microsoft.ML.RecommenderCatalog</c> with <c>Recommendation(this MLContext)</c>, the catalog
    /// <c>Microsoft.ML.RecommendationCatalog</c> with its nested <c>RecommendationTrainers</c>, and the trainer.
    /// </summary>
    private const string RecommenderStub = """
        namespace Microsoft.ML
        {
            public static class RecommenderCatalog
            {
                public static RecommendationCatalog Recommendation(this MLContext ctx) => new RecommendationCatalog();
            }

            public sealed class RecommendationCatalog
            {
                public RecommendationTrainers Trainers { get; } = new RecommendationTrainers();

                public sealed class RecommendationTrainers
                {
                    public Microsoft.ML.Trainers.MatrixFactorizationTrainer MatrixFactorization(string labelColumnName, string matrixColumnIndexColumnName,
                        string matrixRowIndexColumnName, int approximationRank = 8, double learningRate = 0.1, int numberOfIterations = 20)
                        => new Microsoft.ML.Trainers.MatrixFactorizationTrainer();

                    public Microsoft.ML.Trainers.MatrixFactorizationTrainer MatrixFactorization(Microsoft.ML.Trainers.MatrixFactorizationTrainer.Options options)
                        => new Microsoft.ML.Trainers.MatrixFactorizationTrainer();
                }
            }
        }

        namespace Microsoft.ML.Trainers
        {
            public sealed class MatrixFactorizationTrainer
            {
                public sealed class Options
                {
                    public string LabelColumnName { get; set; } = "Label";
                }
            }
        }
        """;

    /// <summary>The AutoML and SearchSpace types docs/AUTOML.md uses, with the signatures of Microsoft.ML.AutoML 0.21+.</summary>
    private const string AutoMLStub = """
        using System;
        using System.Threading;
        using System.Threading.Tasks;

        namespace Microsoft.ML.SearchSpace
        {
            public class SearchSpace<T> where T : class, new() { }

            public sealed class Parameter
            {
                public Parameter this[string key] => this;
                public T AsType<T>() => default!;
            }
        }

        namespace Microsoft.ML.AutoML
        {
            using Microsoft.ML.SearchSpace;

            public static class MLContextExtension
            {
                public static AutoCatalog Auto(this MLContext mlContext) => new AutoCatalog();
            }

            public sealed class AutoCatalog
            {
                public SweepableEstimator CreateSweepableEstimator<T>(Func<MLContext, T, IEstimator<ITransformer>> factory, SearchSpace<T> ss = null!)
                    where T : class, new() => new SweepableEstimator();

                public AutoMLExperiment CreateExperiment() => new AutoMLExperiment();
            }

            public interface ISweepable<out T> { }

            public class SweepableEstimator : ISweepable<IEstimator<ITransformer>> { }

            public class SweepablePipeline
            {
                public SweepablePipeline Append(params ISweepable<IEstimator<ITransformer>>[] sweepables) => this;
            }

            public class AutoMLExperiment
            {
                public AutoMLExperiment SetTrainingTimeInSeconds(uint trainingTimeInSeconds) => this;
                public AutoMLExperiment SetTrialRunner<TTrialRunner>(TTrialRunner runner) where TTrialRunner : class, ITrialRunner => this;
                public Task<TrialResult> RunAsync(CancellationToken ct = default) => Task.FromResult(new TrialResult());
            }

            public static class AutoMLExperimentExtension
            {
                public static AutoMLExperiment SetPipeline(this AutoMLExperiment experiment, SweepablePipeline pipeline) => experiment;
            }

            public interface ITrialRunner : IDisposable
            {
                Task<TrialResult> RunAsync(TrialSettings settings, CancellationToken ct);
            }

            public class TrialSettings
            {
                public int TrialId { get; set; }
                public Parameter Parameter { get; set; } = new Parameter();
            }

            public class TrialResult
            {
                public TrialSettings TrialSettings { get; set; } = new TrialSettings();
                public ITransformer Model { get; set; } = null!;
                public double Loss { get; set; }
                public double Metric { get; set; }
                public double DurationInMilliseconds { get; set; }
            }
        }
        """;

    /// <summary>The runtime's and the test's assemblies (ML.NET, ours, ...), without this test assembly.</summary>
    private static readonly Lazy<ImmutableArray<MetadataReference>> s_references = new(() =>
    {
        string self = typeof(ApiCompatibilityTests).Assembly.Location;
        var paths = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Where(p => !string.Equals(p, self, StringComparison.OrdinalIgnoreCase))
            .ToList();
        Assert.Contains(paths, p => Path.GetFileName(p) == "Microsoft.ML.Svae.dll");
        Assert.Contains(paths, p => Path.GetFileName(p) == "Microsoft.ML.Core.dll");
        // The point of the stubs: the real packages are not here.
        Assert.DoesNotContain(paths, p => Path.GetFileName(p) is "Microsoft.ML.Recommender.dll" or "Microsoft.ML.AutoML.dll" or "Microsoft.ML.SearchSpace.dll");
        return paths.Select(p => (MetadataReference)MetadataReference.CreateFromFile(p)).ToImmutableArray();
    });

    private static readonly CSharpParseOptions s_parseOptions = new(LanguageVersion.Latest);

    private static MetadataReference Stub(string assemblyName, string source)
    {
        var compilation = CSharpCompilation.Create(assemblyName, new[] { CSharpSyntaxTree.ParseText(source, s_parseOptions) }, s_references.Value,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));
        using var image = new MemoryStream();
        var result = compilation.Emit(image);
        Assert.True(result.Success, $"The stub {assemblyName} does not compile: " + string.Join(Environment.NewLine, result.Diagnostics));
        return MetadataReference.CreateFromImage(image.ToArray());
    }

    private static readonly Lazy<MetadataReference> s_recommender = new(() => Stub("Microsoft.ML.Recommender", RecommenderStub));
    private static readonly Lazy<MetadataReference> s_autoML = new(() => Stub("Microsoft.ML.AutoML", AutoMLStub));

    /// <summary>Compiles an app (the first file may have top-level statements) and returns its errors' IDs and texts.</summary>
    private static List<Diagnostic> Errors(IEnumerable<MetadataReference> stubs, params string[] files)
    {
        const string implicitUsings = "global using System; global using System.Collections.Generic; global using System.IO; global using System.Linq; global using System.Threading; global using System.Threading.Tasks;";
        var trees = files.Append(implicitUsings).Select(f => CSharpSyntaxTree.ParseText(f, s_parseOptions));
        var compilation = CSharpCompilation.Create("App", trees, s_references.Value.AddRange(stubs),
            new CSharpCompilationOptions(OutputKind.ConsoleApplication, nullableContextOptions: NullableContextOptions.Enable));
        return compilation.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error).ToList();
    }

    private static string Describe(IEnumerable<Diagnostic> errors) => string.Join(Environment.NewLine, errors.Select(e => e.ToString()));

    private const string TrainSvaeWithRecommendation = """
        using Microsoft.ML;
        using Microsoft.ML.Svae;

        var ml = new MLContext(seed: 1);
        SvaeTrainer trainer = ml.Recommendation().Trainers.Svae();
        SequenceDataCatalog data = ml.Recommendation().Data;
        SequenceRecommendationCatalog catalog = ml.SequenceRecommendation();
        PopularityTrainer pop = catalog.Trainers.Popularity();
        Console.WriteLine($"{trainer} {data} {pop}");
        """;

    [Fact]
    public void WithoutMLNetRecommenderRecommendationCompiles()
    {
        var errors = Errors(Array.Empty<MetadataReference>(), TrainSvaeWithRecommendation);
        Assert.True(errors.Count == 0, Describe(errors));
    }

    [Fact]
    public void WithMLNetRecommenderSequenceRecommendationAndMatrixFactorizationCompile()
    {
        // Our file imports both namespaces and uses the unambiguous entry point; ML.NET's catalog type keeps its name.
        const string ours = """
            using Microsoft.ML;
            using Microsoft.ML.Svae;

            var ml = new MLContext(seed: 1);
            SvaeTrainer trainer = ml.SequenceRecommendation().Trainers.Svae();
            SequenceDataCatalog data = ml.SequenceRecommendation().Data;
            RecommendationCatalog mlnetCatalog = RecommenderCatalog.Recommendation(ml);
            Console.WriteLine($"{trainer} {data} {mlnetCatalog} {MatrixFactorizationFile.Train(ml)}");
            """;
        // Another file of the same app, without our namespace: ML.NET's own call is untouched by our library.
        const string mlnetOnly = """
            using Microsoft.ML;
            using Microsoft.ML.Trainers;

            static class MatrixFactorizationFile
            {
                public static MatrixFactorizationTrainer Train(MLContext ml)
                {
                    RecommendationCatalog catalog = ml.Recommendation();
                    return catalog.Trainers.MatrixFactorization("Label", "ItemId", "UserId");
                }
            }
            """;
        var errors = Errors(new[] { s_recommender.Value }, ours, mlnetOnly);
        Assert.True(errors.Count == 0, Describe(errors));
    }

    [Fact]
    public void WithMLNetRecommenderRecommendationIsAmbiguousOnlyWhereOurNamespaceIsImported()
    {
        // Both Recommendation(this MLContext) extensions are in scope at the same level: CS0121, nothing else.
        var errors = Errors(new[] { s_recommender.Value }, TrainSvaeWithRecommendation);
        Assert.NotEmpty(errors);
        Assert.All(errors, e => Assert.Equal("CS0121", e.Id));
        Assert.Contains("Microsoft.ML.RecommenderCatalog.Recommendation(Microsoft.ML.MLContext)", errors[0].GetMessage());
        Assert.Contains("Microsoft.ML.Svae.SequenceRecommendationExtensions.Recommendation(Microsoft.ML.MLContext)", errors[0].GetMessage());
        Assert.Equal(2, errors.Count); // the two ml.Recommendation() calls; SequenceRecommendation() is fine

        // Calling the extension as a static method always resolves.
        const string qualified = """
            using Microsoft.ML;
            using Microsoft.ML.Svae;

            var ml = new MLContext(seed: 1);
            SvaeTrainer trainer = SequenceRecommendationExtensions.Recommendation(ml).Trainers.Svae();
            Microsoft.ML.Trainers.MatrixFactorizationTrainer mf = RecommenderCatalog.Recommendation(ml).Trainers.MatrixFactorization("Label", "ItemId", "UserId");
            Console.WriteLine($"{trainer} {mf}");
            """;
        var qualifiedErrors = Errors(new[] { s_recommender.Value }, qualified);
        Assert.True(qualifiedErrors.Count == 0, Describe(qualifiedErrors));

        // A using of our namespace inside the app's namespace is a closer scope than the file's using Microsoft.ML: ours wins there.
        const string nested = """
            using Microsoft.ML;

            System.Console.WriteLine(App.Training.Train(new MLContext(seed: 1)));

            namespace App
            {
                using Microsoft.ML.Svae;

                static class Training
                {
                    public static SvaeTrainer Train(MLContext ml) => ml.Recommendation().Trainers.Svae();
                }
            }
            """;
        var nestedErrors = Errors(new[] { s_recommender.Value }, nested);
        Assert.True(nestedErrors.Count == 0, Describe(nestedErrors));
    }

    [Fact]
    public void AutoMLGuideCompiles()
    {
        string markdown = File.ReadAllText(Path.Combine(RepositoryRoot(), "docs", "AUTOML.md"));
        var blocks = Regex.Matches(markdown, @"```csharp\r?\n(.*?)```", RegexOptions.Singleline).Select(m => m.Groups[1].Value).ToList();
        Assert.Single(blocks);
        Assert.Contains("ml.Auto().CreateSweepableEstimator", blocks[0]);
        // An AutoML app references Microsoft.ML.Recommender too (AutoML depends on it), so the guide must compile with it.
        var errors = Errors(new[] { s_recommender.Value, s_autoML.Value }, blocks[0]);
        Assert.True(errors.Count == 0, Describe(errors));
    }

    [Fact]
    public void ReadmeQuickStartCompiles()
    {
        string markdown = File.ReadAllText(Path.Combine(RepositoryRoot(), "README.md"));
        var quickStart = Regex.Matches(markdown, @"```csharp\r?\n(.*?)```", RegexOptions.Singleline).Select(m => m.Groups[1].Value)
            .Where(b => b.Contains("using Microsoft.ML.Svae;", StringComparison.Ordinal)).ToList();
        Assert.Single(quickStart);
        Assert.Contains("ml.Recommendation().Trainers.Svae()", quickStart[0]);
        var errors = Errors(Array.Empty<MetadataReference>(), quickStart[0]);
        Assert.True(errors.Count == 0, Describe(errors));
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "MLNet.Svae.sln")))
                return dir.FullName;
        throw new InvalidOperationException($"No MLNet.Svae.sln above {AppContext.BaseDirectory}.");
    }
}
