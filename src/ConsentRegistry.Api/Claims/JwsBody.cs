using System.Buffers;
using System.Text;
using System.Text.Json;
using ConsentRegistry.Api.Errors;
using ConsentRegistry.Core.Claims;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ConsentRegistry.Api.Claims;

/// <summary>
/// Reads a JWS from a request body: <c>application/jose</c> (the compact string) or
/// <c>application/json</c> (<c>{"jws": "…"}</c>), within the endpoint's request size limit.
/// </summary>
internal static class JwsBody
{
    public const string JoseMediaType = "application/jose";

    /// <summary>The compact JWS limit plus room for the JSON envelope.</summary>
    public const int MaxBytes = CompactJws.MaxLength + 1024;

    /// <summary>A revocation's body: its JWS (a key, an id and a time) is a few hundred characters.</summary>
    public const int MaxRevocationBytes = 16 * 1024;

    public static async Task<(string? Jws, ProblemHttpResult? Problem)> ReadAsync(HttpRequest request, CancellationToken cancellationToken, bool revocation = false)
    {
        var mediaType = request.ContentType is { } contentType && Microsoft.Net.Http.Headers.MediaTypeHeaderValue.TryParse(contentType, out var parsed)
            ? parsed.MediaType.Value?.ToLowerInvariant()
            : null;
        if (mediaType is not (JoseMediaType or "application/json"))
        {
            return (null, Problems.Create(StatusCodes.Status415UnsupportedMediaType, ProblemCodes.UnsupportedMediaType,
                "Send the compact JWS as application/jose, or {\"jws\": \"…\"} as application/json."));
        }

        // The endpoint's RequestSizeLimit (MaxBytes) is enforced by the server while reading;
        // here its refusal only gets this endpoint's advice.
        ReadOnlyMemory<byte> body;
        try
        {
            body = await ReadAsync(request.Body, cancellationToken);
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return (null, revocation ? RevocationTooLarge() : TooLarge());
        }

        if (mediaType == JoseMediaType)
        {
            return (Encoding.ASCII.GetString(body.Span).Trim(), null);
        }

        try
        {
            var envelope = JsonSerializer.Deserialize<JwsEnvelope>(body.Span, JsonOptions);
            if (envelope?.Jws is { } jws)
            {
                return (jws, null);
            }
        }
        catch (JsonException)
        {
            // fall through: the same answer as a missing member
        }

        return (null, Problems.Create(StatusCodes.Status400BadRequest, ClaimErrorCodes.MalformedJws,
            "The JSON body must be an object with a string member \"jws\".", field: "jws"));
    }

    // Two "jws" members are refused: a proxy or log that read the first would see another claim than the one stored.
    private static readonly JsonSerializerOptions JsonOptions = new() { PropertyNameCaseInsensitive = false, AllowDuplicateProperties = false };

    private static async Task<ReadOnlyMemory<byte>> ReadAsync(Stream body, CancellationToken cancellationToken)
    {
        var buffer = new ArrayBufferWriter<byte>(16 * 1024);
        int read;
        while ((read = await body.ReadAsync(buffer.GetMemory(16 * 1024), cancellationToken)) > 0)
        {
            buffer.Advance(read);
        }

        return buffer.WrittenMemory;
    }

    private static ProblemHttpResult TooLarge() =>
        Problems.Create(StatusCodes.Status413PayloadTooLarge, ProblemCodes.PayloadTooLarge,
            $"The body exceeds {MaxBytes} bytes; split the subjects over several claims (at most 10,000 each).");

    private static ProblemHttpResult RevocationTooLarge() =>
        Problems.Create(StatusCodes.Status413PayloadTooLarge, ProblemCodes.PayloadTooLarge,
            $"A revocation's body is at most {MaxRevocationBytes} bytes: its JWS holds a key, the claim id and a time.");

}
