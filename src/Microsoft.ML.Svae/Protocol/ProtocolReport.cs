using System.Text;

namespace Microsoft.ML.Svae;

/// <summary>What each step of <see cref="SequenceDataCatalog.PrepareSequences(IDataView, SequenceProtocolOptions)"/> kept and dropped.</summary>
public sealed class ProtocolReport
{
    /// <summary>Interactions in the input.</summary>
    public long EventsRead { get; init; }

    /// <summary>Interactions kept by binarization (equal to <see cref="EventsRead"/> when not binarizing).</summary>
    public long EventsAfterBinarization { get; init; }

    /// <summary>Distinct users after binarization.</summary>
    public int UsersRead { get; init; }

    /// <summary>Users dropped because they had fewer than <see cref="SequenceProtocolOptions.MinItemsPerUser"/> events.</summary>
    public int UsersDroppedByMinimum { get; init; }

    /// <summary>Events of the users dropped by the minimum.</summary>
    public long EventsDroppedByMinimum { get; init; }

    /// <summary>Oldest events removed by <see cref="SequenceProtocolOptions.MaxHistoryLength"/>.</summary>
    public long EventsTruncatedByMaxHistoryLength { get; init; }

    /// <summary>Events of validation/test users on items that no training user has (dropped before the fold split).</summary>
    public long HeldOutEventsDroppedUnknownItems { get; init; }

    /// <summary>
    /// Validation/test users dropped because fewer than 2 events on known items remained (a fold-in and a
    /// non-empty fold-out need 2).
    /// </summary>
    public int HeldOutUsersDropped { get; init; }

    /// <summary>Events (on known items) of the dropped held-out users.</summary>
    public long HeldOutEventsDroppedWithUsers { get; init; }

    /// <summary>Training users.</summary>
    public int TrainUsers { get; init; }

    /// <summary>Validation users kept.</summary>
    public int ValidationUsers { get; init; }

    /// <summary>Test users kept.</summary>
    public int TestUsers { get; init; }

    /// <summary>Items in the vocabulary (items of the training users).</summary>
    public int Items { get; init; }

    /// <summary>Events in the output: training histories plus held-out fold-in and fold-out.</summary>
    public long EventsKept { get; init; }

    /// <summary>A multi-line summary.</summary>
    public override string ToString()
    {
        var s = new StringBuilder();
        s.AppendLine($"events read: {EventsRead:N0}; kept by binarization: {EventsAfterBinarization:N0}");
        s.AppendLine($"users: {UsersRead:N0}; dropped by the minimum: {UsersDroppedByMinimum:N0} ({EventsDroppedByMinimum:N0} events)");
        s.AppendLine($"events truncated by MaxHistoryLength: {EventsTruncatedByMaxHistoryLength:N0}");
        s.AppendLine($"split: {TrainUsers:N0} train / {ValidationUsers:N0} validation / {TestUsers:N0} test users; {Items:N0} items");
        s.AppendLine($"held-out events on unknown items dropped: {HeldOutEventsDroppedUnknownItems:N0}; held-out users dropped: {HeldOutUsersDropped:N0} ({HeldOutEventsDroppedWithUsers:N0} events)");
        s.Append($"events kept: {EventsKept:N0}");
        return s.ToString();
    }
}
