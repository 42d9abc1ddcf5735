using System.IO.Compression;
using System.Security.Cryptography;

namespace Svae.Cli;

/// <summary>A downloadable data set: its archive, the ratings file inside it, and that file's SHA-256.</summary>
internal sealed record DatasetSource(string Name, Uri Archive, string RatingsEntry, string Format, string? RatingsSha256);

/// <summary>
/// Fetches the official GroupLens archives into a cache, once. The ratings file extracted from the
/// archive is checked against a pinned SHA-256 before it is used or cached; a mismatch is an error and
/// leaves nothing in the cache.
/// </summary>
internal static class Downloads
{
    public static readonly IReadOnlyDictionary<string, DatasetSource> Known = new Dictionary<string, DatasetSource>
    {
        // SHA-256 of u.data as distributed in ml-100k.zip (checked against a copy of the file).
        ["ml-100k"] = new("ml-100k", new Uri("https://files.grouplens.org/datasets/movielens/ml-100k.zip"), "ml-100k/u.data", "ml-100k",
            "06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490"),
        // No copy of ml-1m was available to pin its hash: the first download records the hash it saw
        // (printed, and stored beside the file), and later runs verify against it. Pass --sha256 to pin one.
        ["ml-1m"] = new("ml-1m", new Uri("https://files.grouplens.org/datasets/movielens/ml-1m.zip"), "ml-1m/ratings.dat", "ml-1m", null),
    };

    /// <summary>The default cache folder: <c>$XDG_CACHE_HOME/mlnet-svae</c> or <c>~/.cache/mlnet-svae</c>.</summary>
    public static string DefaultCache()
    {
        string? xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        string root = string.IsNullOrEmpty(xdg) ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache") : xdg;
        return Path.Combine(root, "mlnet-svae");
    }

    /// <summary>
    /// Returns the path of the data set's ratings file, downloading and verifying it if the cache lacks it.
    /// </summary>
    public static async Task<string> EnsureAsync(DatasetSource source, string cacheDirectory, HttpClient http, TextWriter log, CancellationToken cancel = default)
    {
        string folder = Path.Combine(cacheDirectory, source.Name);
        string ratings = Path.Combine(folder, Path.GetFileName(source.RatingsEntry));
        string hashFile = ratings + ".sha256";
        if (File.Exists(ratings))
        {
            string expected = source.RatingsSha256 ?? (File.Exists(hashFile) ? File.ReadAllText(hashFile).Trim() : "");
            string actual = Sha256(ratings);
            if (expected.Length > 0 && !string.Equals(actual, expected, StringComparison.OrdinalIgnoreCase))
                throw new InvalidDataException($"The cached {ratings} has SHA-256 {actual}, expected {expected}: delete it to download again.");
            log.WriteLine($"Using cached {ratings}.");
            return ratings;
        }

        Directory.CreateDirectory(folder);
        string archive = Path.Combine(folder, $".download-{Guid.NewGuid():N}.zip");
        string extracted = Path.Combine(folder, $".extract-{Guid.NewGuid():N}");
        try
        {
            log.WriteLine($"Downloading {source.Archive} ...");
            using (var response = await http.GetAsync(source.Archive, HttpCompletionOption.ResponseHeadersRead, cancel))
            {
                response.EnsureSuccessStatusCode();
                await using var file = File.Create(archive);
                await response.Content.CopyToAsync(file, cancel);
            }
            using (var zip = ZipFile.OpenRead(archive))
            {
                var entry = zip.GetEntry(source.RatingsEntry)
                    ?? throw new InvalidDataException($"The archive {source.Archive} has no entry '{source.RatingsEntry}'.");
                entry.ExtractToFile(extracted);
            }
            string actual = Sha256(extracted);
            if (source.RatingsSha256 is string expected && !string.Equals(actual, expected, StringComparison.OrdinalIgnoreCase))
                throw new InvalidDataException($"Checksum mismatch for {source.RatingsEntry} from {source.Archive}: SHA-256 {actual}, expected {expected}. Nothing was cached.");
            if (source.RatingsSha256 is null)
            {
                log.WriteLine($"{source.RatingsEntry}: SHA-256 {actual} (no pinned hash; recorded for later runs).");
                File.WriteAllText(hashFile, actual);
            }
            File.Move(extracted, ratings);
            log.WriteLine($"Cached {ratings}.");
            return ratings;
        }
        finally
        {
            File.Delete(archive);
            File.Delete(extracted);
        }
    }

    private static string Sha256(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexString(SHA256.HashData(stream)).ToLowerInvariant();
    }
}
