namespace Microsoft.ML.Svae.Tests.Common;

/// <summary>An incremental model's input row: the previous state, the new items and the items seen before.</summary>
public sealed class IncrementalEvent
{
    public float[] State { get; set; } = Array.Empty<float>();
    public uint[] History { get; set; } = Array.Empty<uint>();
    public uint[] Seen { get; set; } = Array.Empty<uint>();
}

/// <summary>An incremental model's output row.</summary>
public sealed class IncrementalUpdate
{
    public float[] NextState { get; set; } = Array.Empty<float>();
    public uint[] TopItems { get; set; } = Array.Empty<uint>();
    public float[] TopScores { get; set; } = Array.Empty<float>();
}

/// <summary>A full model's input row: a whole history of item ids.</summary>
public sealed class HistoryRow
{
    public uint[] History { get; set; } = Array.Empty<uint>();
}

/// <summary>A full model's output row.</summary>
public sealed class RecommendationRow
{
    public uint[] TopItems { get; set; } = Array.Empty<uint>();
    public float[] TopScores { get; set; } = Array.Empty<float>();
}
