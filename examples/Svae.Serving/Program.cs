using Microsoft.ML;
using Microsoft.ML.Transforms.Onnx;
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

// A saved zip keeps no ONNX Runtime session options (ML.NET's OnnxTransformer saves the graph and its column names
// only): the options are the loading MLContext's, set before Model.Load. Without them every session gets ONNX Runtime's
// defaults, a pool of one spinning thread per core for each model loaded. As in examples/Svae.WebApi
// (Program.ScoringContext), each session runs on the calling thread: an app's parallel work is its requests, and a
// request's graph is a few small kernels. The scores are the same with any thread count.
var mlContext = new MLContext();
mlContext.SetOnnxSessionOption(new OnnxSessionOptions { IntraOpNumThreads = 1, InterOpNumThreads = 1 });
foreach (string line in ModelScoring.Score(mlContext, args[0], histories))
    Console.WriteLine(line);
return 0;
