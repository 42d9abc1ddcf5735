using System.CommandLine;
using System.Globalization;
using System.IO.Compression;
using System.Text;
using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.Transforms.Onnx;
using Svae.Examples;

namespace Svae.Cli;

/// <summary>
/// <c>svae export-onnx &lt;model.zip&gt; &lt;out-dir&gt;</c>: writes a saved model's ONNX graph and its vocabularies, to
/// score it on another ONNX host (e.g. SynapseML's ONNXModel on Spark). The contract is in docs/SCALE.md.
/// </summary>
/// <remarks>
/// The graph comes from the zip's <c>OnnxModel</c> entry (ML.NET's <c>OnnxTransformer</c> stores the graph there,
/// length-prefixed); the vocabularies come from the loaded chain, as the <c>KeyValues</c> of the history (and user)
/// keys that the chain's <c>MapValueToKey</c> steps hand to the <c>OnnxTransformer</c>. Only public ML.NET is used.
/// </remarks>
internal static class OnnxExport
{
    /// <summary>The graph file.</summary>
    public const string GraphFile = "model.onnx";

    /// <summary>The item vocabulary: <c>key&lt;TAB&gt;item_id</c>, keys 1..N in order, after a header line.</summary>
    public const string ItemsFile = "items.tsv";

    /// <summary>The user vocabulary of models with per-user parameters: <c>key&lt;TAB&gt;user_id</c>.</summary>
    public const string UsersFile = "users.tsv";

    /// <summary>The machine-readable contract: inputs, outputs, types, shapes, vocabularies.</summary>
    public const string ContractFile = "contract.json";

    /// <summary>The command.</summary>
    public static Command Command()
    {
        var model = new Argument<string>("model") { Description = "A model zip saved by reproduce --save-models or mlContext.Recommendation().SaveModel." };
        var output = new Argument<string>("out-dir") { Description = "Folder that receives model.onnx, items.tsv (users.tsv for BPR, FPMC, Caser) and contract.json." };
        var keyType = new Option<string>("--key-type")
        {
            Description = "Element type of the key inputs: int64 (default; for hosts without unsigned tensors, such as ONNX Runtime's Java API under SynapseML) or uint32 (the graph exactly as ML.NET runs it).",
            DefaultValueFactory = _ => "int64",
        };
        keyType.AcceptOnlyFromAmong("int64", "uint32");
        var command = new Command("export-onnx", "Write a saved model's ONNX graph and item vocabulary (raw ids in key order) with their contract, to score on other ONNX hosts (docs/SCALE.md).")
        {
            model, output, keyType,
        };
        command.SetAction(parse =>
        {
            var contract = Export(new MLContext(), parse.GetValue(model)!, parse.GetValue(output)!, int64Keys: parse.GetValue(keyType) == "int64");
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"Wrote {contract.Model} graph (format {contract.Format}; {contract.ItemCount} {contract.ItemIdType} item ids, top {contract.TopK}) to {Path.GetFullPath(parse.GetValue(output)!)}: {string.Join(", ", contract.Files)}"));
            return 0;
        });
        return command;
    }

    /// <summary>
    /// Writes the graph, the vocabularies and the contract of the zip at <paramref name="modelPath"/> into
    /// <paramref name="directory"/>; with <paramref name="int64Keys"/>, the graph's key inputs are declared int64
    /// (<see cref="OnnxKeyInputs"/>), else they stay uint32 as ML.NET feeds them.
    /// </summary>
    public static ExportContract Export(MLContext mlContext, string modelPath, string directory, bool int64Keys = true)
    {
        string fullPath = Path.GetFullPath(modelPath);
        if (!File.Exists(fullPath))
            throw new FileNotFoundException($"The model file '{fullPath}' does not exist.", fullPath);
        byte[] graph = ReadGraph(fullPath);

        ITransformer model;
        try
        {
            model = mlContext.Model.Load(fullPath, out _);
        }
        catch (Exception e) when (e is InvalidOperationException or InvalidDataException or FormatException)
        {
            throw new InvalidDataException($"'{fullPath}' is not a model zip ML.NET can load: {e.Message}", e);
        }
        try
        {
            var graphInput = SchemaAtGraph(mlContext, model, fullPath);
            var items = Vocabulary(graphInput, "History", fullPath);
            bool readsUser;
            using (var original = new InferenceSession(graph))
                readsUser = original.InputMetadata.ContainsKey("UserId");
            (string Type, string[] Ids)? users = readsUser ? Vocabulary(graphInput, "UserId", fullPath) : null;
            if (int64Keys)
                graph = OnnxKeyInputs.WithInt64Keys(graph, readsUser ? ["History", "UserId"] : ["History"]);
            using var session = new InferenceSession(graph);
            var contract = Contract(session, items, users, fullPath);

            var files = new List<(string Name, byte[] Bytes)> { (GraphFile, graph), (ItemsFile, Tsv("item_id", items.Ids)) };
            if (users is not null)
                files.Add((UsersFile, Tsv("user_id", users.Value.Ids)));
            files.Add((ContractFile,
                JsonSerializer.SerializeToUtf8Bytes(contract, new JsonSerializerOptions { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase })));
            WriteFiles(directory, files, stale: users is null ? [UsersFile] : []);
            return contract;
        }
        finally
        {
            (model as IDisposable)?.Dispose();
        }
    }

    /// <summary>The graph bytes of the zip's single <c>OnnxModel</c> entry (an Int32 length, then the bytes).</summary>
    private static byte[] ReadGraph(string path)
    {
        ZipArchive zip;
        try
        {
            zip = ZipFile.OpenRead(path);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"'{path}' is not a model zip: {e.Message}", e);
        }
        using (zip)
        {
            var entries = zip.Entries.Where(e => e.Name == "OnnxModel").ToList();
            if (entries.Count != 1)
                throw new InvalidDataException(
                    $"'{path}' holds {entries.Count} ONNX graphs (OnnxModel entries), not one: is it a recommender zip written by MLNet.Svae?");
            using var stream = entries[0].Open();
            using var buffer = new MemoryStream();
            stream.CopyTo(buffer);
            byte[] bytes = buffer.ToArray();
            int length = bytes.Length >= 4 ? BitConverter.ToInt32(bytes, 0) : -1;
            if (length != bytes.Length - 4)
                throw new InvalidDataException($"'{path}': the entry '{entries[0].FullName}' is not a length-prefixed ONNX graph.");
            return bytes[4..];
        }
    }

    /// <summary>The schema the chain's OnnxTransformer reads: the chain applied up to it, for the model's own id types.</summary>
    private static DataViewSchema SchemaAtGraph(MLContext mlContext, ITransformer model, string path)
    {
        if (model is not IEnumerable<ITransformer> chain || !chain.OfType<OnnxTransformer>().Any())
            throw new InvalidDataException($"'{path}' is not a recommender zip written by MLNet.Svae: it has no ONNX transformer.");
        foreach (var input in CandidateInputs(mlContext))
        {
            try
            {
                model.GetOutputSchema(input);
            }
            catch (Exception e) when (e is InvalidOperationException or ArgumentException)
            {
                continue; // the model reads other id types
            }
            var schema = input;
            foreach (var transformer in chain.TakeWhile(t => t is not OnnxTransformer))
                schema = transformer.GetOutputSchema(schema);
            return schema;
        }
        throw new InvalidDataException($"'{path}' does not read a 'History' column of UInt32, Int64 or String item ids: is it a recommender zip written by MLNet.Svae?");
    }

    private static IEnumerable<DataViewSchema> CandidateInputs(MLContext mlContext)
    {
        foreach (var schema in Inputs<uint>(mlContext).Concat(Inputs<long>(mlContext)).Concat(Inputs<string>(mlContext)))
            yield return schema;
    }

    private static IEnumerable<DataViewSchema> Inputs<TItem>(MLContext mlContext)
    {
        yield return mlContext.Data.LoadFromEnumerable(Array.Empty<HistoryInput<TItem, uint>>()).Schema;
        yield return mlContext.Data.LoadFromEnumerable(Array.Empty<HistoryInput<TItem, long>>()).Schema;
        yield return mlContext.Data.LoadFromEnumerable(Array.Empty<HistoryInput<TItem, string>>()).Schema;
    }

    /// <summary>The ids of keys 1..N of a key column the graph reads (its <c>KeyValues</c>), as text, with their type name.</summary>
    private static (string Type, string[] Ids) Vocabulary(DataViewSchema schema, string column, string path)
    {
        var col = schema[column];
        var keyType = (col.Type as VectorDataViewType)?.ItemType as KeyDataViewType ?? col.Type as KeyDataViewType;
        var values = col.Annotations.Schema.GetColumnOrNull("KeyValues");
        if (keyType is null || values is null || values.Value.Type is not VectorDataViewType { ItemType: var idType })
            throw new InvalidDataException($"'{path}': the graph's '{column}' input is not a key column with its ids (KeyValues).");
        string[] ids = idType.RawType == typeof(ReadOnlyMemory<char>) ? Read<ReadOnlyMemory<char>>(col, v => v.ToString())
            : idType.RawType == typeof(uint) ? Read<uint>(col, v => v.ToString(CultureInfo.InvariantCulture))
            : idType.RawType == typeof(long) ? Read<long>(col, v => v.ToString(CultureInfo.InvariantCulture))
            : throw new InvalidDataException($"'{path}': the '{column}' ids are of type {idType}, not UInt32, Int64 or String.");
        if ((ulong)ids.Length != keyType.Count)
            throw new InvalidDataException($"'{path}': the '{column}' input has {keyType.Count} keys but {ids.Length} ids.");
        for (int i = 0; i < ids.Length; i++)
        {
            if (ids[i].AsSpan().IndexOfAny('\t', '\n', '\r') >= 0)
                throw new InvalidDataException($"The {column} id of key {i + 1} contains a tab or a line break, which {ItemsFile} cannot hold: '{ids[i]}'.");
        }
        string type = idType.RawType == typeof(ReadOnlyMemory<char>) ? "String" : idType.RawType == typeof(uint) ? "UInt32" : "Int64";
        return (type, ids);
    }

    private static string[] Read<T>(DataViewSchema.Column column, Func<T, string> format)
    {
        VBuffer<T> values = default;
        column.GetKeyValues(ref values);
        return values.DenseValues().Select(format).ToArray();
    }

    private static byte[] Tsv(string idHeader, string[] ids)
    {
        var text = new StringBuilder("key\t").Append(idHeader).Append('\n');
        for (int i = 0; i < ids.Length; i++)
            text.Append((i + 1).ToString(CultureInfo.InvariantCulture)).Append('\t').Append(ids[i]).Append('\n');
        return new UTF8Encoding(false).GetBytes(text.ToString());
    }

    /// <summary>The contract, read from the graph itself (names, element types, shapes, metadata) with ONNX Runtime.</summary>
    private static ExportContract Contract(InferenceSession session, (string Type, string[] Ids) items, (string Type, string[] Ids)? users, string path)
    {
        var metadata = session.ModelMetadata.CustomMetadataMap;
        static TensorContract Describe(string name, NodeMetadata node)
            => new(name, node.ElementDataType.ToString().ToLowerInvariant(), node.Dimensions.Select((d, i) => d >= 0 ? (object)d : node.SymbolicDimensions[i]).ToArray());
        var inputs = session.InputMetadata.Select(p => Describe(p.Key, p.Value)).ToList();
        var outputs = session.OutputMetadata.Select(p => Describe(p.Key, p.Value)).ToList();
        var topScores = session.OutputMetadata.TryGetValue("TopScores", out var scores) ? scores
            : throw new InvalidDataException($"'{path}': the graph has no TopScores output.");
        if (!inputs.Any(i => i.Name == "History") || !session.OutputMetadata.ContainsKey("TopItemKeys"))
            throw new InvalidDataException($"'{path}': the graph does not read 'History' and write 'TopItemKeys' (format 2).");
        var files = new List<string> { GraphFile, ItemsFile };
        if (users is not null) files.Add(UsersFile);
        files.Add(ContractFile);
        return new ExportContract(
            metadata.GetValueOrDefault("mlnet.svae.format", "?"),
            metadata.GetValueOrDefault("mlnet.svae.model", "?"),
            items.Type,
            items.Ids.Length,
            users?.Type,
            users?.Ids.Length,
            topScores.Dimensions[^1],
            inputs,
            outputs,
            files);
    }

    /// <summary>
    /// Writes <paramref name="files"/> into <paramref name="directory"/>: all of them first into a new temporary folder
    /// beside it (each flushed to disk), then each moved into place in one rename; <paramref name="stale"/> files of an
    /// earlier export that this one does not write (users.tsv of a user-keyed model) are deleted. A failed write leaves
    /// the earlier files and no temporary folder.
    /// </summary>
    private static void WriteFiles(string directory, IReadOnlyList<(string Name, byte[] Bytes)> files, IReadOnlyList<string> stale)
    {
        string target = Path.GetFullPath(directory);
        Directory.CreateDirectory(target);
        string parent = Path.GetDirectoryName(target.TrimEnd(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar)) ?? target;
        string temporary = Path.Combine(parent, $".{Path.GetFileName(target.TrimEnd(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar))}.tmp-{Guid.NewGuid():N}");
        try
        {
            Directory.CreateDirectory(temporary);
            foreach (var (name, bytes) in files)
            {
                using var stream = new FileStream(Path.Combine(temporary, name), FileMode.CreateNew, FileAccess.Write, FileShare.None);
                stream.Write(bytes);
                stream.Flush(flushToDisk: true);
            }
            foreach (var (name, _) in files)
                File.Move(Path.Combine(temporary, name), Path.Combine(target, name), overwrite: true);
            foreach (string name in stale)
                File.Delete(Path.Combine(target, name));
        }
        finally
        {
            if (Directory.Exists(temporary))
                Directory.Delete(temporary, recursive: true);
        }
    }
}

/// <summary>What <c>export-onnx</c> writes to contract.json.</summary>
/// <param name="Format">The graph format version (metadata <c>mlnet.svae.format</c>).</param>
/// <param name="Model">The model (metadata <c>mlnet.svae.model</c>), e.g. SVAE.</param>
/// <param name="ItemIdType">The type of the item ids in items.tsv: UInt32, Int64 or String.</param>
/// <param name="ItemCount">N: the item keys are 1..N.</param>
/// <param name="UserIdType">The type of the user ids in users.tsv, for models with a UserId input; else null.</param>
/// <param name="UserCount">The number of user keys, or null.</param>
/// <param name="TopK">K: the length of TopItemKeys and TopScores.</param>
/// <param name="Inputs">The graph's inputs.</param>
/// <param name="Outputs">The graph's outputs.</param>
/// <param name="Files">The files written.</param>
internal sealed record ExportContract(string Format, string Model, string ItemIdType, int ItemCount, string? UserIdType, int? UserCount, long TopK,
    IReadOnlyList<TensorContract> Inputs, IReadOnlyList<TensorContract> Outputs, IReadOnlyList<string> Files);

/// <summary>One input or output of the graph.</summary>
/// <param name="Name">Its name.</param>
/// <param name="ElementType">Its element type (int64 or uint32 for the keys, int64 and float for the outputs).</param>
/// <param name="Shape">Its dimensions: numbers, or names of dimensions that vary (history_length).</param>
internal sealed record TensorContract(string Name, string ElementType, object[] Shape);
