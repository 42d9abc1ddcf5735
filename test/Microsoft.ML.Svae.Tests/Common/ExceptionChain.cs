namespace Microsoft.ML.Svae.Tests.Common;

/// <summary>An exception and its inner exceptions, for asserting on a message wrapped by ML.NET or ONNX Runtime.</summary>
public static class ExceptionChain
{
    /// <summary>The messages of <paramref name="error"/> and of every inner exception, joined by " | ".</summary>
    public static string Messages(Exception error)
    {
        var messages = new List<string>();
        for (Exception? x = error; x is not null; x = x.InnerException)
            messages.Add(x.Message);
        return string.Join(" | ", messages);
    }
}
