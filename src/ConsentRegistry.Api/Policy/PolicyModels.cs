using System.ComponentModel.DataAnnotations;
using System.Text.Json.Serialization;
using ConsentRegistry.Core.Matching;

namespace ConsentRegistry.Api.Policy;

/// <summary>
/// <c>GET /v1/policy?url=</c>: the canonical URL, the seq the answer reflects, the decision per
/// category and the deciding claims (at most <see cref="MatchingIndex.MaxListedMatches"/>, as in a
/// lookup; <c>more</c> counts those left out and is absent when none were).
/// </summary>
public sealed record PolicyResponse(
    [property: JsonPropertyName("url")] string Url,
    [property: JsonPropertyName("seq")] long Seq,
    [property: JsonPropertyName("decision")] IReadOnlyDictionary<string, string> Decision,
    [property: JsonPropertyName("matches"), MaxLength(MatchingIndex.MaxListedMatches)] IReadOnlyList<PolicyMatch> Matches,
    [property: JsonPropertyName("more"), Range(1, int.MaxValue), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] int? More = null);

/// <summary>A deciding claim, found by url, url-prefix or host.</summary>
public sealed record PolicyMatch(
    [property: JsonPropertyName("claim")] string Claim,
    [property: JsonPropertyName("by")] string By,
    [property: JsonPropertyName("trust")] string Trust);

/// <summary>One entry of <c>GET /v1/hosts/{host}/tdmrep.json</c> (W3C TDMRep); the handler writes the rendered bytes.</summary>
public sealed record TdmRepEntry(
    [property: JsonPropertyName("location")] string Location,
    [property: JsonPropertyName("tdm-reservation")] int TdmReservation,
    [property: JsonPropertyName("tdm-policy")] string? TdmPolicy);
