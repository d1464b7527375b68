using System.Text;

namespace ConsentRegistry.Imaging.Embeddings;

/// <summary>
/// Just enough of the ONNX file format (protocol buffers) to prepare an image model for
/// embedding: make the batch dimension of the graph's inputs and outputs dynamic, drop the
/// intermediate shape hints that fix it at 1, and expose an inner tensor (a convolutional feature
/// map before the model's own pooling) as a graph output. ONNX Runtime cannot change a graph
/// itself, and the protobuf schema is small and stable, so a field-level rewrite is enough:
/// every field the rewrite does not touch is copied byte for byte.
/// </summary>
internal static class OnnxGraph
{
    // Field numbers from onnx.proto (ModelProto.graph, GraphProto.node/input/output/value_info,
    // NodeProto.input/output/op_type, ValueInfoProto.name/type, TypeProto.tensor_type,
    // TypeProto.Tensor.elem_type/shape, TensorShapeProto.dim, Dimension.dim_param).
    private const int ModelGraph = 7;
    private const int GraphNode = 1;
    private const int GraphInitializer = 5;
    private const int TensorName = 8;
    private const int GraphInput = 11;
    private const int GraphOutput = 12;
    private const int GraphValueInfo = 13;
    private const int NodeInput = 1;
    private const int NodeOutput = 2;
    private const int NodeOpType = 4;
    private const int ValueInfoName = 1;
    private const int ValueInfoType = 2;
    private const int TypeTensor = 1;
    private const int TensorElemType = 1;
    private const int TensorShape = 2;
    private const int ShapeDim = 1;
    private const int DimParam = 2;
    private const int ElemTypeFloat = 1;

    /// <summary>
    /// Rewrites <paramref name="model"/> for batched embedding and returns it with the name of the
    /// output to read: <paramref name="output"/> when given (added as a graph output if it is an
    /// inner tensor), else the input of a final average-pooling node (the feature map it pools),
    /// else the graph's first output.
    /// </summary>
    public static (byte[] Model, string Output) PrepareForEmbedding(byte[] model, string? output)
    {
        var modelFields = Protobuf.Parse(model);
        var graphIndex = modelFields.FindIndex(f => f.Number == ModelGraph);
        if (graphIndex < 0)
        {
            throw new InvalidDataException("The file is not an ONNX model: it has no graph.");
        }

        var graph = Protobuf.Parse(modelFields[graphIndex].Bytes);
        var outputs = graph.Where(f => f.Number == GraphOutput).Select(f => NameOf(f.Bytes)).ToList();
        output ??= FeatureMapBeforePooling(graph) ?? outputs.FirstOrDefault()
            ?? throw new InvalidDataException("The ONNX model has no output.");

        // Older exports list their weights among the inputs too: those keep their shapes.
        var weights = graph.Where(f => f.Number == GraphInitializer).Select(f => Text(Protobuf.Parse(f.Bytes), TensorName)).ToHashSet();
        var rewritten = new List<Protobuf.Field>(graph.Count + 1);
        foreach (var field in graph)
        {
            switch (field.Number)
            {
                case GraphValueInfo:
                    continue; // shape hints; they fix the batch at its exported size
                case GraphInput when weights.Contains(NameOf(field.Bytes)):
                    rewritten.Add(field);
                    break;
                case GraphInput or GraphOutput:
                    rewritten.Add(field with { Bytes = WithDynamicBatch(field.Bytes) });
                    break;
                default:
                    rewritten.Add(field);
                    break;
            }
        }

        if (!outputs.Contains(output))
        {
            rewritten.Add(Protobuf.Message(GraphOutput, FloatValueInfo(output)));
        }

        modelFields[graphIndex] = Protobuf.Message(ModelGraph, rewritten);
        return (Protobuf.Write(modelFields), output);
    }

    /// <summary>The tensor a trailing AveragePool/GlobalAveragePool node reads, if the graph ends with one.</summary>
    private static string? FeatureMapBeforePooling(List<Protobuf.Field> graph)
    {
        var last = graph.FindLastIndex(f => f.Number == GraphNode);
        if (last < 0)
        {
            return null;
        }

        var node = Protobuf.Parse(graph[last].Bytes);
        var op = Text(node, NodeOpType);
        return op is "AveragePool" or "GlobalAveragePool" && node.Any(f => f.Number == NodeOutput) ? Text(node, NodeInput) : null;
    }

    private static string NameOf(ReadOnlyMemory<byte> valueInfo) => Text(Protobuf.Parse(valueInfo), ValueInfoName) ?? "";

    private static string? Text(List<Protobuf.Field> message, int number)
    {
        var at = message.FindIndex(f => f.Number == number);
        return at < 0 ? null : Encoding.UTF8.GetString(message[at].Bytes.Span);
    }

    /// <summary>ValueInfo → type → tensor_type → shape: the first dimension becomes the parameter "batch".</summary>
    private static byte[] WithDynamicBatch(ReadOnlyMemory<byte> valueInfo) =>
        Protobuf.Rewrite(valueInfo, ValueInfoType, type =>
            Protobuf.Rewrite(type, TypeTensor, tensor =>
                Protobuf.Rewrite(tensor, TensorShape, shape =>
                {
                    var dims = Protobuf.Parse(shape);
                    var first = dims.FindIndex(d => d.Number == ShapeDim);
                    if (first >= 0)
                    {
                        dims[first] = Protobuf.Message(ShapeDim, Protobuf.Write([Protobuf.Text(DimParam, "batch")]));
                    }

                    return Protobuf.Write(dims);
                })));

    private static byte[] FloatValueInfo(string name) => Protobuf.Write(
    [
        Protobuf.Text(ValueInfoName, name),
        Protobuf.Message(ValueInfoType, Protobuf.Write([Protobuf.Message(TypeTensor, Protobuf.Write([Protobuf.Varint(TensorElemType, ElemTypeFloat)]))])),
    ]);
}
