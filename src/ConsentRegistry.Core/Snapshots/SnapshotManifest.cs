using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace ConsentRegistry.Core.Snapshots;

/// <summary>
/// What <c>GET /v1/snapshots/latest</c> answers and <c>manifest.json</c> in a snapshot's folder
/// holds (docs/snapshot-format.md): the snapshot's id, seq, creation time, format version, the
/// store it was taken from, its files with size and SHA-256, and <see cref="Signature"/>: a
/// compact JWS by the registry's key whose payload is this manifest without the signature.
/// </summary>
public sealed record SnapshotManifest(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("seq")] long Seq,
    [property: JsonPropertyName("created")] DateTimeOffset Created,
    [property: JsonPropertyName("format")] int Format,
    [property: JsonPropertyName("store")] Guid Store,
    [property: JsonPropertyName("files")] IReadOnlyList<SnapshotFileEntry> Files,
    [property: JsonPropertyName("signature")] string? Signature = null)
{
    /// <summary>The JWS <c>typ</c> of a manifest's signature.</summary>
    public const string SignatureType = "consent-registry-snapshot+json";

    /// <summary>The name of the index file in a snapshot's folder.</summary>
    public const string IndexFileName = "index.snap";

    /// <summary>A snapshot's id: its seq zero-padded to 12 digits, then its UTC creation time to the millisecond.</summary>
    public static string IdFor(long seq, DateTimeOffset created) =>
        string.Create(CultureInfo.InvariantCulture, $"{seq:D12}-{created.UtcDateTime:yyyyMMdd'T'HHmmssfff'Z'}");

    /// <summary>
    /// Whether this manifest is of the file whose header is <paramref name="header"/>: the same seq,
    /// store and creation time (to the millisecond, as the id has it), and the id those give.
    /// </summary>
    public bool Describes(SnapshotHeader header) =>
        Seq == header.Seq && Store == header.StoreId && Created.ToUnixTimeMilliseconds() == header.Created.ToUnixTimeMilliseconds()
        && Id == IdFor(header.Seq, header.Created);

    /// <summary>The bytes that are signed: the manifest as JSON without its signature.</summary>
    public byte[] SignedBytes() => JsonSerializer.SerializeToUtf8Bytes(this with { Signature = null }, SnapshotJson.Default.SnapshotManifest);

    /// <summary>Whether the signature is <paramref name="key"/>'s over exactly this manifest's other members.</summary>
    public bool IsSignedBy(RegistryPublicKey key) => IsSignedBy(key.TryVerify);

    /// <summary>Whether <paramref name="verify"/> accepts the signature and its payload is exactly this manifest's other members.</summary>
    public bool IsSignedBy(JwsVerifier verify) =>
        Signature is not null && verify(Signature, SignatureType, out var payload) && payload.AsSpan().SequenceEqual(SignedBytes());

    /// <summary>The manifest signed in <paramref name="jws"/>, read from its payload; null when the payload is not a manifest.</summary>
    public static SnapshotManifest? FromSignedPayload(ReadOnlySpan<byte> payload, string jws)
    {
        try
        {
            return JsonSerializer.Deserialize(payload, SnapshotJson.Default.SnapshotManifest) is { } manifest && manifest.IsComplete()
                ? manifest with { Signature = jws }
                : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    public static SnapshotManifest? Parse(ReadOnlySpan<byte> json)
    {
        try
        {
            return JsonSerializer.Deserialize(json, SnapshotJson.Default.SnapshotManifest) is { } manifest && manifest.IsComplete() ? manifest : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>
    /// Whether every member the readers use is there: JSON may leave out, or null, what the record
    /// declares non-nullable (<c>"files": [null]</c>), and a manifest that does is no manifest.
    /// </summary>
    private bool IsComplete() =>
        Id is not null && Files is not null && Files.All(file => file is { Name: not null, Sha256: not null, Size: >= 0 });

    public byte[] ToJson() => JsonSerializer.SerializeToUtf8Bytes(this, SnapshotJson.Default.SnapshotManifest);
}

/// <summary>Checks a compact JWS of <paramref name="type"/> and gives its payload: a registry key's public or private half.</summary>
public delegate bool JwsVerifier(string jws, string type, out byte[] payload);

public sealed record SnapshotFileEntry(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("size")] long Size,
    [property: JsonPropertyName("sha256")] string Sha256);

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(SnapshotManifest))]
public sealed partial class SnapshotJson : JsonSerializerContext;
