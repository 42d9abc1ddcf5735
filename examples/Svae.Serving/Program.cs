using Microsoft.ML;
using Svae.Examples;

// Serves recommendations from a model zip written by MLNet.Svae, with public ML.NET only.
//
//   Svae.Serving <model.zip> [history ...]      one history per argument: comma-separated item ids
//   Svae.Serving <model.zip> --input <file>     one history per line
//
// Item ids are the ids of the training data (e.g. MovieLens movie ids, or product SKUs), in time order;
// ids the model does not know are ignored. For models with per-user parameters (BPR, FPMC, Caser) a
// history may start with the user id and a colon, e.g. "7:3,4,5"; other models ignore it.
//
// Prints one line per history: "id:score id:score ...", best first.
if (args.Length < 1)
{
    Console.Error.WriteLine("usage: Svae.Serving <model.zip> [--input <file>] [history ...]   (history = [userId:]comma-separated item ids)");
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
