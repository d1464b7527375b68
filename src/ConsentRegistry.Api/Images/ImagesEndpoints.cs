using System.Diagnostics;
using ConsentRegistry.Api.Errors;
using ConsentRegistry.Api.Hosting;
using ConsentRegistry.Api.Lookup;
using ConsentRegistry.Api.Observability;
using ConsentRegistry.Core.Pdq;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using ConsentRegistry.Imaging;
using ConsentRegistry.Imaging.Embeddings;

namespace ConsentRegistry.Api.Images;

/// <summary>
/// Image hashing (DESIGN.md 5.3): the SHA-256 and PDQ hashes a claimant puts in a claim, or a dataset builder looks
/// up. Callers are those of the lookups, under the same rate limits.
/// </summary>
public static class ImagesEndpoints
{
    public static IServiceCollection AddImageHashing(this IServiceCollection services)
    {
        services.AddRegistryOptions<EmbeddingModelOptions, EmbeddingOptionsValidator>(ImageEmbeddings.Section);
        services.AddSingleton<ImageEmbeddings>();
        services.AddSingleton(sp => sp.GetRequiredService<ImageEmbeddings>().Models());
        services.AddHostedService<EmbeddingStartup>();
        return services.AddSingleton<ImageHashingGate>();
    }

    public static RouteGroupBuilder MapImages(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1")
            .WithTags("Images")
            .RequireLookupAccess(needsIndex: false); // hashing reads no index

        group.MapPost("/images", HashImage)
            .WithSingleQueryValues()
            .WithName("HashImage")
            .WithSummary("Hash an image (multipart/form-data, part \"file\"; JPEG, PNG, WebP, GIF, BMP, at most 50 MiB and "
                + "100 megapixels): sha256, PDQ and its 8 dihedral variants, and the image's embedding vectors. ?mode=fast decodes large images at a reduced scale; "
                + "?embeddings=false leaves the vectors out (bulk hashing: embedding takes longer than hashing).")
            .Accepts<ImageUploadForm>(ImageUpload.FormMediaType)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .ProducesProblem(StatusCodes.Status422UnprocessableEntity)
            .WithMetadata(new RequestSizeLimitAttribute(ImageLimits.MaxBytes + ImageLimits.MultipartOverheadBytes));

        return group;
    }

    internal static async Task<Results<Ok<ImageHashResponse>, ProblemHttpResult, ValidationProblem>> HashImage(
        HttpRequest request, ImageHashingGate gate, ImageEmbeddings embedder, RegistryMetrics metrics, CancellationToken cancellationToken,
        string? mode = null, [FromQuery(Name = "embeddings")] string? withEmbeddings = null)
    {
        if (!TryParseMode(mode, out var hashMode))
        {
            return Problems.Validation(
                new Dictionary<string, string[]> { ["mode"] = ["mode is exact (the default) or fast."] }, ProblemCodes.InvalidMode);
        }

        if (!bool.TryParse(withEmbeddings ?? "true", out var embed))
        {
            return Problems.Validation(
                new Dictionary<string, string[]> { ["embeddings"] = ["embeddings is true (the default) or false."] }, ProblemCodes.InvalidQuery);
        }

        var (boundary, problem) = ImageUpload.ReadBoundary(request);
        if (problem is not null)
        {
            return problem;
        }

        using var upload = new UploadReservation(gate);
        var (file, uploadProblem) = await ImageUpload.ReadFileAsync(request, boundary!, upload, cancellationToken);
        if (uploadProblem is not null)
        {
            return uploadProblem;
        }

        try
        {
            using var image = EncodedImage.Open(file!.Data);
            using var slot = await gate.EnterDecodeAsync(image.DecodeBytes(hashMode), cancellationToken);
            if (slot is null)
            {
                metrics.ImageDecoded("busy");
                return ImageUpload.Busy(request.HttpContext);
            }

            // Decoding is CPU work done synchronously; the gate keeps it to one image per core and its pixels to a budget.
            using var pixels = image.Decode(hashMode);
            var dihedral = pixels.HashDihedral();
            IReadOnlyList<ImageEmbedding> vectors = [];
            if (embed)
            {
                var started = Stopwatch.GetTimestamp();
                vectors = [embedder.Embed(pixels)];
                metrics.ImageEmbedded(embedder.ModelId, embedder.Provider, Stopwatch.GetElapsedTime(started));
            }

            metrics.ImageDecoded("hashed");
            return TypedResults.Ok(ToResponse(file.Sha256, image, dihedral, image.DecodedMode(hashMode), vectors));
        }
        catch (ImageDecodeException e)
        {
            var refused = ImageProblem(e);
            metrics.ImageDecoded(RegistryMetrics.CodeOf(refused.ProblemDetails));
            return refused;
        }
    }

    private static bool TryParseMode(string? mode, out ImageHashMode hashMode)
    {
        hashMode = ImageHashMode.Exact;
        if (mode is null || mode.Equals("exact", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        hashMode = ImageHashMode.Fast;
        return mode.Equals("fast", StringComparison.OrdinalIgnoreCase);
    }

    private static ImageHashResponse ToResponse(string sha256, EncodedImage image, PdqDihedral dihedral, ImageHashMode mode, IReadOnlyList<ImageEmbedding> embeddings)
    {
        var variants = new string[PdqDihedral.Count];
        for (int i = 0; i < variants.Length; i++)
        {
            variants[i] = dihedral.Hashes[i].ToHex();
        }

        return new ImageHashResponse(
            sha256, variants[0], dihedral.Quality, image.Width, image.Height, variants,
            dihedral.Quality < ImageHashResponse.LowQualityBelow, image.Format,
            mode == ImageHashMode.Fast ? "fast" : "exact", image.ExifOrientation, embeddings);
    }

    private static ProblemHttpResult ImageProblem(ImageDecodeException e) => e.Error switch
    {
        ImageDecodeError.Empty => Problems.Create(StatusCodes.Status400BadRequest, ProblemCodes.EmptyFile, e.Message, field: ImageUpload.FilePart),
        ImageDecodeError.UnsupportedFormat => Problems.Create(StatusCodes.Status415UnsupportedMediaType, ProblemCodes.UnsupportedImageFormat, e.Message),
        ImageDecodeError.TooManyPixels => Problems.Create(StatusCodes.Status422UnprocessableEntity, ProblemCodes.TooManyPixels, e.Message),
        ImageDecodeError.Implausible => Problems.Create(StatusCodes.Status422UnprocessableEntity, ProblemCodes.ImplausibleDimensions, e.Message),
        ImageDecodeError.Truncated => Problems.Create(StatusCodes.Status422UnprocessableEntity, ProblemCodes.TruncatedImage, e.Message),
        _ => Problems.Create(StatusCodes.Status422UnprocessableEntity, ProblemCodes.CorruptImage, e.Message),
    };
}
