using System.Text.Json;
using System.Text.Json.Serialization;
using ConsentRegistry.Cli.Deciding;
using ConsentRegistry.Imaging;
using ConsentRegistry.Imaging.Embeddings;
using Microsoft.ML.OnnxRuntime;

namespace ConsentRegistry.Cli.Scanning;

/// <summary>
/// Embeds scanned images as the registry embeds uploads (<c>POST /v1/images</c>): the same model,
/// input and pooling, one vector of the whole image, from the pixels its PDQ hash was computed
/// from. On the CPU each of the scan's workers runs its own inference on one thread; on
/// <c>cuda</c> the workers' images share inference calls, up to 16 images a call.
/// </summary>
public sealed class ScanEmbedder : IDisposable
{
    private readonly ImageEmbedder _embedder;
    private readonly EmbeddingBatcher? _batcher;
    private readonly float? _minSimilarity;

    private ScanEmbedder(ImageEmbedder embedder, int maxBatch, float? minSimilarity)
    {
        _embedder = embedder;
        _batcher = maxBatch > 1 ? new EmbeddingBatcher(embedder.Embed, maxBatch) : null;
        _minSimilarity = minSimilarity;
    }

    /// <summary>The id the vectors carry: the registry compares them only with claimed vectors of the same id.</summary>
    public string ModelId => _embedder.ModelId;

    /// <summary>The ONNX Runtime execution provider that runs the model: <c>cpu</c> or <c>cuda</c>.</summary>
    public string Provider => _embedder.Provider;

    /// <summary>
    /// Loads the model <paramref name="configPath"/> describes (a JSON object with the registry's
    /// <c>Registry:Embedding</c> keys), or the bundled ResNet18, on <paramref name="device"/>.
    /// </summary>
    public static ScanEmbedder Load(string? configPath, string device, float? minSimilarity)
    {
        var options = configPath is null ? new EmbeddingModelOptions() : ReadConfig(configPath);
        options.Device = device;
        if (device == "cpu" && options.IntraOpThreads == 0)
        {
            // Each of the scan's workers runs its own inference on one thread: on two cores that
            // measured 9.8 s for 300 images, against 12.1 s for one inference at a time on both.
            options.IntraOpThreads = 1;
        }

        if (device == "cuda" && !OrtEnv.Instance().GetAvailableProviders().Contains("CUDAExecutionProvider"))
        {
            throw new CliException(ExitCodes.Usage,
                "--device cuda needs the GPU build of the command: dotnet publish src/ConsentRegistry.Cli -c Release -r linux-x64 -p:EmbeddingDevice=cuda (docs/cli.md).");
        }

        var problems = options.Problems(configPath ?? "--embedding-model");
        if (problems.Count > 0)
        {
            throw CliException.Input(string.Join(" ", problems));
        }

        try
        {
            return new ScanEmbedder(new ImageEmbedder(options), options.EffectiveMaxBatch, minSimilarity);
        }
        catch (Exception e) when (e is OnnxRuntimeException or InvalidDataException or IOException or UnauthorizedAccessException or FormatException or ArgumentException)
        {
            // Not an ONNX model, or one whose graph the embedder cannot use (docs/embeddings.md).
            throw CliException.Input($"The embedding model {options.ResolvedModelPath} could not be loaded on {device}: {e.Message}", e);
        }
    }

    /// <summary>The vector of the whole image; blocks while the batch it joined runs.</summary>
    public ImageVector Embed(DecodedImage image)
    {
        var input = EmbeddingInput.From(image, _embedder.InputSize);
        return new ImageVector(ModelId, _batcher is null ? _embedder.Embed([input])[0] : _batcher.Embed(input), _minSimilarity);
    }

    /// <summary>A unit vector of the model's length, for the source's check that it compares this model.</summary>
    public ImageVector Probe()
    {
        var vector = new float[_embedder.Dimensions];
        vector[0] = 1;
        return new ImageVector(ModelId, vector, _minSimilarity);
    }

    public void Dispose() => _embedder.Dispose();

    /// <summary>The JSON file's settings; a relative model path is taken from the file's folder.</summary>
    private static EmbeddingModelOptions ReadConfig(string path)
    {
        EmbeddingModelOptions? options;
        try
        {
            options = JsonSerializer.Deserialize(File.ReadAllBytes(path), EmbeddingConfigJson.Default.EmbeddingModelOptions);
        }
        catch (Exception e) when (CliPaths.IsFileSystemFailure(e))
        {
            throw CliException.Input($"--embedding-model {path}: {e.Message}", e);
        }
        catch (JsonException e)
        {
            throw CliException.Input($"--embedding-model {path}: not the JSON object of Registry:Embedding settings docs/embeddings.md lists ({e.Message}).", e);
        }

        if (options is null)
        {
            throw CliException.Input($"--embedding-model {path}: expected a JSON object of Registry:Embedding settings (docs/embeddings.md).");
        }

        var folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
        options.ModelPath = Beside(folder, options.ModelPath);
        options.PreprocessModelPath = Beside(folder, options.PreprocessModelPath);
        return options;
    }

    private static string? Beside(string folder, string? path) => string.IsNullOrEmpty(path) ? path : Path.GetFullPath(path, folder);
}

/// <summary>The <c>--embedding-model</c> file: the keys of <c>Registry:Embedding</c>, in any case; an unknown key is an error, not a silent default.</summary>
[JsonSourceGenerationOptions(PropertyNameCaseInsensitive = true, UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow, ReadCommentHandling = JsonCommentHandling.Skip)]
[JsonSerializable(typeof(EmbeddingModelOptions))]
internal sealed partial class EmbeddingConfigJson : JsonSerializerContext;
