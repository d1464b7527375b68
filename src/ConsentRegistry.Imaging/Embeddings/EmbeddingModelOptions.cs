using System.Text.RegularExpressions;

namespace ConsentRegistry.Imaging.Embeddings;

/// <summary>
/// Which ONNX model turns images into vectors, and how its input is made (<c>Registry:Embedding:*</c>).
/// The defaults are the bundled ResNet18 (ImageNet) with its own preprocessing model (RGB 0–255 in;
/// it reorders to BGR and subtracts its mean image), read before its last pooling and pooled with
/// GeM. Another model (docs/embeddings.md: Meta's SSCD) sets its path, id, output and normalisation.
/// </summary>
public sealed partial class EmbeddingModelOptions
{
    /// <summary>The bundled model's id; a vector carries its model's id and is compared only with vectors of the same id.</summary>
    public const string DefaultModelId = "resnet18-gem-v2";

    /// <summary>
    /// Ids the bundled model's vectors carried before its input or pooling changed: the bundled model
    /// no longer makes such vectors, so it may not label its own with them.
    /// </summary>
    public static readonly IReadOnlyList<string> RetiredBundledIds = ["resnet18-gem-v1"];

    /// <summary>Stored with every vector; change it whenever the model, its input or its pooling changes.</summary>
    public string Id { get; set; } = DefaultModelId;

    /// <summary>The ONNX file; empty: the bundled ResNet18 (models/resnet18/ beside the binaries).</summary>
    public string? ModelPath { get; set; }

    /// <summary>An ONNX model run on the input before <see cref="ModelPath"/>; empty with the bundled model: its ResNetPreprocess.onnx.</summary>
    public string? PreprocessModelPath { get; set; }

    /// <summary>The output to read; empty: the feature map a final average pooling reads, else the first output.</summary>
    public string? OutputName { get; set; }

    /// <summary>The side of the square input, in pixels.</summary>
    public int InputSize { get; set; } = 224;

    /// <summary><c>rgb</c> or <c>bgr</c>: the order of the input's three channels.</summary>
    public string ChannelOrder { get; set; } = "rgb";

    /// <summary>Each 0–255 sample is multiplied by this, then <see cref="Mean"/> is subtracted and the result divided by <see cref="Std"/>, per channel (in <see cref="ChannelOrder"/>).</summary>
    public float Scale { get; set; } = 1f;

    /// <summary>The channel means used when <see cref="Mean"/> is not set.</summary>
    public static readonly IReadOnlyList<float> DefaultMean = [0f, 0f, 0f];

    /// <summary>The channel standard deviations used when <see cref="Std"/> is not set.</summary>
    public static readonly IReadOnlyList<float> DefaultStd = [1f, 1f, 1f];

    /// <summary>
    /// Per channel; null (not configured) means <see cref="DefaultMean"/>. The defaults live outside
    /// these properties because the configuration binder appends configured items
    /// (<c>Registry:Embedding:Mean:0</c>, …) to an initial array instead of replacing it.
    /// </summary>
    public float[]? Mean { get; set; }

    /// <summary>Per channel; null (not configured) means <see cref="DefaultStd"/>.</summary>
    public float[]? Std { get; set; }

    public IReadOnlyList<float> EffectiveMean => Mean ?? DefaultMean;

    public IReadOnlyList<float> EffectiveStd => Std ?? DefaultStd;

    /// <summary>The power of generalised-mean pooling over a feature map's positions (1: average; larger leans towards the maximum).</summary>
    public float GemPower { get; set; } = 3f;

    /// <summary><c>cpu</c> or <c>cuda</c>; <c>cuda</c> needs the GPU build and never falls back to the CPU.</summary>
    public string Device { get; set; } = "cpu";

    /// <summary>Load the model when the service starts (in the background) rather than at the first image.</summary>
    public bool LoadAtStart { get; set; } = true;

    /// <summary>Threads one inference may use; 0: ONNX Runtime's default (the cores).</summary>
    public int IntraOpThreads { get; set; }

    /// <summary>
    /// Images embedded together in one inference call at most, when several wait (uploads, the
    /// worker's jobs); 0: automatic, 16 on <c>cuda</c> and 1 on <c>cpu</c>, where batches were
    /// measured no faster on two cores and cost memory (docs/benchmarks.md, fingerprinting).
    /// </summary>
    public int MaxBatch { get; set; }

    public int EffectiveMaxBatch => MaxBatch > 0 ? MaxBatch : string.Equals(Device, "cuda", StringComparison.OrdinalIgnoreCase) ? 16 : 1;

    internal static string BundledDirectory => Path.Combine(AppContext.BaseDirectory, "models", "resnet18");

    /// <summary>The model file this configuration runs: <see cref="ModelPath"/>, or the bundled ResNet18.</summary>
    public string ResolvedModelPath => string.IsNullOrEmpty(ModelPath) ? Path.Combine(BundledDirectory, "ResNet18.onnx") : ModelPath;

    /// <summary>The preprocessing model, if any: <see cref="PreprocessModelPath"/>, or the bundled one with the bundled model.</summary>
    public string? ResolvedPreprocessModelPath => !string.IsNullOrEmpty(PreprocessModelPath) ? PreprocessModelPath
        : string.IsNullOrEmpty(ModelPath) ? Path.Combine(BundledDirectory, "ResNetPreprocess.onnx") : null;

    /// <summary>
    /// What is wrong with these settings, one sentence each naming the key under
    /// <paramref name="section"/> (<c>Registry:Embedding</c>, or the file they came from); empty when
    /// the embedder can run with them. Loads no model.
    /// </summary>
    public List<string> Problems(string section)
    {
        var failures = new List<string>();
        if (!ModelIdPattern().IsMatch(Id ?? ""))
        {
            failures.Add($"{section}:Id is '{Id}'; use 1 to 64 of a-z, 0-9, '.', '_' and '-'.");
        }
        else if (string.IsNullOrEmpty(ModelPath) && RetiredBundledIds.Contains(Id))
        {
            failures.Add($"{section}:Id is '{Id}', an id the bundled model's vectors had before its input changed; "
                + $"its vectors are now '{DefaultModelId}', and under the old id they would be compared with vectors made the old way. "
                + $"Remove {section}:Id (docs/embeddings.md).");
        }

        foreach (var path in new[] { ResolvedModelPath, ResolvedPreprocessModelPath })
        {
            if (path is not null && !File.Exists(path))
            {
                failures.Add(string.IsNullOrEmpty(ModelPath)
                    ? $"The bundled embedding model '{path}' is missing (a build with -p:BundleEmbeddingModel=false?); set {section}:ModelPath to a model file."
                    : $"The embedding model file '{path}' does not exist ({section}:ModelPath, {section}:PreprocessModelPath).");
            }
        }

        if (InputSize is < 32 or > 1024)
        {
            failures.Add($"{section}:InputSize is {InputSize}; use 32 to 1024.");
        }

        if (ChannelOrder?.ToLowerInvariant() is not ("rgb" or "bgr"))
        {
            failures.Add($"{section}:ChannelOrder is '{ChannelOrder}'; use rgb or bgr.");
        }

        if (EffectiveMean is not { Count: 3 } || EffectiveStd is not { Count: 3 } || EffectiveStd.Any(s => !(s > 0)) || EffectiveMean.Any(float.IsNaN))
        {
            failures.Add($"{section}:Mean and Std take 3 values each (Std above 0).");
        }

        if (!(Scale > 0) || !(GemPower is >= 1 and <= 16))
        {
            failures.Add($"{section}:Scale must be above 0 and GemPower 1 to 16.");
        }

        if (MaxBatch is < 0 or > 64)
        {
            failures.Add($"{section}:MaxBatch is {MaxBatch}; use 1 to 64, or 0 (the default: 16 on cuda, 1 on cpu).");
        }

        if (IntraOpThreads is < 0 or > 256)
        {
            failures.Add($"{section}:IntraOpThreads is {IntraOpThreads}; use 0 (ONNX Runtime's default) to 256.");
        }

        try
        {
            ImageEmbedder.EnsureDeviceAvailable(this);
        }
        catch (InvalidOperationException e)
        {
            failures.Add(e.Message);
        }

        return failures;
    }

    [GeneratedRegex("^[a-z0-9._-]{1,64}$")]
    private static partial Regex ModelIdPattern();
}
