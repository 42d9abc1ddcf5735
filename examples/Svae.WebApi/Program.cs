using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.ML;
using Microsoft.ML.Transforms.Onnx;

namespace Svae.WebApi;

/// <summary>
/// A web API serving recommendations from a model zip written by MLNet.Svae, with public ML.NET only.
/// </summary>
/// <remarks>
/// <code>
/// dotnet run --project examples/Svae.WebApi -- --Svae:ModelPath=svae.zip --urls http://127.0.0.1:5080
///
/// POST /recommendations        {"history": [1193, 661, 914], "k": 10}        → {"items": [...], "scores": [...]}
/// POST /users/{id}/events      {"item": 3408, "k": 10}                       → {"userId": "...", "historyLength": 4, "items": [...], "scores": [...]}
/// GET  /health                                                               → {"status": "Healthy", "itemIdType": "UInt32", ...}
/// </code>
/// Item ids are the training data's own ids, of the type the model reads (UInt32, Int64 or String; <c>GET /health</c>
/// says which): JSON numbers or strings. Bad requests get 400 with an RFC 7807 problem detail. The model is loaded at
/// start; a missing or damaged model stops the app with a message naming the configuration key and the path.
/// </remarks>
public sealed class Program
{
    private Program()
    {
    }

    /// <summary>Runs the app; returns 1 with one message on standard error when the model cannot be loaded.</summary>
    public static int Main(string[] args)
    {
        var app = Create(args);
        try
        {
            // Load the model before the host starts (the hosted service would too, but the host would log the
            // exception's stack trace first): a bad model path gives one message and exit code 1.
            app.Services.GetRequiredService<IRecommender>();
            app.Services.GetRequiredService<IUserStateRecommender>();
            app.Run();
            return 0;
        }
        catch (ModelStartupException e)
        {
            Console.Error.WriteLine($"Svae.WebApi cannot start: {e.Message}");
            return 1;
        }
    }

    /// <summary>
    /// An <see cref="MLContext"/> whose ONNX Runtime sessions use one thread each. A saved zip does not keep the
    /// session options its model was created with (ML.NET's OnnxTransformer saves the graph and the column names
    /// only), and a session loaded with default options runs each request's few small kernels on a pool of one
    /// spinning thread per core: requests, not kernels, are the parallel work of a web server.
    /// </summary>
    internal static MLContext ScoringContext()
    {
        var mlContext = new MLContext();
        mlContext.SetOnnxSessionOption(new OnnxSessionOptions { IntraOpNumThreads = 1, InterOpNumThreads = 1 });
        return mlContext;
    }

    /// <summary>Builds the app: services (model, engine pool, user state) and endpoints.</summary>
    public static WebApplication Create(string[] args)
    {
        var builder = WebApplication.CreateBuilder(args);
        builder.Services.AddProblemDetails();
        builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals);
        builder.Services.AddSingleton(sp => ServingOptions.From(sp.GetRequiredService<IConfiguration>()));
        builder.Services.AddSingleton(sp => ModelRecommender.Load(ScoringContext(), sp.GetRequiredService<ServingOptions>().ModelPath));
        builder.Services.AddSingleton<IUserStateRecommender>(sp =>
        {
            var options = sp.GetRequiredService<ServingOptions>();
            var recommender = sp.GetRequiredService<IRecommender>();
            return string.IsNullOrWhiteSpace(options.IncrementalModelPath)
                ? new HistoryRescoringUserState(recommender, options)
                : RecurrentUserState.Load(ScoringContext(), options.IncrementalModelPath, recommender, options);
        });
        // Loads the model when the host starts (also where Main does not run first, as under WebApplicationFactory),
        // so that a bad model path stops the app instead of failing requests.
        builder.Services.AddHostedService<ModelLoadingService>();

        var app = builder.Build();
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.MapPost("/recommendations", Recommend);
        app.MapPost("/users/{id}/events", AddEvent);
        app.MapGet("/health", (IRecommender recommender) => Results.Ok(new HealthResponse("Healthy", recommender.ItemIdType, recommender.UserIdType, recommender.MaxK)));
        return app;
    }

    private static async Task<IResult> Recommend(HttpRequest request, IRecommender recommender, ServingOptions options)
    {
        var (body, error) = await ReadJsonObject(request);
        if (error is not null)
            return error;
        var errors = new Dictionary<string, string[]>();
        var history = new List<string>();
        if (!Requests.TryGetProperty(body, "history", out var historyElement) || historyElement.ValueKind == JsonValueKind.Null)
            errors["history"] = ["The history is required: an array of the user's item ids, oldest first."];
        else if (historyElement.ValueKind != JsonValueKind.Array)
            errors["history"] = [$"The history must be an array of item ids, not {Requests.Describe(historyElement)}."];
        else if (historyElement.GetArrayLength() == 0)
            errors["history"] = ["The history is empty: send at least one item id."];
        else if (historyElement.GetArrayLength() > options.MaxHistoryLength)
            errors["history"] = [$"The history has {historyElement.GetArrayLength()} items; at most {options.MaxHistoryLength} are accepted."];
        else
        {
            int index = 0;
            foreach (var element in historyElement.EnumerateArray())
            {
                if (Requests.ItemId(element, recommender, out string? id) is string message)
                    errors[$"history[{index}]"] = [message];
                else
                    history.Add(id!);
                index++;
            }
        }
        int k = Requests.K(body, recommender, options, errors);
        string? userId = Requests.UserId(body, recommender, errors);
        if (errors.Count > 0)
            return Results.ValidationProblem(errors);
        var result = recommender.Recommend(history, userId, k);
        return Results.Ok(new RecommendationResponse(result.Items, result.Scores));
    }

    private static async Task<IResult> AddEvent(string id, HttpRequest request, IRecommender recommender, IUserStateRecommender users, ServingOptions options)
    {
        var (body, error) = await ReadJsonObject(request);
        if (error is not null)
            return error;
        var errors = new Dictionary<string, string[]>();
        if (recommender.CheckUserId(id) is string userError)
            errors["id"] = [userError];
        string? item = null;
        if (!Requests.TryGetProperty(body, "item", out var itemElement) || itemElement.ValueKind == JsonValueKind.Null)
            errors["item"] = ["The item is required: the id of the item the user interacted with."];
        else if (Requests.ItemId(itemElement, recommender, out item) is string message)
            errors["item"] = [message];
        int k = Requests.K(body, recommender, options, errors);
        if (errors.Count > 0)
            return Results.ValidationProblem(errors);
        var result = users.AddEvent(id, item!, k);
        return Results.Ok(new UserEventResponse(id, result.HistoryLength, result.Recommendations.Items, result.Recommendations.Scores));
    }

    /// <summary>The request body as a JSON object, or a 400 problem detail when it is not one.</summary>
    private static async Task<(JsonElement Body, IResult? Error)> ReadJsonObject(HttpRequest request)
    {
        JsonElement body;
        try
        {
            using var document = await JsonDocument.ParseAsync(request.Body, cancellationToken: request.HttpContext.RequestAborted);
            body = document.RootElement.Clone();
        }
        catch (JsonException e)
        {
            return (default, Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Malformed JSON",
                detail: $"The request body is not valid JSON: {e.Message}"));
        }
        if (body.ValueKind != JsonValueKind.Object)
            return (default, Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Malformed request",
                detail: $"The request body must be a JSON object, not {Requests.Describe(body)}."));
        return (body, null);
    }
}

/// <summary>The response of <c>POST /recommendations</c>: item ids best first and their scores.</summary>
/// <param name="Items">Item ids (JSON numbers for UInt32 and Int64 models, strings for String models), best first; none of the history.</param>
/// <param name="Scores">The scores, in the same order.</param>
public sealed record RecommendationResponse(IReadOnlyList<object> Items, IReadOnlyList<float> Scores);

/// <summary>The response of <c>POST /users/{id}/events</c>.</summary>
/// <param name="UserId">The user.</param>
/// <param name="HistoryLength">How many of the user's events are kept.</param>
/// <param name="Items">Fresh recommendations, best first; none of the user's kept history.</param>
/// <param name="Scores">Their scores.</param>
public sealed record UserEventResponse(string UserId, int HistoryLength, IReadOnlyList<object> Items, IReadOnlyList<float> Scores);

/// <summary>The response of <c>GET /health</c>.</summary>
/// <param name="Status">Healthy (the model is loaded; the app does not start without it).</param>
/// <param name="ItemIdType">The item id type the model reads: String, Int64 or UInt32.</param>
/// <param name="UserIdType">The user id type for models with per-user parameters, else null.</param>
/// <param name="MaxK">The largest <c>k</c> a request may ask for.</param>
public sealed record HealthResponse(string Status, string ItemIdType, string? UserIdType, int MaxK);

/// <summary>Loads the model (resolving <see cref="IRecommender"/>) when the host starts.</summary>
internal sealed class ModelLoadingService(IServiceProvider services, ILogger<ModelLoadingService> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        var recommender = services.GetRequiredService<IRecommender>();
        logger.LogInformation("Loaded {Path}: {IdType} item ids, K = {MaxK}.", services.GetRequiredService<ServingOptions>().ModelPath, recommender.ItemIdType, recommender.MaxK);
        var users = services.GetRequiredService<IUserStateRecommender>();
        logger.LogInformation("User state for events: {Kind}.", users is HistoryRescoringUserState ? "history rescoring" : "recurrent state (incremental model)");
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

/// <summary>Reading request fields into validation errors keyed by field name.</summary>
internal static class Requests
{
    /// <summary>Finds a property by name, ignoring case.</summary>
    public static bool TryGetProperty(JsonElement body, string name, out JsonElement value)
    {
        foreach (var property in body.EnumerateObject())
        {
            if (string.Equals(property.Name, name, StringComparison.OrdinalIgnoreCase))
            {
                value = property.Value;
                return true;
            }
        }
        value = default;
        return false;
    }

    /// <summary>An item id from a JSON string or integer; null when it is one of the model's type, else why not.</summary>
    public static string? ItemId(JsonElement element, IRecommender recommender, out string? id)
    {
        id = element.ValueKind switch
        {
            JsonValueKind.String => element.GetString(),
            JsonValueKind.Number => element.GetRawText(),
            _ => null,
        };
        if (id is null)
            return $"An item id must be a JSON string or integer, not {Describe(element)}.";
        return recommender.CheckItemId(id);
    }

    /// <summary>The number of recommendations: <c>k</c> if given (1..MaxK), else the configured default.</summary>
    public static int K(JsonElement body, IRecommender recommender, ServingOptions options, Dictionary<string, string[]> errors)
    {
        if (!TryGetProperty(body, "k", out var element) || element.ValueKind == JsonValueKind.Null)
            return Math.Min(options.DefaultK, recommender.MaxK);
        if (element.ValueKind != JsonValueKind.Number || !element.TryGetInt32(out int k) || k < 1 || k > recommender.MaxK)
        {
            errors["k"] = [$"k must be an integer from 1 to {recommender.MaxK} (the model's K), not {element.GetRawText()}."];
            return 0;
        }
        return k;
    }

    /// <summary>The optional user id (used by models with per-user parameters; others ignore it).</summary>
    public static string? UserId(JsonElement body, IRecommender recommender, Dictionary<string, string[]> errors)
    {
        if (!TryGetProperty(body, "userId", out var element) || element.ValueKind == JsonValueKind.Null)
            return null;
        string? id = element.ValueKind switch
        {
            JsonValueKind.String => element.GetString(),
            JsonValueKind.Number => element.GetRawText(),
            _ => null,
        };
        if (id is null)
            errors["userId"] = [$"The user id must be a JSON string or integer, not {Describe(element)}."];
        else if (recommender.CheckUserId(id) is string message)
            errors["userId"] = [message];
        return id;
    }

    /// <summary>A JSON value's kind, for messages.</summary>
    public static string Describe(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        _ => element.ValueKind.ToString(),
    };
}
