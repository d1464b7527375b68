using System.Text.Json;
using System.Text.Json.Serialization;

namespace ConsentRegistry.Api.Snapshots;

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

    /// <summary>The bytes that are signed: the manifest as JSON without its signature.</summary>
    public byte[] SignedBytes() => JsonSerializer.SerializeToUtf8Bytes(this with { Signature = null }, SnapshotJson.Default.SnapshotManifest);

    public SnapshotManifest SignedBy(RegistryKey key) => this with { Signature = key.Sign(SignedBytes(), SignatureType) };

    /// <summary>Whether the signature is <paramref name="key"/>'s over exactly this manifest's other members.</summary>
    public bool IsSignedBy(RegistryKey key) =>
        Signature is not null && key.TryVerify(Signature, SignatureType, out var payload) && payload.AsSpan().SequenceEqual(SignedBytes());
}

public sealed record SnapshotFileEntry(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("size")] long Size,
    [property: JsonPropertyName("sha256")] string Sha256);

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(SnapshotManifest))]
internal sealed partial class SnapshotJson : JsonSerializerContext;
