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
    /// Scores <paramref name="histories"/> with the model zip; returns (keys, scores) per history. With
    /// <paramref name="users"/> (for models with a user column), each line carries the user key as a
    /// <c>user:</c> prefix.
    /// </summary>
    public static List<(uint[] Items, float[] Scores)> Score(string modelPath, IEnumerable<uint[]> histories, IEnumerable<uint>? users = null)
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
            return stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line =>
            {
                var pairs = line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(p => p.Split(':')).ToArray();
                return (pairs.Select(p => uint.Parse(p[0], CultureInfo.InvariantCulture)).ToArray(),
                        pairs.Select(p => float.Parse(p[1], CultureInfo.InvariantCulture)).ToArray());
            }).ToList();
        }
        finally
        {
            File.Delete(input);
        }
    }

    /// <summary>
    /// Saves <paramref name="model"/>, scores <paramref name="input"/>'s rows (the given histories, and users
    /// for user-keyed models) in the serving app, and asserts the same top items and scores as in-process.
    /// </summary>
    public static void AssertServedIdentically(MLContext mlContext, ITransformer model, DataViewSchema trainSchema, IDataView input,
        IEnumerable<uint[]> histories, IEnumerable<uint>? users = null)
    {
        var expected = model.Transform(input);
        string path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"svae-served-{Guid.NewGuid():N}.zip");
        try
        {
            mlContext.Model.Save(model, trainSchema, path);
            var served = Score(path, histories, users);
            Assert.Equal(SequenceTestData.KeyColumn(expected, SequenceColumns.TopItems), served.Select(s => s.Items).ToList());
            Assert.Equal(SequenceTestData.FloatColumn(expected, SequenceColumns.TopScores), served.Select(s => s.Scores).ToList());
        }
        finally
        {
            File.Delete(path);
        }
    }
}
