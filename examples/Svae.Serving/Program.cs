using Microsoft.ML;
using Svae.Examples;

// Serves recommendations from a model zip written by MLNet.Svae, with public ML.NET only.
//
//   Svae.Serving <model.zip> [history ...]      one history per argument: comma-separated item keys
//   Svae.Serving <model.zip> --input <file>     one history per line
//
// For models with per-user parameters (BPR, FPMC, Caser) a history may start with the user key and a
// colon, e.g. "7:3,4,5"; other models ignore it.
//
// Prints one line per history: "key:score key:score ...", best first.
if (args.Length < 1)
{
    Console.Error.WriteLine("usage: Svae.Serving <model.zip> [--input <file>] [history ...]   (history = [userKey:]comma-separated item keys)");
    return 2;
}

var histories = new List<string>();
for (int i = 1; i < args.Length; i++)
{
    if (args[i] == "--input" && i + 1 < args.Length)
        histories.AddRange(File.ReadAllLines(args[++i]));
    else
        histories.Add(args[i]);
}

foreach (string line in ModelScoring.Score(new MLContext(), args[0], histories))
    Console.WriteLine(line);
return 0;
