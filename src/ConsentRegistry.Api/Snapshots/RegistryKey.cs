using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
using ConsentRegistry.Api.Hosting;
using ConsentRegistry.Core.Claims;
using ConsentRegistry.Core.Snapshots;
using Microsoft.Extensions.Options;

namespace ConsentRegistry.Api.Snapshots;

/// <summary><c>Registry:Signing</c>: where the registry's own ES256 key lives (it signs what the registry publishes).</summary>
public sealed class SigningOptions
{
    public const string Section = "Registry:Signing";

    /// <summary>A private JWK (P-256) file; created, readable by the service's user only, when absent.</summary>
    public string KeyPath { get; set; } = "data/registry-key.jwk";
}

internal sealed class SigningOptionsValidator : IValidateOptions<SigningOptions>
{
    public ValidateOptionsResult Validate(string? name, SigningOptions options) =>
        string.IsNullOrWhiteSpace(options.KeyPath)
            ? ValidateOptionsResult.Fail("Registry:Signing:KeyPath is empty; name the file of the registry's key (created when absent).")
            : ValidateOptionsResult.Success;
}

/// <summary>
/// The registry's own P-256 key, read from <see cref="SigningOptions.KeyPath"/> or created there
/// on first start: written to a temporary file (mode 0600) and moved into place without
/// replacing, so two instances starting together end up with one key. A file that is not a P-256
/// private JWK stops the start; it is never overwritten. Its public half is served at
/// <c>GET /v1/registry-key</c>, named by its RFC 7638 thumbprint.
/// </summary>
public sealed class RegistryKey : IDisposable
{
    private readonly ECDsa _key;

    private RegistryKey(ECDsa key, PublicJwk publicJwk)
    {
        _key = key;
        Public = publicJwk;
    }

    /// <summary>The public JWK, with <c>kid</c> (the RFC 7638 SHA-256 thumbprint), <c>alg</c> and <c>use</c>.</summary>
    public PublicJwk Public { get; }

    /// <summary>Reads the key at <paramref name="path"/>, or creates it there when there is no file.</summary>
    public static RegistryKey LoadOrCreate(string path, ILogger logger)
    {
        var full = Path.GetFullPath(path);
        if (!File.Exists(full))
        {
            Create(full, logger);
        }

        var key = ECDsa.Create();
        try
        {
            key.ImportParameters(Read(full));
            var parameters = key.ExportParameters(includePrivateParameters: false);
            var x = Base64Url.Encode(parameters.Q.X);
            var y = Base64Url.Encode(parameters.Q.Y);
            return new RegistryKey(key, new PublicJwk("EC", "P-256", x, y, PartyId.FromEcP256(x, y), "ES256", "sig"));
        }
        catch
        {
            key.Dispose();
            throw;
        }
    }

    /// <summary>
    /// A compact JWS (RFC 7515) of <paramref name="payload"/>, ES256, its protected header
    /// <c>{"alg":"ES256","kid":…,"typ":<paramref name="type"/>}</c>; the signature is r ‖ s (64 bytes).
    /// </summary>
    public string Sign(ReadOnlySpan<byte> payload, string type) => Es256Jws.Sign(_key, Public.Kid, payload, type);

    /// <summary>Whether <paramref name="jws"/> is a compact JWS signed by this key (ES256, this <c>kid</c>, <c>typ</c> <paramref name="type"/>); its payload when it is.</summary>
    public bool TryVerify(string jws, string type, out byte[] payload) => Es256Jws.TryVerify(_key, Public.Kid, jws, type, out payload);

    /// <summary>Whether <paramref name="manifest"/> carries this key's signature over exactly its other members.</summary>
    public bool HasSigned(SnapshotManifest manifest) => manifest.IsSignedBy(TryVerify);

    /// <summary><paramref name="manifest"/> with this key's signature.</summary>
    public SnapshotManifest SignManifest(SnapshotManifest manifest) => manifest with { Signature = Sign(manifest.SignedBytes(), SnapshotManifest.SignatureType) };

    public void Dispose() => _key.Dispose();

    private static ECParameters Read(string path)
    {
        PrivateJwk? jwk;
        try
        {
            jwk = JsonSerializer.Deserialize(File.ReadAllBytes(path), PrivateKeyJson.Default.PrivateJwk);
        }
        catch (JsonException)
        {
            jwk = null;
        }

        if (jwk is not { Kty: "EC", Crv: "P-256" }
            || !Coordinate(jwk.X, out var x) || !Coordinate(jwk.Y, out var y) || !Coordinate(jwk.D, out var d))
        {
            throw new InvalidOperationException(
                $"The registry key at {path} (Registry:Signing:KeyPath) is not a P-256 private JWK (kty EC, crv P-256, x, y, d). Restore it from a backup, or move it away to have a new key created.");
        }

        var parameters = new ECParameters { Curve = ECCurve.NamedCurves.nistP256, Q = new ECPoint { X = x, Y = y }, D = d };
        try
        {
            parameters.Validate();
            return parameters;
        }
        catch (CryptographicException e)
        {
            throw new InvalidOperationException($"The registry key at {path} (Registry:Signing:KeyPath) is not a valid P-256 key: {e.Message}", e);
        }
    }

    private static bool Coordinate(string? encoded, out byte[] bytes)
    {
        bytes = [];
        return encoded is not null && Base64Url.TryDecode(encoded, out bytes) && bytes.Length == 32;
    }

    private static void Create(string path, ILogger logger)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var parameters = key.ExportParameters(includePrivateParameters: true);
        var jwk = new PrivateJwk("EC", "P-256", Base64Url.Encode(parameters.Q.X), Base64Url.Encode(parameters.Q.Y), Base64Url.Encode(parameters.D));
        var temporary = $"{path}.{Guid.NewGuid():N}.tmp";
        try
        {
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            }

            using (var file = new FileStream(temporary, options))
            {
                JsonSerializer.Serialize(file, jwk, PrivateKeyJson.Default.PrivateJwk);
                file.Flush(flushToDisk: true);
            }

            File.Move(temporary, path, overwrite: false);
            logger.LogInformation("Created the registry's signing key at {Path}", path);
        }
        catch (IOException) when (File.Exists(path))
        {
            // Another instance created it first: use that one.
        }
        finally
        {
            File.Delete(temporary);
        }
    }
}

internal sealed record PrivateJwk(
    [property: JsonPropertyName("kty")] string? Kty,
    [property: JsonPropertyName("crv")] string? Crv,
    [property: JsonPropertyName("x")] string? X,
    [property: JsonPropertyName("y")] string? Y,
    [property: JsonPropertyName("d")] string? D);

[JsonSerializable(typeof(PrivateJwk))]
internal sealed partial class PrivateKeyJson : JsonSerializerContext;

/// <summary>Reads or creates the key before the host serves, so a broken key file stops the start with its message.</summary>
internal sealed class RegistryKeyStartup(RegistryKey key) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        _ = key.Public;
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}

public static class RegistryKeyEndpoints
{
    public static IServiceCollection AddRegistryKey(this IServiceCollection services)
    {
        services.AddRegistryOptions<SigningOptions, SigningOptionsValidator>(SigningOptions.Section);
        services.AddSingleton(sp => RegistryKey.LoadOrCreate(
            sp.GetRequiredService<IOptions<SigningOptions>>().Value.KeyPath,
            sp.GetRequiredService<ILoggerFactory>().CreateLogger<RegistryKey>()));
        services.AddHostedService<RegistryKeyStartup>();
        return services;
    }

    public static IEndpointRouteBuilder MapRegistryKey(this IEndpointRouteBuilder app)
    {
        app.MapGet("/v1/registry-key", (RegistryKey key, HttpContext context) =>
            {
                context.Response.Headers.CacheControl = "public, max-age=3600";
                return TypedResults.Json(key.Public, contentType: "application/jwk+json");
            })
            .WithName("GetRegistryKey")
            .WithTags("Snapshots")
            .WithSummary("The registry's own public key (JWK, ES256), for verifying what the registry signs.")
            .Produces<PublicJwk>(StatusCodes.Status200OK, "application/jwk+json");
        return app;
    }
}
