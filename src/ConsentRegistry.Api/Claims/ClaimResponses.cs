using System.Text.Json.Serialization;
using ConsentRegistry.Api.Storage;
using ConsentRegistry.Core.Claims;

namespace ConsentRegistry.Api.Claims;

/// <summary>Body of <c>POST /v1/claims</c> as JSON.</summary>
public sealed record JwsEnvelope([property: JsonPropertyName("jws")] string? Jws);

public sealed record SubjectResponse(
    [property: JsonPropertyName("kind")] string Kind,
    [property: JsonPropertyName("value")] string Value,
    [property: JsonPropertyName("include_subdomains"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] bool? IncludeSubdomains,
    [property: JsonPropertyName("model"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Model = null);

/// <summary>Each category's value after the hierarchy is applied: "y", "n" or null.</summary>
public sealed record UsageResponse(
    [property: JsonPropertyName("tdm")] string? Tdm,
    [property: JsonPropertyName("train-ai")] string? TrainAi,
    [property: JsonPropertyName("train-genai")] string? TrainGenAi,
    [property: JsonPropertyName("ai-use")] string? AiUse,
    [property: JsonPropertyName("search")] string? Search)
{
    public static UsageResponse From(Usage usage) => new(
        UseCategories.ToWire(usage.Tdm), UseCategories.ToWire(usage.TrainAi), UseCategories.ToWire(usage.TrainGenAi),
        UseCategories.ToWire(usage.AiUse), UseCategories.ToWire(usage.Search));

    internal static UsageResponse From(ClaimRow row) => new(row.Tdm, row.TrainAi, row.TrainGenai, row.AiUse, row.Search);
}

public sealed record TermsResponse(
    [property: JsonPropertyName("license")] string? License,
    [property: JsonPropertyName("contact")] string? Contact);

/// <summary>The answer to a claim submission (DESIGN.md 5.1).</summary>
public sealed record ClaimResponse(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("seq")] long Seq,
    [property: JsonPropertyName("party")] string Party,
    [property: JsonPropertyName("trust")] string Trust,
    [property: JsonPropertyName("subjects")] IReadOnlyList<SubjectResponse> Subjects,
    [property: JsonPropertyName("usage")] UsageResponse Usage);

public sealed record RevocationInfo(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("seq")] long Seq,
    [property: JsonPropertyName("iat")] long Iat);

/// <summary><c>GET /v1/claims/{id}</c>: the submission answer plus the JWS, revocation state and payload details.</summary>
public sealed record ClaimDetailsResponse(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("seq")] long Seq,
    [property: JsonPropertyName("party")] string Party,
    [property: JsonPropertyName("trust")] string Trust,
    [property: JsonPropertyName("subjects")] IReadOnlyList<SubjectResponse> Subjects,
    [property: JsonPropertyName("usage")] UsageResponse Usage,
    [property: JsonPropertyName("jws")] string Jws,
    [property: JsonPropertyName("revoked")] bool Revoked,
    [property: JsonPropertyName("revocation")] RevocationInfo? Revocation,
    [property: JsonPropertyName("iat")] long Iat,
    [property: JsonPropertyName("title")] string? Title,
    [property: JsonPropertyName("terms")] TermsResponse? Terms);

/// <summary>One line of a party's claim list: everything but the subjects and the JWS.</summary>
public sealed record ClaimSummary(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("seq")] long Seq,
    [property: JsonPropertyName("trust")] string Trust,
    [property: JsonPropertyName("usage")] UsageResponse Usage,
    [property: JsonPropertyName("subject_count")] long SubjectCount,
    [property: JsonPropertyName("revoked")] bool Revoked,
    [property: JsonPropertyName("iat")] long Iat,
    [property: JsonPropertyName("title")] string? Title);

public sealed record PartyClaimsResponse(
    [property: JsonPropertyName("party")] string Party,
    [property: JsonPropertyName("claims")] IReadOnlyList<ClaimSummary> Claims,
    [property: JsonPropertyName("next_after")] long? NextAfter);

public sealed record RevocationResponse(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("seq")] long Seq,
    [property: JsonPropertyName("claim")] string Claim,
    [property: JsonPropertyName("revoked")] bool Revoked);
