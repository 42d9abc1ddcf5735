using System.Text;

namespace Svae.Cli;

/// <summary>
/// Declares a recommendation graph's key inputs (<c>History</c>, <c>UserId</c>) as int64 instead of uint32, for ONNX
/// hosts without unsigned tensors (ONNX Runtime's Java API, and so SynapseML on Spark, has no uint32).
/// </summary>
/// <remarks>
/// The graphs this library writes read each key input only through a <c>Cast</c> to int64 (unknown keys — 0, negative
/// or above N — are dropped after it), so declaring the input int64 makes that cast an identity and changes nothing
/// else. The element type is one varint byte in the serialized model (uint32 = 12, int64 = 7), so the bytes are patched
/// in place; the method checks that every node reading the input is a <c>Cast</c> and refuses the graph otherwise.
/// </remarks>
internal static class OnnxKeyInputs
{
    // ONNX protobuf field numbers (onnx.proto).
    private const int ModelGraph = 7;
    private const int GraphNode = 1;
    private const int GraphInput = 11;
    private const int NodeInput = 1;
    private const int NodeOpType = 4;
    private const int NodeAttribute = 5;
    private const int AttributeGraph = 6;
    private const int AttributeGraphs = 11;
    private const int ValueInfoName = 1;
    private const int ValueInfoType = 2;
    private const int TypeTensor = 1;
    private const int TensorElementType = 1;
    private const byte UInt32 = 12;
    private const byte Int64 = 7;

    /// <summary>A copy of <paramref name="model"/> whose inputs named in <paramref name="inputs"/> are int64.</summary>
    public static byte[] WithInt64Keys(byte[] model, IReadOnlyCollection<string> inputs)
    {
        var graph = Fields(model, 0, model.Length).Where(f => f.Number == ModelGraph && f.Wire == 2).ToList();
        if (graph.Count != 1)
            throw new InvalidDataException("The ONNX model has no graph.");
        var copy = (byte[])model.Clone();
        var patched = new HashSet<string>(StringComparer.Ordinal);
        foreach (var input in Fields(model, graph[0].Start, graph[0].Length).Where(f => f.Number == GraphInput && f.Wire == 2))
        {
            string name = Name(model, input, ValueInfoName);
            if (!inputs.Contains(name))
                continue;
            var type = Single(model, input, ValueInfoType);
            var tensor = Single(model, type, TypeTensor);
            var elementType = Single(model, tensor, TensorElementType);
            if (elementType.Wire != 0 || elementType.Length != 1 || model[elementType.Start] != UInt32)
                throw new InvalidDataException($"The graph input '{name}' is not a uint32 tensor.");
            foreach (var (opType, where) in Readers(model, graph[0], name))
            {
                if (opType != "Cast")
                    throw new InvalidDataException($"The graph input '{name}' is read by a {opType} node{where}, not only by a Cast: its type cannot be changed safely.");
            }
            copy[elementType.Start] = Int64;
            patched.Add(name);
        }
        var missing = inputs.Where(i => !patched.Contains(i)).ToList();
        if (missing.Count > 0)
            throw new InvalidDataException($"The graph has no input named {string.Join(", ", missing.Select(m => $"'{m}'"))}.");
        return copy;
    }

    /// <summary>The op types of the nodes (also inside subgraphs) that read <paramref name="name"/>.</summary>
    private static IEnumerable<(string OpType, string Where)> Readers(byte[] model, Field graph, string name, string where = "")
    {
        foreach (var node in Fields(model, graph.Start, graph.Length).Where(f => f.Number == GraphNode && f.Wire == 2))
        {
            var fields = Fields(model, node.Start, node.Length).ToList();
            string opType = fields.Where(f => f.Number == NodeOpType && f.Wire == 2).Select(f => Text(model, f)).FirstOrDefault() ?? "";
            if (fields.Any(f => f.Number == NodeInput && f.Wire == 2 && Text(model, f) == name))
                yield return (opType, where);
            foreach (var attribute in fields.Where(f => f.Number == NodeAttribute && f.Wire == 2))
            {
                foreach (var subgraph in Fields(model, attribute.Start, attribute.Length).Where(f => (f.Number == AttributeGraph || f.Number == AttributeGraphs) && f.Wire == 2))
                {
                    foreach (var reader in Readers(model, subgraph, name, $" in a subgraph of a {opType} node"))
                        yield return reader;
                }
            }
        }
    }

    private static string Name(byte[] model, Field message, int number)
        => Fields(model, message.Start, message.Length).Where(f => f.Number == number && f.Wire == 2).Select(f => Text(model, f)).FirstOrDefault() ?? "";

    private static Field Single(byte[] model, Field message, int number)
    {
        var fields = Fields(model, message.Start, message.Length).Where(f => f.Number == number).ToList();
        return fields.Count == 1 ? fields[0] : throw new InvalidDataException($"Unexpected ONNX message: field {number} occurs {fields.Count} times.");
    }

    private static string Text(byte[] model, Field field) => Encoding.UTF8.GetString(model, field.Start, field.Length);

    /// <summary>A protobuf field: for wire type 2 the payload's bytes; for varints the varint's bytes.</summary>
    private readonly record struct Field(int Number, int Wire, int Start, int Length);

    private static IEnumerable<Field> Fields(byte[] bytes, int start, int length)
    {
        int position = start, end = start + length;
        while (position < end)
        {
            ulong tag = Varint(bytes, ref position, end);
            int number = (int)(tag >> 3), wire = (int)(tag & 7);
            int valueStart = position;
            switch (wire)
            {
                case 0:
                    Varint(bytes, ref position, end);
                    yield return new Field(number, wire, valueStart, position - valueStart);
                    break;
                case 1:
                    position += 8;
                    break;
                case 2:
                    ulong size = Varint(bytes, ref position, end);
                    if (size > (ulong)(end - position))
                        throw new InvalidDataException("Truncated ONNX model.");
                    yield return new Field(number, wire, position, (int)size);
                    position += (int)size;
                    break;
                case 5:
                    position += 4;
                    break;
                default:
                    throw new InvalidDataException($"Unexpected protobuf wire type {wire} in the ONNX model.");
            }
            if (position > end)
                throw new InvalidDataException("Truncated ONNX model.");
        }
    }

    private static ulong Varint(byte[] bytes, ref int position, int end)
    {
        ulong value = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            if (position >= end)
                throw new InvalidDataException("Truncated ONNX model.");
            byte b = bytes[position++];
            value |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0)
                return value;
        }
        throw new InvalidDataException("Malformed varint in the ONNX model.");
    }
}
