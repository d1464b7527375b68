using System.Text.Json;
using ConsentRegistry.Core.Claims;
using ConsentRegistry.Core.Snapshots;
using ConsentRegistry.Cli.Http;

namespace ConsentRegistry.Cli.Snapshots;

/// <summary>
/// The registry key a pulled manifest must be signed by. With <c>--key</c>, that file and nothing
/// else: the registry's own <c>/v1/registry-key</c> is not asked, so a registry (or whoever stands
/// in for it) cannot swap the key along with the snapshot. Without it, the key is fetched once,
/// written beside the output, and that copy is the pin for every later pull into the same file.
/// </summary>
internal static class RegistryKeyPin
{
    /// <summary>The key in the JWK file <paramref name="path"/>; exit 2 when it is missing or not a P-256 public JWK.</summary>
    public static RegistryPublicKey Load(string path, string from)
    {
        byte[] json;
        try
        {
            json = File.ReadAllBytes(path);
        }
        catch (Exception e) when (CliPaths.IsFileSystemFailure(e))
        {
            throw CliException.Input($"{from} {path}: cannot read it: {e.Message}", e);
        }

        return RegistryPublicKey.TryParse(json, out var key, out var error)
            ? key!
            : throw CliException.Input($"{from} {path}: {error}.");
    }

    /// <summary>The key to check against: <paramref name="keyFile"/>, else the pin beside the output, else the registry's, pinned now.</summary>
    public static async Task<RegistryPublicKey> ResolveAsync(
        string? keyFile, PullPaths paths, RegistryHttp http, Action<string> notice, CancellationToken cancellationToken)
    {
        if (keyFile is not null)
        {
            return Load(keyFile, "--key");
        }

        if (File.Exists(paths.PinnedKey))
        {
            return Load(paths.PinnedKey, "the registry key pinned at");
        }

        var body = await http.GetBytesAsync("v1/registry-key", cancellationToken);
        if (!RegistryPublicKey.TryParse(body, out var key, out var error))
        {
            throw CliException.Registry($"the registry at {http.Registry} answered /v1/registry-key with something that is not its key: {error}.");
        }

        try
        {
            RefuseOtherThanInstalledSigner(key!, paths, http.Registry);
            AtomicFile.WriteJson(paths.PinnedKey, key!.Jwk, SnapshotCommandJson.Default.PublicJwk);
        }
        catch
        {
            key!.Dispose(); // AtomicFile names the file it could not write (exit 2)
            throw;
        }

        notice($"trusting the key {http.Registry} serves on first use: kid (RFC 7638 thumbprint) {key.Kid}; pinned in {paths.PinnedKey}. "
            + $"Compare the kid with the one the registry's operator publishes; later pulls to the same --out use it (elsewhere, pass --key {paths.PinnedKey}).");
        return key;
    }

    /// <summary>
    /// A key taken on first use must be the one that signed the snapshot already installed in
    /// <c>--out</c>, when there is one (pulled with <c>--key</c>, which pins nothing, or its pin
    /// deleted since): that manifest was verified when it was installed, and a registry, or whoever
    /// stands in for it, must not swap the key along with the next snapshot.
    /// </summary>
    private static void RefuseOtherThanInstalledSigner(RegistryPublicKey key, PullPaths paths, Uri registry)
    {
        string? signer;
        bool holdsSnapshot;
        try
        {
            signer = File.Exists(paths.Manifest) && SnapshotManifest.Parse(File.ReadAllBytes(paths.Manifest))?.Signature is { } signature
                ? KidOf(signature)
                : null;
            holdsSnapshot = signer is null && paths.ReadOutHeader() is not null;
        }
        catch (Exception e) when (CliPaths.IsFileSystemFailure(e))
        {
            throw CliException.Input($"{paths.Out} or {paths.Manifest}: cannot read it: {e.Message}", e);
        }

        if (holdsSnapshot)
        {
            // A snapshot whose manifest is missing (a pull stopped between installing the file and
            // the manifest, or a file copied in), unreadable or unsigned names no signer to hold the key to.
            throw CliException.Verification(
                $"{paths.Out} holds a snapshot, but no manifest beside it names the key that signed it, and no key is pinned: "
                + "refused to trust the key the registry serves on first use. Pass the registry's key with --key (get it from its operator), or remove the file.");
        }

        if (signer is not null && signer != key.Kid)
        {
            throw CliException.Verification(
                $"the registry at {registry} serves the key {key.Kid}, but the snapshot in {paths.Out} was signed by the key {signer} ({paths.Manifest}): "
                + "refused, and not pinned. If the registry's key was replaced, get the new one from its operator and pass it with --key.");
        }
    }

    /// <summary>
    /// The <c>kid</c> a compact JWS's header names, for saying which key signed what was refused;
    /// null unless it is a well-formed thumbprint (it comes unverified, and goes to a terminal).
    /// </summary>
    public static string? KidOf(string jws)
    {
        var header = jws.Split('.')[0];
        if (!Base64Url.TryDecode(header, out var bytes))
        {
            return null;
        }

        try
        {
            using var json = JsonDocument.Parse(bytes);
            return json.RootElement.ValueKind == JsonValueKind.Object && json.RootElement.TryGetProperty("kid", out var kid) && kid.ValueKind == JsonValueKind.String
                && PartyId.IsWellFormed(kid.GetString())
                ? kid.GetString()
                : null;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            return null; // InvalidOperationException: a kid escaping a lone surrogate ("\ud800") is no text
        }
    }
}
