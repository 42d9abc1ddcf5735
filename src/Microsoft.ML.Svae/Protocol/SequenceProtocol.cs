namespace Microsoft.ML.Svae.Protocol;

/// <summary>
/// The array part of the section 5 protocol: grouping, time sorting, the minimum filter, truncation,
/// the user split, the training vocabulary and the fold-in/fold-out split. See
/// <see cref="SequenceDataCatalog.PrepareSequences(IDataView, SequenceProtocolOptions)"/> for the rules.
/// </summary>
internal static class SequenceProtocol
{
    public static SequenceDataset Run(MLContext mlContext, InteractionTable table, SequenceProtocolOptions options,
        long eventsRead, long eventsAfterBinarization)
    {
        int n = table.Count;
        uint[] rawUsers = table.UserIds;
        uint[] rawItems = table.ItemIds;
        long[] times = table.Timestamps;

        // 1. Dense user indices in ascending raw id order, and each user's event count.
        var userOf = new Dictionary<uint, int>();
        var rowUser = new int[n];
        var userRawIds = new List<uint>();
        for (int r = 0; r < n; r++)
        {
            if (!userOf.TryGetValue(rawUsers[r], out int u))
            {
                u = userRawIds.Count;
                userOf.Add(rawUsers[r], u);
                userRawIds.Add(rawUsers[r]);
            }
            rowUser[r] = u;
        }
        int usersRead = userRawIds.Count;
        var byRawId = new int[usersRead];
        for (int i = 0; i < usersRead; i++)
            byRawId[i] = i;
        var rawIdArray = userRawIds.ToArray();
        Array.Sort(rawIdArray, byRawId);
        var rank = new int[usersRead];
        for (int i = 0; i < usersRead; i++)
            rank[byRawId[i]] = i;
        var counts = new int[usersRead];
        for (int r = 0; r < n; r++)
        {
            rowUser[r] = rank[rowUser[r]];
            counts[rowUser[r]]++;
        }

        // 2. Minimum filter; CSR of the kept users' rows (stable: rows stay in input order within a user).
        var keptIndex = new int[usersRead];
        var keptRaw = new List<uint>(usersRead);
        int droppedUsers = 0;
        long droppedEvents = 0;
        for (int u = 0; u < usersRead; u++)
        {
            if (counts[u] < options.MinItemsPerUser)
            {
                keptIndex[u] = -1;
                droppedUsers++;
                droppedEvents += counts[u];
            }
            else
            {
                keptIndex[u] = keptRaw.Count;
                keptRaw.Add(rawIdArray[u]);
            }
        }
        int users = keptRaw.Count;
        if (users == 0)
            throw new InvalidOperationException(
                $"No user has at least MinItemsPerUser = {options.MinItemsPerUser} events ({usersRead} users, {n} events after binarization).");
        var start = new int[users + 1];
        for (int u = 0; u < usersRead; u++)
            if (keptIndex[u] >= 0)
                start[keptIndex[u] + 1] = counts[u];
        for (int u = 0; u < users; u++)
            start[u + 1] += start[u];
        var rows = new int[start[users]];
        var fill = (int[])start.Clone();
        for (int r = 0; r < n; r++)
        {
            int k = keptIndex[rowUser[r]];
            if (k >= 0)
                rows[fill[k]++] = r;
        }

        // 3. Sort each history by (timestamp, input row): ties keep the input order.
        var comparer = new TimeThenRow(times);
        for (int u = 0; u < users; u++)
        {
            var span = rows.AsSpan(start[u], start[u + 1] - start[u]);
            if (!IsSorted(span, times))
                span.Sort(comparer);
        }

        // 4. Keep the most recent MaxHistoryLength events.
        var first = new int[users];
        long truncated = 0;
        for (int u = 0; u < users; u++)
        {
            int length = start[u + 1] - start[u];
            int keep = options.MaxHistoryLength is int max ? Math.Min(max, length) : length;
            first[u] = start[u + 1] - keep;
            truncated += length - keep;
        }

        if (options.Split == SequenceSplit.LeaveOneOut)
            return LeaveOneOut(mlContext, table, options, eventsRead, eventsAfterBinarization, usersRead, droppedUsers, droppedEvents, truncated,
                keptRaw, start, first, rows);

        // 5. User split: a seeded permutation of the users (in raw id order); the last TestUsers are test, the
        //    ValidationUsers before them validation, the rest train. Each split is then ordered by raw id.
        int testCount = options.TestUsers ?? (int)Math.Round(options.TestFraction * users, MidpointRounding.AwayFromZero);
        int validationCount = options.ValidationUsers ?? (int)Math.Round(options.ValidationFraction * users, MidpointRounding.AwayFromZero);
        if ((long)testCount + validationCount >= users)
            throw new InvalidOperationException(
                $"Cannot hold out {validationCount} validation and {testCount} test users: only {users} users have at least " +
                $"{options.MinItemsPerUser} events, and at least one user must remain for training.");
        var permutation = new int[users];
        for (int i = 0; i < users; i++)
            permutation[i] = i;
        var rng = new Random(options.Seed);
        for (int i = users - 1; i > 0; i--)
        {
            int j = rng.Next(i + 1);
            (permutation[i], permutation[j]) = (permutation[j], permutation[i]);
        }
        int trainCount = users - validationCount - testCount;
        var trainUsers = permutation[..trainCount];
        var validationUsers = permutation[trainCount..(trainCount + validationCount)];
        var testUsers = permutation[(trainCount + validationCount)..];
        Array.Sort(trainUsers);
        Array.Sort(validationUsers);
        Array.Sort(testUsers);

        // 6. Item vocabulary: the distinct items of the training users, keys in ascending raw id order.
        var vocabulary = new HashSet<uint>();
        foreach (int u in trainUsers)
            for (int p = first[u]; p < start[u + 1]; p++)
                vocabulary.Add(rawItems[rows[p]]);
        var itemIds = vocabulary.ToArray();
        Array.Sort(itemIds);
        var itemIndex = new Dictionary<uint, int>(itemIds.Length);
        for (int i = 0; i < itemIds.Length; i++)
            itemIndex.Add(itemIds[i], i);

        // 7. Training sequences.
        var train = new SequenceBuilder(itemIds.Length);
        foreach (int u in trainUsers)
        {
            for (int p = first[u]; p < start[u + 1]; p++)
            {
                int r = rows[p];
                train.Add(itemIndex[rawItems[r]], times[r]);
            }
            train.EndUser();
        }

        // 8. Held-out users: drop unknown items, then split into fold-in and fold-out.
        var foldRng = new Random(unchecked(options.Seed * 31 + 7));
        long unknownDropped = 0;
        int heldOutDropped = 0;
        long heldOutDroppedEvents = 0;
        var keptUserIds = new List<uint>(users);
        foreach (int u in trainUsers)
            keptUserIds.Add(keptRaw[u]);
        var split = new List<(SequenceBuilder FoldIn, SequenceBuilder FoldOut)>();
        var known = new List<(int Item, long Time)>();
        var isFoldOut = new List<bool>();
        var positions = new List<int>();
        foreach (var group in new[] { validationUsers, testUsers })
        {
            var foldIn = new SequenceBuilder(itemIds.Length);
            var foldOut = new SequenceBuilder(itemIds.Length);
            foreach (int u in group)
            {
                known.Clear();
                for (int p = first[u]; p < start[u + 1]; p++)
                {
                    int r = rows[p];
                    if (itemIndex.TryGetValue(rawItems[r], out int item))
                        known.Add((item, times[r]));
                    else
                        unknownDropped++;
                }
                int m = known.Count;
                if (m < 2)
                {
                    heldOutDropped++;
                    heldOutDroppedEvents += m;
                    continue;
                }
                int foldInCount = options.FoldInCount(m);
                isFoldOut.Clear();
                for (int i = 0; i < m; i++)
                    isFoldOut.Add(i >= foldInCount);
                if (options.FoldSplit == FoldSplit.Random)
                {
                    // Partial Fisher-Yates: the first m - foldInCount drawn positions form the fold-out.
                    positions.Clear();
                    for (int i = 0; i < m; i++)
                        positions.Add(i);
                    for (int i = 0; i < m; i++)
                        isFoldOut[i] = false;
                    for (int i = 0; i < m - foldInCount; i++)
                    {
                        int j = i + foldRng.Next(m - i);
                        (positions[i], positions[j]) = (positions[j], positions[i]);
                        isFoldOut[positions[i]] = true;
                    }
                }
                for (int i = 0; i < m; i++)
                {
                    var (item, time) = known[i];
                    if (isFoldOut[i])
                        foldOut.Add(item, time);
                    else
                        foldIn.Add(item, time);
                }
                foldIn.EndUser();
                foldOut.EndUser();
                keptUserIds.Add(keptRaw[u]);
            }
            split.Add((foldIn, foldOut));
        }

        var (trainSequences, trainTimes) = train.Build();
        var (validationIn, validationInTimes) = split[0].FoldIn.Build();
        var (validationOut, validationOutTimes) = split[0].FoldOut.Build();
        var (testIn, testInTimes) = split[1].FoldIn.Build();
        var (testOut, testOutTimes) = split[1].FoldOut.Build();

        var report = new ProtocolReport
        {
            EventsRead = eventsRead,
            EventsAfterBinarization = eventsAfterBinarization,
            UsersRead = usersRead,
            UsersDroppedByMinimum = droppedUsers,
            EventsDroppedByMinimum = droppedEvents,
            EventsTruncatedByMaxHistoryLength = truncated,
            HeldOutEventsDroppedUnknownItems = unknownDropped,
            HeldOutUsersDropped = heldOutDropped,
            HeldOutEventsDroppedWithUsers = heldOutDroppedEvents,
            TrainUsers = trainSequences.Count,
            ValidationUsers = validationIn.Count,
            TestUsers = testIn.Count,
            Items = itemIds.Length,
            EventsKept = (long)trainSequences.EventCount + validationIn.EventCount + validationOut.EventCount + testIn.EventCount + testOut.EventCount,
        };
        return new SequenceDataset(mlContext, options.Clone(), report, itemIds, keptUserIds.ToArray(),
            trainSequences, trainTimes,
            validationIn, validationInTimes, validationOut, validationOutTimes,
            testIn, testInTimes, testOut, testOutTimes)
        {
            ItemNames = table.ItemNames,
            UserNames = table.UserNames,
        };
    }

    /// <summary>
    /// Leave-last-one-out (RecBole's <c>LS</c> split with <c>valid_and_test</c>): every user's last event is the test
    /// target, the one before it the validation target, the rest training. Every user is in all three splits with one
    /// user key; the item vocabulary is every item of the kept events (full ranking over all items).
    /// </summary>
    private static SequenceDataset LeaveOneOut(MLContext mlContext, InteractionTable table, SequenceProtocolOptions options,
        long eventsRead, long eventsAfterBinarization, int usersRead, int droppedUsers, long droppedEvents, long truncated,
        List<uint> keptRaw, int[] start, int[] first, int[] rows)
    {
        int users = keptRaw.Count;
        uint[] rawItems = table.ItemIds;
        long[] times = table.Timestamps;
        var vocabulary = new HashSet<uint>();
        for (int u = 0; u < users; u++)
            for (int p = first[u]; p < start[u + 1]; p++)
                vocabulary.Add(rawItems[rows[p]]);
        var itemIds = vocabulary.ToArray();
        Array.Sort(itemIds);
        var itemIndex = new Dictionary<uint, int>(itemIds.Length);
        for (int i = 0; i < itemIds.Length; i++)
            itemIndex.Add(itemIds[i], i);

        var train = new SequenceBuilder(itemIds.Length);
        var validationIn = new SequenceBuilder(itemIds.Length);
        var validationOut = new SequenceBuilder(itemIds.Length);
        var testIn = new SequenceBuilder(itemIds.Length);
        var testOut = new SequenceBuilder(itemIds.Length);
        for (int u = 0; u < users; u++)
        {
            int end = start[u + 1];
            // MinItemsPerUser ≥ 3 (validated) and MaxHistoryLength ≥ 3 under LeaveOneOut: end − first[u] ≥ 3.
            for (int p = first[u]; p < end; p++)
            {
                int r = rows[p];
                int item = itemIndex[rawItems[r]];
                if (p < end - 2)
                {
                    train.Add(item, times[r]);
                    validationIn.Add(item, times[r]);
                }
                else if (p == end - 2)
                {
                    validationOut.Add(item, times[r]);
                }
                else
                {
                    testOut.Add(item, times[r]);
                }
                if (p < end - 1)
                    testIn.Add(item, times[r]);
            }
            train.EndUser();
            validationIn.EndUser();
            validationOut.EndUser();
            testIn.EndUser();
            testOut.EndUser();
        }

        var (trainSequences, trainTimes) = train.Build();
        var (validationFoldIn, validationInTimes) = validationIn.Build();
        var (validationFoldOut, validationOutTimes) = validationOut.Build();
        var (testFoldIn, testInTimes) = testIn.Build();
        var (testFoldOut, testOutTimes) = testOut.Build();
        var report = new ProtocolReport
        {
            EventsRead = eventsRead,
            EventsAfterBinarization = eventsAfterBinarization,
            UsersRead = usersRead,
            UsersDroppedByMinimum = droppedUsers,
            EventsDroppedByMinimum = droppedEvents,
            EventsTruncatedByMaxHistoryLength = truncated,
            TrainUsers = users,
            ValidationUsers = users,
            TestUsers = users,
            Items = itemIds.Length,
            EventsKept = (long)trainSequences.EventCount + 2L * users,
        };
        return new SequenceDataset(mlContext, options.Clone(), report, itemIds, keptRaw.ToArray(),
            trainSequences, trainTimes,
            validationFoldIn, validationInTimes, validationFoldOut, validationOutTimes,
            testFoldIn, testInTimes, testFoldOut, testOutTimes)
        {
            ItemNames = table.ItemNames,
            UserNames = table.UserNames,
        };
    }

    private static bool IsSorted(ReadOnlySpan<int> rows, long[] times)
    {
        for (int i = 1; i < rows.Length; i++)
            if (times[rows[i]] < times[rows[i - 1]])
                return false;
        return true;
    }

    private readonly struct TimeThenRow : IComparer<int>
    {
        private readonly long[] _times;

        public TimeThenRow(long[] times) => _times = times;

        public int Compare(int a, int b)
        {
            int c = _times[a].CompareTo(_times[b]);
            return c != 0 ? c : a.CompareTo(b);
        }
    }

    /// <summary>Builds packed sequences and their parallel timestamps user by user.</summary>
    private sealed class SequenceBuilder
    {
        private readonly int _itemCount;
        private readonly List<int> _offsets = new() { 0 };
        private readonly List<int> _items = new();
        private readonly List<long> _times = new();

        public SequenceBuilder(int itemCount) => _itemCount = itemCount;

        public void Add(int item, long time)
        {
            _items.Add(item);
            _times.Add(time);
        }

        public void EndUser() => _offsets.Add(_items.Count);

        public (UserSequences, long[]) Build()
            => (new UserSequences(_itemCount, _offsets.ToArray(), _items.ToArray()), _times.ToArray());
    }
}
