using System.Text.Json.Serialization;
using ConsentRegistry.Core.Embeddings;
using ConsentRegistry.Core.Urls;

namespace ConsentRegistry.Core.Claims;

public static class SubjectKinds
{
    public const string Url = "url";
    public const string UrlPrefix = "url-prefix";
    public const string Host = "host";
    public const string Sha256 = "sha256";
    public const string Pdq = "pdq";
    public const string Embedding = "embedding";

    public static IReadOnlyList<string> All { get; } = [Url, UrlPrefix, Host, Sha256, Pdq, Embedding];
}

/// <summary>One match key of a claim in canonical form.</summary>
public sealed record Subject(string Kind, string Value, bool IncludeSubdomains = false)
{
    /// <summary>An embedding subject's model id and vector (base64url), from its canonical value.</summary>
    public static (string Model, string Vector) EmbeddingParts(string value)
    {
        var space = value.IndexOf(' ');
        return (value[..space], value[(space + 1)..]);
    }

    /// <summary>Canonicalizes one subject as sent, or says why it cannot be.</summary>
    public static bool TryCreate(string? kind, string? value, bool? includeSubdomains, out Subject? subject, out string? error) =>
        TryCreate(kind, value, includeSubdomains, null, EmbeddingModels.None, out subject, out _, out error);

    /// <summary>
    /// As <see cref="TryCreate(string?, string?, bool?, out Subject?, out string?)"/>, with the
    /// <paramref name="model"/> of an embedding subject, whose vector <paramref name="models"/>
    /// must take. An embedding's canonical value is its model id, a space and the vector as sent.
    /// <paramref name="field"/> names the member an error is about: kind, value, include_subdomains or model.
    /// </summary>
    public static bool TryCreate(
        string? kind, string? value, bool? includeSubdomains, string? model, EmbeddingModels models, out Subject? subject, out string? field, out string? error)
    {
        subject = null;
        field = "value";
        if (value is null)
        {
            error = "value is required.";
            return false;
        }

        if (model is not null && kind != SubjectKinds.Embedding)
        {
            field = "model";
            error = "model applies only to embedding subjects.";
            return false;
        }

        if (includeSubdomains is not null && kind != SubjectKinds.Host)
        {
            field = "include_subdomains";
            error = "include_subdomains applies only to host subjects.";
            return false;
        }

        switch (kind)
        {
            case SubjectKinds.Url or SubjectKinds.UrlPrefix:
                if (!UrlCanonicalizer.TryCanonicalize(value, out var url, out error))
                {
                    return false;
                }

                subject = new Subject(kind, url.Value);
                return true;
            case SubjectKinds.Host:
                if (!HostCanonicalizer.TryCanonicalize(value, out var host, out error))
                {
                    return false;
                }

                subject = new Subject(kind, host, includeSubdomains ?? false);
                return true;
            case SubjectKinds.Sha256:
                if (!IsHex256(value))
                {
                    error = "A sha256 value is 64 hexadecimal digits.";
                    return false;
                }

                subject = new Subject(kind, value.ToLowerInvariant());
                error = null;
                return true;
            case SubjectKinds.Pdq:
                if (!IsHex256(value))
                {
                    error = "A pdq value is 64 hexadecimal digits (256 bits).";
                    return false;
                }

                if (value.AsSpan().IndexOfAnyExcept('0') < 0)
                {
                    // The all-zero hash is what PDQ gives images too small or flat to hash:
                    // claiming it would match every such image.
                    error = "The all-zero PDQ hash carries no information and cannot be claimed.";
                    return false;
                }

                subject = new Subject(kind, value.ToLowerInvariant());
                error = null;
                return true;
            case SubjectKinds.Embedding:
                if (!models.TryRead(model, value, out _, out field, out error))
                {
                    return false;
                }

                subject = new Subject(kind, model + " " + value);
                return true;
            default:
                field = "kind";
                error = $"kind must be one of: {string.Join(", ", SubjectKinds.All)}.";
                return false;
        }
    }

    private static bool IsHex256(string value) => value.Length == 64 && !value.AsSpan().ContainsAnyExcept(HexDigits);

    private static readonly System.Buffers.SearchValues<char> HexDigits =
        System.Buffers.SearchValues.Create("0123456789abcdefABCDEF");
}

/// <summary>A subject as it appears in a claim payload, before canonicalization. Unknown members are refused (a misspelt <c>include_subdomains</c> would make a claim narrower than its signer meant).</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record SubjectInput
{
    [JsonPropertyName("kind")]
    public string? Kind { get; init; }

    [JsonPropertyName("value")]
    public string? Value { get; init; }

    [JsonPropertyName("include_subdomains")]
    public bool? IncludeSubdomains { get; init; }

    /// <summary>An embedding subject's model id.</summary>
    [JsonPropertyName("model")]
    public string? Model { get; init; }
}
