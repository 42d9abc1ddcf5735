namespace Microsoft.ML.Svae;

/// <summary>Training popularity: how often each item occurs in the training histories.</summary>
internal static class ItemCounts
{
    /// <summary>Training-event count of every item (an item a user interacted with twice counts twice).</summary>
    public static float[] Of(UserSequences train)
    {
        var counts = new float[train.ItemCount];
        foreach (int item in train.Items)
            counts[item]++;
        return counts;
    }
}
