using System.Text.Json;

namespace ConsentRegistry.Api.Verification;

/// <summary>The well-known document: <c>{"keys": ["&lt;party id&gt;", …]}</c>; other members are ignored.</summary>
internal static class WellKnownDocument
{
    /// <summary>The listed keys, or null when the bytes are not such a document.</summary>
    public static List<string>? ParseKeys(ReadOnlyMemory<byte> json)
    {
        if (json.Span.StartsWith("\uFEFF"u8))
        {
            json = json[3..];
        }

        try
        {
            using var document = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 8 });
            if (document.RootElement.ValueKind != JsonValueKind.Object
                || !document.RootElement.TryGetProperty("keys", out var keys)
                || keys.ValueKind != JsonValueKind.Array
                || keys.EnumerateArray().Any(k => k.ValueKind != JsonValueKind.String))
            {
                return null;
            }

            return keys.EnumerateArray().Select(k => k.GetString()!).ToList();
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
