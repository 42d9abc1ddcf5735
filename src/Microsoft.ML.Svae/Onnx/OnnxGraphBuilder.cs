using Google.Protobuf;
using Microsoft.ML.Svae.Onnx.Proto;

namespace Microsoft.ML.Svae.Onnx;

/// <summary>
/// Writes ONNX graphs (opset 17) node by node: the one place that knows the ONNX protobuf types.
/// Every model's graph writer uses it; names of intermediate values are generated and unique.
/// </summary>
internal sealed class OnnxGraphBuilder
{
    /// <summary>The ONNX operator set every graph is written for.</summary>
    public const int OpsetVersion = 17;

    /// <summary>The ONNX IR version matching <see cref="OpsetVersion"/>.</summary>
    public const long IrVersion = 8;

    private readonly GraphProto _graph;
    private readonly string _prefix;
    private int _counter;

    public OnnxGraphBuilder(string name)
        : this(new GraphProto { Name = name }, name + "/")
    {
    }

    private OnnxGraphBuilder(GraphProto graph, string prefix)
    {
        _graph = graph;
        _prefix = prefix;
    }

    internal GraphProto Graph => _graph;

    /// <summary>A builder for a subgraph (e.g. a branch of <c>If</c>); its values may use this graph's values.</summary>
    public OnnxGraphBuilder Subgraph(string name) => new(new GraphProto { Name = name }, _prefix + name + "/");

    /// <summary>A new unique value name (e.g. for a node output that is not the first one).</summary>
    public string Fresh(string hint) => $"{_prefix}{hint}_{_counter++}";

    /// <summary>Declares a graph input. A dimension is a number or a symbolic name.</summary>
    public string Input(string name, TensorProto.Types.DataType type, params object[] dims)
    {
        _graph.Input.Add(ValueInfo(name, type, dims));
        return name;
    }

    /// <summary>Declares <paramref name="value"/> as a graph output.</summary>
    public void Output(string value, TensorProto.Types.DataType type, params object[] dims)
        => _graph.Output.Add(ValueInfo(value, type, dims));

    private static ValueInfoProto ValueInfo(string name, TensorProto.Types.DataType type, object[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var d in dims)
        {
            shape.Dim.Add(d switch
            {
                string symbol => new TensorShapeProto.Types.Dimension { DimParam = symbol },
                int i => new TensorShapeProto.Types.Dimension { DimValue = i },
                long l => new TensorShapeProto.Types.Dimension { DimValue = l },
                _ => throw new ArgumentException($"Unsupported dimension {d}."),
            });
        }
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = shape } },
        };
    }

    /// <summary>Adds a float constant (initializer) with the given shape.</summary>
    public string Constant(string hint, ReadOnlySpan<float> data, params long[] dims)
    {
        CheckSize(data.Length, dims);
        var tensor = new TensorProto { Name = Fresh(hint), DataType = (int)TensorProto.Types.DataType.Float };
        tensor.Dims.AddRange(dims);
        tensor.RawData = ByteString.CopyFrom(System.Runtime.InteropServices.MemoryMarshal.AsBytes(data));
        _graph.Initializer.Add(tensor);
        return tensor.Name;
    }

    /// <summary>Adds an int64 constant (initializer) with the given shape.</summary>
    public string Constant(string hint, ReadOnlySpan<long> data, params long[] dims)
    {
        CheckSize(data.Length, dims);
        var tensor = new TensorProto { Name = Fresh(hint), DataType = (int)TensorProto.Types.DataType.Int64 };
        tensor.Dims.AddRange(dims);
        tensor.RawData = ByteString.CopyFrom(System.Runtime.InteropServices.MemoryMarshal.AsBytes(data));
        _graph.Initializer.Add(tensor);
        return tensor.Name;
    }

    /// <summary>Adds a boolean constant (initializer) with the given shape.</summary>
    public string Constant(string hint, ReadOnlySpan<bool> data, params long[] dims)
    {
        CheckSize(data.Length, dims);
        var tensor = new TensorProto { Name = Fresh(hint), DataType = (int)TensorProto.Types.DataType.Bool };
        tensor.Dims.AddRange(dims);
        tensor.RawData = ByteString.CopyFrom(System.Runtime.InteropServices.MemoryMarshal.AsBytes(data));
        _graph.Initializer.Add(tensor);
        return tensor.Name;
    }

    /// <summary>An int64 vector constant (shapes, axes, sizes).</summary>
    public string Int64s(params long[] values) => Constant("i64", values, values.Length);

    /// <summary>A scalar float constant.</summary>
    public string Scalar(float value) => Constant("f32", new[] { value });

    /// <summary>A scalar int64 constant.</summary>
    public string Scalar(long value) => Constant("i64", new[] { value });

    private static void CheckSize(int length, long[] dims)
    {
        long size = 1;
        foreach (var d in dims) size *= d;
        if (size != length)
            throw new ArgumentException($"A constant of {length} values does not have shape [{string.Join(", ", dims)}].");
    }

    /// <summary>Adds a node with one output and returns the output's name.</summary>
    public string Node(string opType, string[] inputs, params (string Name, object Value)[] attributes)
        => Nodes(opType, inputs, 1, attributes)[0];

    /// <summary>Adds a node with <paramref name="outputCount"/> outputs and returns their names.</summary>
    public string[] Nodes(string opType, string[] inputs, int outputCount, params (string Name, object Value)[] attributes)
    {
        var outputs = new string[outputCount];
        for (int i = 0; i < outputCount; i++) outputs[i] = Fresh(opType);
        AddNode(opType, inputs, outputs, attributes);
        return outputs;
    }

    /// <summary>Adds a node whose outputs have the given names (e.g. a graph output).</summary>
    public void AddNode(string opType, string[] inputs, string[] outputs, params (string Name, object Value)[] attributes)
        => AddNamedNode(Fresh(opType + "_node"), opType, inputs, outputs, attributes);

    /// <summary>
    /// Adds a node with a given (unique) name: ONNX Runtime names the failing node in its error messages, so a node
    /// that guards an input can say what was expected.
    /// </summary>
    public void AddNamedNode(string nodeName, string opType, string[] inputs, string[] outputs, params (string Name, object Value)[] attributes)
    {
        var node = new NodeProto { OpType = opType, Name = nodeName };
        node.Input.AddRange(inputs);
        node.Output.AddRange(outputs);
        foreach (var (name, value) in attributes)
            node.Attribute.Add(Attribute(name, value));
        _graph.Node.Add(node);
    }

    private static AttributeProto Attribute(string name, object value)
    {
        var a = new AttributeProto { Name = name };
        switch (value)
        {
            case int i: a.Type = AttributeProto.Types.AttributeType.Int; a.I = i; break;
            case long l: a.Type = AttributeProto.Types.AttributeType.Int; a.I = l; break;
            case float f: a.Type = AttributeProto.Types.AttributeType.Float; a.F = f; break;
            case string s: a.Type = AttributeProto.Types.AttributeType.String; a.S = ByteString.CopyFromUtf8(s); break;
            case long[] ls: a.Type = AttributeProto.Types.AttributeType.Ints; a.Ints.AddRange(ls); break;
            case string[] ss: a.Type = AttributeProto.Types.AttributeType.Strings; a.Strings.AddRange(ss.Select(ByteString.CopyFromUtf8)); break;
            case OnnxGraphBuilder g: a.Type = AttributeProto.Types.AttributeType.Graph; a.G = g._graph; break;
            case TensorProto t: a.Type = AttributeProto.Types.AttributeType.Tensor; a.T = t; break;
            default: throw new ArgumentException($"Unsupported attribute value for '{name}': {value?.GetType().Name}.");
        }
        return a;
    }

    /// <summary>Wraps the graph in a model with the opset, producer and metadata.</summary>
    public byte[] ToModelBytes(IReadOnlyDictionary<string, string> metadata)
    {
        var model = new ModelProto
        {
            IrVersion = IrVersion,
            ProducerName = "MLNet.Svae",
            ProducerVersion = typeof(OnnxGraphBuilder).Assembly.GetName().Version?.ToString() ?? "0",
            Domain = "org.mlnet.svae",
            ModelVersion = 1,
            Graph = _graph,
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = OpsetVersion });
        foreach (var (key, value) in metadata)
            model.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
        return model.ToByteArray();
    }
}
