using Microsoft.Data.Analysis;

namespace Microsoft.ML.Svae.Protocol;

/// <summary>The Table 1 statistics as a one-row <see cref="DataFrame"/>.</summary>
internal static class DatasetStatistics
{
    public const string Dataset = "Dataset";
    public const string Users = "Users";
    public const string Items = "Items";
    public const string Interactions = "Interactions";
    public const string Density = "Density (%)";
    public const string AverageHistory = "Avg history";
    public const string MedianHistory = "Median history";
    public const string MaxHistory = "Max history";
    public const string HeldOutUsers = "Held-out users";

    public static DataFrame Create(string name, int[] historyLengths, long items, long heldOutUsers)
    {
        long users = historyLengths.Length;
        long interactions = historyLengths.Sum(l => (long)l);
        double density = users == 0 || items == 0 ? 0 : 100.0 * interactions / ((double)users * items);
        var sorted = (int[])historyLengths.Clone();
        Array.Sort(sorted);
        double median = sorted.Length == 0 ? 0
            : sorted.Length % 2 == 1 ? sorted[sorted.Length / 2]
            : 0.5 * (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]);
        return new DataFrame(
            new StringDataFrameColumn(Dataset, new[] { name }),
            new Int64DataFrameColumn(Users, new[] { users }),
            new Int64DataFrameColumn(Items, new[] { items }),
            new Int64DataFrameColumn(Interactions, new[] { interactions }),
            new DoubleDataFrameColumn(Density, new[] { density }),
            new DoubleDataFrameColumn(AverageHistory, new[] { users == 0 ? 0 : (double)interactions / users }),
            new DoubleDataFrameColumn(MedianHistory, new[] { median }),
            new Int64DataFrameColumn(MaxHistory, new[] { sorted.Length == 0 ? 0L : sorted[^1] }),
            new Int64DataFrameColumn(HeldOutUsers, new[] { heldOutUsers }));
    }

    public static DataFrame FromDataset(SequenceDataset dataset, string name)
    {
        var lengths = new List<int>(dataset.UserCount);
        for (int u = 0; u < dataset.TrainSequences.Count; u++)
            lengths.Add(dataset.TrainSequences.Length(u));
        foreach (var (foldIn, foldOut) in new[] { (dataset.ValidationFoldIn, dataset.ValidationFoldOut), (dataset.TestFoldIn, dataset.TestFoldOut) })
            for (int u = 0; u < foldIn.Count; u++)
                lengths.Add(foldIn.Length(u) + foldOut.Length(u));
        return Create(name, lengths.ToArray(), dataset.ItemCount, dataset.ValidationUserCount + dataset.TestUserCount);
    }

    public static DataFrame FromInteractions(InteractionTable table, string name)
    {
        var perUser = new Dictionary<uint, int>();
        var items = new HashSet<uint>();
        for (int r = 0; r < table.Count; r++)
        {
            uint u = table.UserIds[r];
            perUser[u] = perUser.TryGetValue(u, out int c) ? c + 1 : 1;
            items.Add(table.ItemIds[r]);
        }
        return Create(name, perUser.Values.ToArray(), items.Count, 0);
    }
}
