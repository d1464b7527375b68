using System.ComponentModel.DataAnnotations;
using System.Text.Json.Serialization;
using ConsentRegistry.Core.Matching;

namespace ConsentRegistry.Api.Lookup;

/// <summary><c>POST /v1/lookup</c>: 1 to <c>Registry:Lookup:MaxBatch</c> items.</summary>
public sealed record LookupRequest([property: JsonPropertyName("items")] List<LookupItem?>? Items);

/// <summary>
/// One looked-up item: a URL, a SHA-256 of the file, a PDQ hash, the image's embeddings, or several
/// of them (any key that matches counts). A PDQ hash is matched within <c>max_distance</c> bits (0 to
/// 63, default <c>Registry:Matching:PdqMaxDistance</c>); <c>quality</c> is the hash's quality as POST
/// /v1/images gives it (0 to 100). Embeddings (1 to 16, as POST /v1/images gives them) match a
/// claimed vector of the same model at cosine similarity <c>min_similarity</c> or above (default
/// <c>Registry:Matching:EmbeddingMinSimilarity</c>).
/// </summary>
public sealed record LookupItem(
    [property: JsonPropertyName("url")] string? Url,
    [property: JsonPropertyName("sha256")] string? Sha256,
    [property: JsonPropertyName("pdq")] string? Pdq,
    [property: JsonPropertyName("max_distance")] int? MaxDistance,
    [property: JsonPropertyName("quality")] int? Quality = null,
    [property: JsonPropertyName("embeddings"), MaxLength(Core.Embeddings.EmbeddingModels.MaxVectorsPerImage)] IReadOnlyList<LookupEmbedding>? Embeddings = null,
    [property: JsonPropertyName("min_similarity"), Range(0.5, 1.0)] double? MinSimilarity = null);

/// <summary>One vector of a looked-up image: its model's id and the value POST /v1/images gave.</summary>
public sealed record LookupEmbedding(
    [property: JsonPropertyName("model")] string? Model,
    [property: JsonPropertyName("value")] string? Value);

// The shapes below document the answers for OpenAPI; the handlers write them with a Utf8JsonWriter.

public sealed record LookupResponse(
    [property: JsonPropertyName("seq")] long Seq,
    [property: JsonPropertyName("results")] IReadOnlyList<LookupResult> Results);

/// <summary>
/// One item's answer. <c>matches</c> lists at most <see cref="MatchingIndex.MaxListedMatches"/> deciding
/// claims, strongest trust and newest first; <c>more</c>, present when some were left out, counts them.
/// </summary>
public sealed record LookupResult(
    [property: JsonPropertyName("i")] int? Index,
    [property: JsonPropertyName("decision")] IReadOnlyDictionary<string, string>? Decision,
    [property: JsonPropertyName("matches"), MaxLength(MatchingIndex.MaxListedMatches)] IReadOnlyList<LookupMatch>? Matches,
    [property: JsonPropertyName("error")] LookupError? Error,
    [property: JsonPropertyName("low_quality")] bool? LowQuality = null,
    [property: JsonPropertyName("more"), Range(1, int.MaxValue)] int? More = null);

public sealed record LookupMatch(
    [property: JsonPropertyName("claim")] string Claim,
    [property: JsonPropertyName("by")] string By,
    [property: JsonPropertyName("trust")] string Trust,
    [property: JsonPropertyName("distance")] int? Distance,
    [property: JsonPropertyName("similarity")] double? Similarity = null,
    [property: JsonPropertyName("derived_from")] string? DerivedFrom = null);

public sealed record LookupError(
    [property: JsonPropertyName("code")] string Code,
    [property: JsonPropertyName("field")] string? Field,
    [property: JsonPropertyName("detail")] string Detail);

/// <summary>The Spawning-compatible answer of <c>POST /api/v2/query/urls</c>.</summary>
public sealed record SpawningResponse([property: JsonPropertyName("urls")] IReadOnlyList<SpawningUrl> Urls);

public sealed record SpawningUrl(
    [property: JsonPropertyName("url")] string Url,
    [property: JsonPropertyName("optOut")] bool OptOut,
    [property: JsonPropertyName("optIn")] bool OptIn);
