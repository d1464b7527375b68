using System.Text.Json;
using ConsentRegistry.Core.Claims;
using ConsentRegistry.Core.Embeddings;

namespace ConsentRegistry.Api.Claims;

/// <summary>
/// How many subjects a compact JWS's payload lists, read without verifying or canonicalizing
/// anything: a cheap first look that lets a spent write budget refuse a large claim before the
/// registry pays to check it. Null when the payload cannot be read that far (the full check says why).
/// </summary>
internal static class SubjectCount
{
    /// <summary>
    /// A subject takes at most about this many bytes of a JWS: the largest, an embedding of
    /// <see cref="EmbeddingVector.MaxDimensions"/> half floats in base64url (10,923 characters) with
    /// its model id and JSON, base64url-encoded (an 8,192-character URL takes less).
    /// </summary>
    private const long MaxBytesPerSubject = ((EmbeddingVector.MaxDimensions * 2 * 4 / 3) + 4 + 512) * 4 / 3;

    /// <summary>The fewest subjects a claim body of <paramref name="contentLength"/> bytes can hold (0 when unknown).</summary>
    public static int AtLeast(long? contentLength) =>
        contentLength is { } length ? (int)Math.Min(ClaimPayloadValidator.MaxSubjects, Math.Max(0, (length - 4_096) / MaxBytesPerSubject)) : 0;

    /// <summary>
    /// What a claim of <paramref name="subjects"/> subjects and <paramref name="jwsChars"/> characters
    /// costs a subjects budget: its subjects, or as many as its length could hold when that is more.
    /// A subject's worth of JWS is what its storage and its readers pay for: padding (whitespace, header
    /// members) would otherwise store megabytes for one subject's charge.
    /// </summary>
    public static int Charged(int subjects, int jwsChars) => Math.Max(subjects, AtLeast(jwsChars));

    public static int? Of(string jws)
    {
        var first = jws.IndexOf('.');
        var second = first < 0 ? -1 : jws.IndexOf('.', first + 1);
        if (second < 0 || !Base64Url.TryDecode(jws.AsSpan(first + 1, second - first - 1), out var payload))
        {
            return null;
        }

        try
        {
            var reader = new Utf8JsonReader(payload, new JsonReaderOptions { MaxDepth = 8 });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return null;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var isSubjects = reader.ValueTextEquals("subjects"u8);
                reader.Read();
                if (!isSubjects)
                {
                    reader.Skip();
                    continue;
                }

                if (reader.TokenType != JsonTokenType.StartArray)
                {
                    return null;
                }

                var count = 0;
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    count++;
                    reader.Skip();
                }

                return count;
            }
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            // InvalidOperationException: a member name escaping a lone UTF-16 surrogate ("\udc00"),
            // which the reader accepts and cannot compare. Either way the payload's validation says why.
        }

        return null;
    }
}
