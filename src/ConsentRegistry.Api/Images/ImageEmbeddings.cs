using System.Diagnostics;
using ConsentRegistry.Api.Hosting;
using ConsentRegistry.Core.Embeddings;
using ConsentRegistry.Imaging;
using ConsentRegistry.Imaging.Embeddings;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace ConsentRegistry.Api.Images;

/// <summary>
/// The API's image embedder (<c>Registry:Embedding:*</c>, docs/embeddings.md). The device is
/// checked when the host starts (options validation: <c>cuda</c> without the GPU build stops it);
/// the model loads in the background at start (<see cref="EmbeddingStartup"/>), or at its first use.
/// </summary>
public sealed class ImageEmbeddings(IOptions<EmbeddingModelOptions> options, ILogger<ImageEmbeddings> logger) : IDisposable
{
    public const string Section = "Registry:Embedding";

    /// <summary>
    /// How long a failed load stands before a use tries again: each try reads and rewrites the model
    /// (hundreds of MB) while every other use waits, and a model that will not load would otherwise
    /// be loaded again for every lookup item, claim and image that needs it.
    /// </summary>
    public static readonly TimeSpan RetryLoadAfter = TimeSpan.FromSeconds(30);

    private readonly Lock _loading = new();
    private ImageEmbedder? _loaded;
    private EmbeddingBatcher? _batcher; // set before _loaded is published
    private Exception? _failed;
    private long _failedAt;

    /// <summary>The id the vectors carry.</summary>
    public string ModelId => options.Value.Id;

    /// <summary>The ONNX Runtime execution provider that runs the model: <c>cpu</c> or <c>cuda</c>.</summary>
    public string Provider => options.Value.Device.ToLowerInvariant();

    public bool Loaded => Volatile.Read(ref _loaded) is not null;

    /// <summary>Why the last try to load the model failed, while it has not loaded since; a use after <see cref="RetryLoadAfter"/> tries again.</summary>
    public string? LoadFailure => Loaded ? null : Volatile.Read(ref _failed)?.Message;

    /// <summary>The length of the vectors (loads the model).</summary>
    public int Dimensions => Embedder().Dimensions;

    /// <summary>The models whose vectors claims and lookups may carry: this one (its length read once it loads; a failed load is not remembered).</summary>
    public EmbeddingModels Models() => new([new(ModelId, new Lazy<int>(() => Dimensions, LazyThreadSafetyMode.PublicationOnly))]);

    /// <summary>Loads the model now (at start on a GPU, so that a missing driver stops the start rather than the first image).</summary>
    public void Load() => Embedder();

    /// <summary>The vector of the whole image, as the contract writes it.</summary>
    public ImageEmbedding Embed(DecodedImage image)
    {
        var embedder = Embedder();
        var input = EmbeddingInput.From(image, embedder.InputSize);
        // Concurrent images share inference calls (Registry:Embedding:MaxBatch); one runs at a time:
        // ONNX Runtime spreads each over the cores itself, and the activations of one batch are all
        // that is ever held, however many images arrive at once.
        var vector = _batcher!.Embed(input);
        return new ImageEmbedding(embedder.ModelId, EmbeddingVector.Encode(vector));
    }

    public void Dispose() => _loaded?.Dispose();

    /// <summary>
    /// The loaded model, loading it first if need be (one load at a time). A failed load throws
    /// <see cref="EmbeddingModelUnavailableException"/>, and so does every use for
    /// <see cref="RetryLoadAfter"/> after it, without trying again.
    /// </summary>
    private ImageEmbedder Embedder()
    {
        if (Volatile.Read(ref _loaded) is { } loaded)
        {
            return loaded;
        }

        lock (_loading)
        {
            if (_loaded is not null)
            {
                return _loaded;
            }

            if (_failed is { } failed && Stopwatch.GetElapsedTime(_failedAt) < RetryLoadAfter)
            {
                throw new EmbeddingModelUnavailableException(ModelId, failed);
            }

            try
            {
                var embedder = Load(options.Value, logger);
                _batcher = new EmbeddingBatcher(embedder.Embed, options.Value.EffectiveMaxBatch);
                Volatile.Write(ref _loaded, embedder);
                return embedder;
            }
            catch (Exception e)
            {
                _failedAt = Stopwatch.GetTimestamp();
                Volatile.Write(ref _failed, e);
                logger.LogWarning("Embedding model {Model} failed to load ({Reason}); uses in the next {Seconds:F0} s are refused without trying again",
                    ModelId, e.Message, RetryLoadAfter.TotalSeconds);
                throw new EmbeddingModelUnavailableException(ModelId, e);
            }
        }
    }

    private static ImageEmbedder Load(EmbeddingModelOptions options, ILogger logger)
    {
        var started = Stopwatch.GetTimestamp();
        var embedder = new ImageEmbedder(options);
        // Loading read and rewrote the model (two arrays of its size, on the large object heap):
        // give that memory back to the system now (a background collection frees it but keeps it).
        // This compacting collection is short while the heap is small, which is why the model loads
        // at start by default (Registry:Embedding:LoadAtStart), before the matching index grows.
        GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        logger.LogInformation("Embedding model {Model} loaded in {Milliseconds:F0} ms: {Dimensions} dimensions, {Provider} execution provider",
            embedder.ModelId, Stopwatch.GetElapsedTime(started).TotalMilliseconds, embedder.Dimensions, embedder.Provider);
        return embedder;
    }
}

/// <summary>
/// Loads the model when the host starts: with <c>Registry:Embedding:Device=cuda</c> before it
/// serves (no silent CPU fallback, no late failure), else in the background while
/// <c>Registry:Embedding:LoadAtStart</c> is true (the default), so that the first image does not
/// wait for it and the memory of loading is given back while the heap is still small.
/// </summary>
internal sealed class EmbeddingStartup(ImageEmbeddings embeddings, IOptions<EmbeddingModelOptions> options, ILogger<EmbeddingStartup> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (embeddings.Provider == "cuda")
        {
            embeddings.Load();
        }
        else if (options.Value.LoadAtStart)
        {
            _ = Task.Run(() =>
            {
                try
                {
                    embeddings.Load();
                }
                catch (Exception e)
                {
                    logger.LogError(e, "The embedding model could not be loaded; its next use tries again");
                }
            }, CancellationToken.None);
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

/// <summary>Says which model and execution provider embed images, and whether the model is loaded yet.</summary>
internal sealed class EmbeddingHealthCheck(ImageEmbeddings embeddings) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var data = new Dictionary<string, object> { ["model"] = embeddings.ModelId, ["provider"] = embeddings.Provider };
        var description = $"{embeddings.ModelId} on {embeddings.Provider}";
        // Degraded, not unhealthy: lookups and claims go on; only POST /v1/images needs the model.
        return Task.FromResult(embeddings.LoadFailure is { } failure
            ? HealthCheckResult.Degraded($"{description}: the model failed to load ({failure}); until it loads, POST /v1/images answers 503, lookup items with embeddings get their own error and the worker derives fingerprints without embeddings", data: data)
            : HealthCheckResult.Healthy(embeddings.Loaded ? description : $"{description} (loads at its first image)", data));
    }
}

/// <summary>Stops the start on settings the embedder cannot run with (<see cref="EmbeddingModelOptions.Problems"/>).</summary>
internal sealed class EmbeddingOptionsValidator : IValidateOptions<EmbeddingModelOptions>
{
    public ValidateOptionsResult Validate(string? name, EmbeddingModelOptions options) => options.Problems(ImageEmbeddings.Section).Result();
}
