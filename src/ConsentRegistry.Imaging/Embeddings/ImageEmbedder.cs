using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace ConsentRegistry.Imaging.Embeddings;

/// <summary>
/// Turns decoded images into unit vectors with an ONNX model, many images per inference call.
/// The model is rewritten when loaded (<see cref="OnnxGraph"/>) so that its batch dimension is
/// dynamic and the feature map before its own pooling is an output; that map is pooled here with
/// GeM and the vector scaled to length 1, so cosine similarity is a dot product. Thread-safe.
/// </summary>
public sealed class ImageEmbedder : IDisposable
{
    private const string CudaProvider = "CUDAExecutionProvider";
    private readonly EmbeddingModelOptions _options;
    private readonly InferenceSession? _preprocess;
    private readonly InferenceSession _model;
    private readonly string _modelInput;
    private readonly string _output;

    public ImageEmbedder(EmbeddingModelOptions options)
    {
        _options = options;
        var modelPath = options.ResolvedModelPath;
        var preprocessPath = options.ResolvedPreprocessModelPath;

        Provider = options.Device.ToLowerInvariant();
        using var sessionOptions = SessionOptionsFor(options);
        try
        {
            if (preprocessPath is not null)
            {
                var (preprocess, _) = OnnxGraph.PrepareForEmbedding(Read(preprocessPath), null);
                _preprocess = new InferenceSession(preprocess, sessionOptions);
            }

            var (model, output) = OnnxGraph.PrepareForEmbedding(Read(modelPath), string.IsNullOrEmpty(options.OutputName) ? null : options.OutputName);
            _model = new InferenceSession(model, sessionOptions);
            _modelInput = _model.InputMetadata.Keys.Single();
            _output = output;
            Dimensions = Embed([Blank(options.InputSize)])[0].Length;
        }
        catch
        {
            // A model that loads but does not run here (several inputs, another input size, a
            // missing output) would otherwise keep its sessions' native memory, hundreds of MB.
            _model?.Dispose();
            _preprocess?.Dispose();
            throw;
        }
    }

    /// <summary>The id every vector of this embedder carries.</summary>
    public string ModelId => _options.Id;

    /// <summary>The length of the vectors.</summary>
    public int Dimensions { get; }

    /// <summary>The execution provider that runs the model: <c>cpu</c> or <c>cuda</c>.</summary>
    public string Provider { get; }

    public int InputSize => _options.InputSize;

    /// <summary>One unit vector per input, in order; the inputs are 3×size×size planes of 0–255 RGB (<see cref="EmbeddingInput"/>).</summary>
    public float[][] Embed(IReadOnlyList<float[]> inputs)
    {
        if (inputs.Count == 0)
        {
            return [];
        }

        var (values, dimensions) = FeatureMaps(inputs);
        return Pool(values, dimensions, inputs.Count);
    }

    /// <summary>
    /// The model's raw output for <paramref name="inputs"/>, before pooling: [N, C, H, W] for a
    /// feature map, [N, D] for a vector. For tools that study pooling; the service uses <see cref="Embed"/>.
    /// </summary>
    public (float[] Values, int[] Dimensions) FeatureMaps(IReadOnlyList<float[]> inputs)
    {
        var size = _options.InputSize;
        var plane = size * size;
        var batch = new DenseTensor<float>([inputs.Count, 3, size, size]);
        var data = batch.Buffer.Span;
        for (var i = 0; i < inputs.Count; i++)
        {
            if (inputs[i].Length != 3 * plane)
            {
                throw new ArgumentException($"An input is {inputs[i].Length} values; this model takes 3×{size}×{size}.", nameof(inputs));
            }

            Normalise(inputs[i], data.Slice(i * 3 * plane, 3 * plane), plane);
        }

        var input = batch;
        IDisposableReadOnlyCollection<DisposableNamedOnnxValue>? preprocessed = null;
        try
        {
            if (_preprocess is not null)
            {
                preprocessed = _preprocess.Run([NamedOnnxValue.CreateFromTensor(_preprocess.InputMetadata.Keys.Single(), batch)]);
                input = (DenseTensor<float>)preprocessed.First().AsTensor<float>();
            }

            using var results = _model.Run([NamedOnnxValue.CreateFromTensor(_modelInput, input)], [_output]);
            var output = results.First().AsTensor<float>();
            return (output.ToArray(), output.Dimensions.ToArray());
        }
        finally
        {
            preprocessed?.Dispose();
        }
    }

    public void Dispose()
    {
        _preprocess?.Dispose();
        _model.Dispose();
    }

    private void Normalise(float[] rgb, Span<float> target, int plane)
    {
        var bgr = string.Equals(_options.ChannelOrder, "bgr", StringComparison.OrdinalIgnoreCase);
        var mean = _options.EffectiveMean;
        var std = _options.EffectiveStd;
        for (var channel = 0; channel < 3; channel++)
        {
            var source = rgb.AsSpan((bgr ? 2 - channel : channel) * plane, plane);
            var into = target.Slice(channel * plane, plane);
            var scale = _options.Scale / std[channel];
            var offset = mean[channel] / std[channel];
            for (var i = 0; i < plane; i++)
            {
                into[i] = (source[i] * scale) - offset;
            }
        }
    }

    /// <summary>GeM over a [N, C, H, W] feature map, or a [N, D] output as it is; then each vector to length 1.</summary>
    private float[][] Pool(float[] values, int[] dims, int count)
    {
        var channels = dims.Length >= 2 ? dims[1] : values.Length / count;
        var positions = values.Length / count / channels;
        var p = _options.GemPower;
        var vectors = new float[count][];
        for (var n = 0; n < count; n++)
        {
            var vector = new float[channels];
            for (var c = 0; c < channels; c++)
            {
                var map = values.AsSpan(((n * channels) + c) * positions, positions);
                if (positions == 1)
                {
                    vector[c] = map[0];
                    continue;
                }

                double sum = 0;
                foreach (var x in map)
                {
                    sum += Math.Pow(Math.Max(x, 1e-6f), p);
                }

                vector[c] = (float)Math.Pow(sum / positions, 1.0 / p);
            }

            vectors[n] = UnitLength(vector);
        }

        return vectors;
    }

    private static float[] UnitLength(float[] vector)
    {
        double squares = 0;
        foreach (var x in vector)
        {
            squares += x * x;
        }

        var scale = squares > 0 ? (float)(1 / Math.Sqrt(squares)) : 0f;
        for (var i = 0; i < vector.Length; i++)
        {
            vector[i] *= scale;
        }

        return vector;
    }

    private static float[] Blank(int size)
    {
        var blank = new float[3 * size * size];
        Array.Fill(blank, 128f);
        return blank;
    }

    /// <summary>
    /// Throws, with what to do, unless <paramref name="options"/> names a device this build can run
    /// on: <c>cpu</c>, or <c>cuda</c> where ONNX Runtime was built with its CUDA provider. Cheap:
    /// loads no model, so a host checks it at start and never falls back to the CPU silently.
    /// </summary>
    public static void EnsureDeviceAvailable(EmbeddingModelOptions options)
    {
        switch (options.Device.ToLowerInvariant())
        {
            case "cpu":
                return;
            case "cuda" when OrtEnv.Instance().GetAvailableProviders().Contains(CudaProvider):
                return;
            case "cuda":
                throw new InvalidOperationException(
                    "Registry:Embedding:Device is 'cuda', but this build of ONNX Runtime has no CUDA execution provider. "
                    + "Build with -p:EmbeddingDevice=cuda (docs/embeddings.md), or set the device to 'cpu'.");
            default:
                throw new InvalidOperationException($"Registry:Embedding:Device is '{options.Device}': expected 'cpu' or 'cuda'.");
        }
    }

    private static SessionOptions SessionOptionsFor(EmbeddingModelOptions options)
    {
        EnsureDeviceAvailable(options);
        var session = new SessionOptions
        {
            IntraOpNumThreads = Math.Max(0, options.IntraOpThreads),
            // No arena: the activations of an image (a few MB) are allocated per run and given
            // back, rather than kept at their largest batch for the life of the process.
            EnableCpuMemArena = false,
        };
        session.AddSessionConfigEntry("session.disable_prepacking", "1");
        // Threads that wait for work sleep rather than spin: decoding and requests share the cores
        // with inference, and spinning took their time (docs/benchmarks.md, "consent-registry scan").
        session.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
        if (options.Device.Equals("cuda", StringComparison.OrdinalIgnoreCase))
        {
            session.AppendExecutionProvider_CUDA(0);
        }

        return session;
    }

    private static byte[] Read(string path) =>
        File.Exists(path) ? File.ReadAllBytes(path) : throw new FileNotFoundException($"The embedding model file '{path}' does not exist.", path);
}
