using System.Reflection;
using Microsoft.ML.Svae;

namespace Svae.Cli;

/// <summary>
/// An error the user can fix (a bad option name or value, an unreadable or corrupt input, data too small for the
/// protocol, an unwritable output folder): the runner prints its message as one line, <c>svae: error: ...</c>, and
/// exits with <see cref="CliErrors.UsageExitCode"/>.
/// </summary>
internal sealed class CliException : Exception
{
    public CliException(string message, Exception? innerException = null)
        : base(message, innerException)
    {
    }
}

/// <summary>How the runner reports errors: one line on stderr and an exit code.</summary>
internal static class CliErrors
{
    /// <summary>The exit code of an error the user can fix (bad arguments or input).</summary>
    public const int UsageExitCode = 2;

    /// <summary>The exit code of an unexpected internal error (a bug); <c>--verbose</c> shows its stack trace.</summary>
    public const int InternalExitCode = 3;

    /// <summary>The prefix of every error line.</summary>
    public const string Prefix = "svae: error: ";

    /// <summary>
    /// The message to show for an error the user can fix, or null for an unexpected (internal) error. Input and
    /// file errors of .NET and of the library count as the user's: malformed files (<see cref="InteractionFormatException"/>,
    /// <see cref="FormatException"/>, <see cref="InvalidDataException"/>), missing or unwritable files
    /// (<see cref="IOException"/>, <see cref="UnauthorizedAccessException"/>) and rejected arguments
    /// (<see cref="ArgumentException"/> other than <see cref="ArgumentNullException"/>, which is a bug).
    /// </summary>
    public static string? UserMessage(Exception error)
    {
        error = Unwrap(error);
        return error switch
        {
            CliException e => e.Message,
            ArgumentNullException => null,
            ArgumentException e => e.Message,
            FormatException e => e.Message,
            OverflowException e => e.Message,
            InvalidDataException e => e.Message,
            IOException e => e.Message,
            UnauthorizedAccessException e => e.Message,
            _ => null,
        };
    }

    /// <summary>The exception that matters inside wrappers (reflection, tasks).</summary>
    public static Exception Unwrap(Exception error)
    {
        while (true)
        {
            switch (error)
            {
                case TargetInvocationException { InnerException: { } inner }:
                    error = inner;
                    continue;
                case AggregateException { InnerExceptions.Count: 1 } aggregate:
                    error = aggregate.InnerExceptions[0];
                    continue;
                default:
                    return error;
            }
        }
    }

    /// <summary>A parser message with .NET type names (<c>System.Nullable`1[System.Int32]</c>) in words (<c>an integer</c>).</summary>
    public static string Readable(string message)
        => System.Text.RegularExpressions.Regex.Replace(message, @"'System\.Nullable`1\[System\.(\w+)\]'|'System\.(\w+)'", m =>
        {
            string type = m.Groups[1].Success ? m.Groups[1].Value : m.Groups[2].Value;
            return type switch
            {
                "Int32" or "Int64" => "an integer",
                "Double" or "Single" => "a number",
                "Boolean" => "true or false",
                _ => m.Value,
            };
        }).Replace("as expected type an", "as an", StringComparison.Ordinal).Replace("as expected type a ", "as a ", StringComparison.Ordinal)
          .Replace("as expected type true", "as true", StringComparison.Ordinal);

    /// <summary>A message on one line: each line break, with the spaces around it, becomes one space.</summary>
    public static string OneLine(string message)
        => string.Join(' ', message.Split(new[] { '\r', '\n' }, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
}
