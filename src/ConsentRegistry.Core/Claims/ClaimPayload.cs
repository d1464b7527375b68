using System.Text.Json.Serialization;

namespace ConsentRegistry.Core.Claims;

/// <summary>The signed payload of a claim (DESIGN.md 5.1). Unknown members are refused.</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record ClaimPayload
{
    [JsonPropertyName("v")]
    public int? V { get; init; }

    [JsonPropertyName("iat")]
    public long? Iat { get; init; }

    [JsonPropertyName("subjects")]
    public List<SubjectInput?>? Subjects { get; init; }

    [JsonPropertyName("usage")]
    public Dictionary<string, string?>? Usage { get; init; }

    [JsonPropertyName("terms")]
    public ClaimTerms? Terms { get; init; }

    [JsonPropertyName("title")]
    public string? Title { get; init; }
}

[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record ClaimTerms
{
    [JsonPropertyName("license")]
    public string? License { get; init; }

    [JsonPropertyName("contact")]
    public string? Contact { get; init; }
}

/// <summary>The signed payload of a revocation: <c>{"v":1,"iat":…,"revokes":"&lt;claim id&gt;"}</c>.</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record RevocationPayload
{
    [JsonPropertyName("v")]
    public int? V { get; init; }

    [JsonPropertyName("iat")]
    public long? Iat { get; init; }

    [JsonPropertyName("revokes")]
    public string? Revokes { get; init; }
}

// Duplicate members are refused: another implementation might read "the first one wins" and
// see a different claim than the registry stored.
[JsonSourceGenerationOptions(AllowTrailingCommas = false, ReadCommentHandling = System.Text.Json.JsonCommentHandling.Disallow, AllowDuplicateProperties = false)]
[JsonSerializable(typeof(ClaimPayload))]
[JsonSerializable(typeof(RevocationPayload))]
internal sealed partial class PayloadJsonContext : JsonSerializerContext;
