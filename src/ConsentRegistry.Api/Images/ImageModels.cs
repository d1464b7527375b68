using System.Text.Json.Serialization;
using ConsentRegistry.Imaging;

namespace ConsentRegistry.Api.Images;

/// <summary>The answer of <c>POST /v1/images</c> (DESIGN.md 5.3); the image itself is not kept.</summary>
public sealed record ImageHashResponse(
    [property: JsonPropertyName("sha256")] string Sha256,
    [property: JsonPropertyName("pdq")] string Pdq,
    [property: JsonPropertyName("quality")] int Quality,
    [property: JsonPropertyName("width")] int Width,
    [property: JsonPropertyName("height")] int Height,
    [property: JsonPropertyName("pdq_dihedral")] IReadOnlyList<string> PdqDihedral,
    [property: JsonPropertyName("low_quality")] bool LowQuality,
    [property: JsonPropertyName("format")] string Format,
    [property: JsonPropertyName("mode")] string Mode,
    [property: JsonPropertyName("exif_orientation")] int ExifOrientation,
    [property: JsonPropertyName("embeddings")] IReadOnlyList<ImageEmbedding> Embeddings)
{
    /// <summary>Below this quality a PDQ hash is unreliable for matching (Meta's guidance).</summary>
    public const int LowQualityBelow = 50;
}

/// <summary>One image vector (DESIGN.md 5.7): the model's id and base64url (no padding) of little-endian float16, L2-normalised.</summary>
public sealed record ImageEmbedding(
    [property: JsonPropertyName("model")] string Model,
    [property: JsonPropertyName("value")] string Value);

/// <summary>The form <c>POST /v1/images</c> takes, for the OpenAPI document.</summary>
public sealed record ImageUploadForm([property: JsonPropertyName("file")] IFormFile File);
