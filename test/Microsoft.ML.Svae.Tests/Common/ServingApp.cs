using System.Diagnostics;
using System.Globalization;
using System.Reflection;

namespace Microsoft.ML.Svae.Tests.Common;

/// <summary>Runs examples/Svae.Serving (public ML.NET only) in a separate process.</summary>
internal static class ServingApp
{
    public static string Path => typeof(ServingApp).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
        .Single(a => a.Key == "ServingAppPath").Value!;

    /// <summary>
    /// Scores <paramref name="histories"/> (item ids as text) with the model zip; returns (item ids, scores) per
    /// history. With <paramref name="users"/> (for models with a user column), each line carries the user id as a
    /// <c>user:</c> prefix.
    /// </summary>
    public static List<(string[] Items, float[] Scores)> Score(string modelPath, IEnumerable<string[]> histories, IEnumerable<string>? users = null)
    {
        string input = System.IO.Path.GetTempFileName();
        try
        {
            var lines = histories.Select(h => string.Join(',', h));
            if (users is not null)
                lines = lines.Zip(users, (line, user) => $"{user}:{line}");
            File.WriteAllLines(input, lines);
            var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
            start.ArgumentList.Add(Path);
            start.ArgumentList.Add(modelPath);
            start.ArgumentList.Add("--input");
            start.ArgumentList.Add(input);
            using var process = Process.Start(start)!;
            string stdout = process.StandardOutput.ReadToEnd();
            string stderr = process.StandardError.ReadToEnd();
            process.WaitForExit();
            Assert.True(process.ExitCode == 0, $"Serving app failed ({process.ExitCode}): {stderr}");
            return stdout.Split('\n').Where(l => l.Length > 0).Select(line =>
            {
                var pairs = line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(p => (Id: p[..p.LastIndexOf(':')], Score: p[(p.LastIndexOf(':') + 1)..])).ToArray();
                return (pairs.Select(p => p.Id).ToArray(), pairs.Select(p => float.Parse(p.Score, CultureInfo.InvariantCulture)).ToArray());
            }).ToList();
        }
        finally
        {
            File.Delete(input);
        }
    }

    /// <summary>
    /// Saves <paramref name="model"/>, scores <paramref name="input"/>'s rows (the given histories of item keys, and
    /// user keys for user-keyed models) in the serving app — which reads and writes item ids: the keys are sent as
    /// the model's ids of those keys — and asserts the same top items and scores as in-process.
    /// </summary>
    public static void AssertServedIdentically(MLContext mlContext, ITransformer model, DataViewSchema trainSchema, IDataView input,
        IEnumerable<uint[]> histories, IEnumerable<uint>? users = null)
    {
        var recommender = model as RecommendationTransformer ?? ((IEnumerable<ITransformer>)model).OfType<RecommendationTransformer>().Last();
        var description = recommender.Description;
        var expected = model.Transform(input);
        string path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"svae-served-{Guid.NewGuid():N}.zip");
        try
        {
            mlContext.Model.Save(model, trainSchema, path);
            var served = Score(path, histories.Select(h => h.Select(k => IdText(description.Items, k)).ToArray()),
                users?.Select(u => IdText(description.Users!, u)));
            Assert.Equal(SequenceTestData.KeyColumn(expected, SequenceColumns.TopItems).Select(keys => keys.Select(k => IdText(description.Items, k)).ToArray()).ToList(),
                served.Select(s => s.Items).ToList());
            Assert.Equal(SequenceTestData.FloatColumn(expected, SequenceColumns.TopScores), served.Select(s => s.Scores).ToList());
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>
    /// The id of a key as the serving app writes it: the vocabulary's id for keys 1..N; for other keys (unknown items
    /// and the missing key 0) the key's number, which is no id of a vocabulary of keys — and 0 is the default id the
    /// model writes where fewer than K items are unseen.
    /// </summary>
    public static string IdText(IdVocabulary vocabulary, uint key)
        => key >= 1 && key <= vocabulary.Count
            ? Convert.ToString(vocabulary.IdOf((int)key), CultureInfo.InvariantCulture)!
            : key == 0 && vocabulary.ItemType.RawType == typeof(ReadOnlyMemory<char>) ? "" : key.ToString(CultureInfo.InvariantCulture);
}
