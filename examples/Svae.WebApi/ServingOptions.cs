namespace Svae.WebApi;

/// <summary>
/// The app's settings, from the configuration section <c>Svae</c> (appsettings.json, environment variables such as
/// <c>Svae__ModelPath</c>, or command-line arguments such as <c>--Svae:ModelPath=model.zip</c>).
/// </summary>
public sealed class ServingOptions
{
    /// <summary>The configuration section.</summary>
    public const string Section = "Svae";

    /// <summary>The configuration key of <see cref="ModelPath"/>.</summary>
    public const string ModelPathKey = Section + ":" + nameof(ModelPath);

    /// <summary>The model zip written by MLNet.Svae (<c>mlContext.Recommendation().SaveModel</c> or <c>svae reproduce --save-models</c>). Required.</summary>
    public string? ModelPath { get; set; }

    /// <summary>The configuration key of <see cref="IncrementalModelPath"/>.</summary>
    public const string IncrementalModelPathKey = Section + ":" + nameof(IncrementalModelPath);

    /// <summary>
    /// Optional: the incremental model zip of a recurrent <see cref="ModelPath"/> model (SVAE's or GRU4Rec's
    /// <c>CreateIncrementalModel()</c>, saved with <c>mlContext.Model.Save</c>). With it, the events endpoint keeps
    /// each user's recurrent state and runs one step per event; without it, each event rescores the user's history.
    /// </summary>
    public string? IncrementalModelPath { get; set; }

    /// <summary>The number of recommendations when a request gives no <c>k</c> (at most the model's K).</summary>
    public int DefaultK { get; set; } = 10;

    /// <summary>The longest history a request may send; the events endpoint keeps each user's latest events up to this length.</summary>
    public int MaxHistoryLength { get; set; } = 2000;

    /// <summary>How many users' event histories the in-memory store keeps; the least recently active user is forgotten first.</summary>
    public int MaxUsers { get; set; } = 100_000;

    /// <summary>Reads the section from <paramref name="configuration"/> and checks the numbers.</summary>
    public static ServingOptions From(IConfiguration configuration)
    {
        var options = configuration.GetSection(Section).Get<ServingOptions>() ?? new ServingOptions();
        Positive(options.DefaultK, nameof(DefaultK));
        Positive(options.MaxHistoryLength, nameof(MaxHistoryLength));
        Positive(options.MaxUsers, nameof(MaxUsers));
        return options;
    }

    private static void Positive(int value, string name)
    {
        if (value < 1)
            throw new ModelStartupException($"Configuration key '{Section}:{name}' must be at least 1, but it is {value}.");
    }
}

/// <summary>The app cannot start: the model or a setting is missing or wrong. The message names the configuration key.</summary>
public sealed class ModelStartupException : Exception
{
    /// <summary>Creates the exception with its message.</summary>
    public ModelStartupException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with its message and the error that caused it.</summary>
    public ModelStartupException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
