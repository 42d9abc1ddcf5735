using Microsoft.ML;
using Microsoft.ML.Runtime;
using Spectre.Console;

namespace Svae.Cli;

/// <summary>
/// Shows training progress: a live status line (Spectre.Console) on an interactive terminal, plain log
/// lines when output is redirected, when <c>CI</c> is set, or with <c>--plain</c>. Training messages come
/// from the trainers through <see cref="MLContext.Log"/>.
/// </summary>
internal sealed class ProgressDisplay
{
    private readonly bool _plain;
    private Action<string>? _status;
    private string? _lastEpoch;

    public ProgressDisplay(MLContext ml, bool forcePlain)
    {
        _plain = forcePlain || Console.IsOutputRedirected || !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("CI"));
        ml.Log += (_, e) =>
        {
            string message = e.Message;
            int end = message.IndexOf("] ", StringComparison.Ordinal);
            if (message.StartsWith('[') && end > 0) message = message[(end + 2)..];
            switch (e.Kind)
            {
                case ChannelMessageKind.Trace when message.Contains(", batch ", StringComparison.Ordinal):
                    // Batch progress: only the live display shows it, after the last epoch's loss and NDCG.
                    if (!_plain) _status?.Invoke(_lastEpoch is null ? message : $"{message} | last: {_lastEpoch}");
                    break;
                case ChannelMessageKind.Info when message.Contains(" epoch ", StringComparison.Ordinal):
                    _lastEpoch = message;
                    Report(message);
                    break;
                case ChannelMessageKind.Warning:
                    Report(message);
                    break;
            }
        };
    }

    /// <summary>A line the user should keep (a result, a step done).</summary>
    public void Line(string text)
    {
        if (_plain) Console.WriteLine(text);
        else AnsiConsole.MarkupLine(Markup.Escape(text));
    }

    /// <summary>A transient status (the latest epoch): a log line in plain mode.</summary>
    public void Report(string text)
    {
        if (_plain) Console.WriteLine(text);
        else _status?.Invoke(text);
    }

    /// <summary>Runs <paramref name="work"/> under a live status display (or plainly).</summary>
    public T Run<T>(string title, Func<T> work)
    {
        if (_plain)
        {
            Console.WriteLine(title);
            return work();
        }
        return AnsiConsole.Status().Spinner(Spinner.Known.Dots).Start(Markup.Escape(FitWidth(title, StatusWidth)), context =>
        {
            _status = text => context.Status(Markup.Escape(FitWidth(text, StatusWidth)));
            try { return work(); }
            finally { _status = null; }
        });
    }

    /// <summary>The columns a status line may use: the terminal's width less the spinner and its space.</summary>
    private static int StatusWidth => Math.Max(AnsiConsole.Profile.Width - 3, 10);

    /// <summary>
    /// <paramref name="text"/> on one line of at most <paramref name="width"/> characters: only its first line is kept,
    /// and a longer line is cut and ends with "...". A live display that redraws a line wider than the terminal
    /// would wrap it and garble the screen.
    /// </summary>
    internal static string FitWidth(string text, int width)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 4);
        int newline = text.IndexOfAny(['\r', '\n']);
        if (newline >= 0) text = text[..newline];
        return text.Length <= width ? text : text[..(width - 3)] + "...";
    }

    /// <summary>A writer whose lines go to <see cref="Line"/>.</summary>
    public TextWriter Writer => new LineWriter(this);

    private sealed class LineWriter : StringWriter
    {
        private readonly ProgressDisplay _display;

        public LineWriter(ProgressDisplay display) => _display = display;

        public override void WriteLine(string? value) => _display.Line(value ?? "");
    }
}
