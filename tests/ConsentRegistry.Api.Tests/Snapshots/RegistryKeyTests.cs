using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using ConsentRegistry.Api.Tests.Infrastructure;

namespace ConsentRegistry.Api.Tests.Snapshots;

public sealed class RegistryKeyTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("registry-key-").FullName;

    private string KeyPath => Path.Combine(_folder, "keys", "registry-key.jwk");

    [Fact]
    public async Task The_key_is_created_on_first_start_for_the_owner_only_served_without_its_private_part_and_kept_across_restarts()
    {
        await using var database = await TestDatabase.CreateAsync();
        JsonObject served;
        await using (var app = await StartAsync(database))
        {
            using var client = app.CreateClient();
            using var response = await client.GetAsync("/v1/registry-key");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("application/jwk+json", response.Content.Headers.ContentType?.MediaType);
            served = JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject();
        }

        Assert.Equal(["alg", "crv", "kid", "kty", "use", "x", "y"], served.Select(p => p.Key).Order(StringComparer.Ordinal));
        Assert.Equal(("EC", "P-256", "ES256", "sig"), ((string)served["kty"]!, (string)served["crv"]!, (string)served["alg"]!, (string)served["use"]!));
        Assert.Equal(Rfc7638Thumbprint((string)served["x"]!, (string)served["y"]!), (string)served["kid"]!);

        // The file holds the private half of the served key, readable and writable by the owner only.
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(KeyPath));
        }

        var stored = JsonNode.Parse(File.ReadAllText(KeyPath))!;
        using (var key = ECDsa.Create(new ECParameters
        {
            Curve = ECCurve.NamedCurves.nistP256,
            D = Base64UrlDecode((string)stored["d"]!),
            Q = new ECPoint { X = Base64UrlDecode((string)served["x"]!), Y = Base64UrlDecode((string)served["y"]!) },
        }))
        {
            var data = "signed by the registry"u8.ToArray();
            Assert.True(key.VerifyData(data, key.SignData(data, HashAlgorithmName.SHA256), HashAlgorithmName.SHA256));
        }

        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(KeyPath)!, "*.tmp"));
        await using var restarted = await StartAsync(database);
        using var again = restarted.CreateClient();
        var after = JsonNode.Parse(await again.GetStringAsync("/v1/registry-key"))!;
        Assert.Equal((string)served["kid"]!, (string)after["kid"]!);
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("""{"kty":"RSA","n":"AQAB","e":"AQAB"}""")]
    [InlineData("""{"kty":"EC","crv":"P-256","x":"AAAA","y":"AAAA","d":"AAAA"}""")]
    public async Task A_key_file_that_is_not_a_p256_private_jwk_stops_the_start_naming_the_setting_and_is_left_as_it_was(string content)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(KeyPath)!);
        await File.WriteAllTextAsync(KeyPath, content);
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new RegistryApp(database, new Dictionary<string, string?> { ["Registry:Signing:KeyPath"] = KeyPath });

        var error = Assert.ThrowsAny<Exception>(app.StartServer);

        Assert.Contains("Registry:Signing:KeyPath", error.ToString());
        Assert.Equal(content, await File.ReadAllTextAsync(KeyPath));
    }

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private async Task<RegistryApp> StartAsync(TestDatabase database)
    {
        var app = new RegistryApp(database, new Dictionary<string, string?> { ["Registry:Signing:KeyPath"] = KeyPath });
        app.StartServer();
        await app.WaitUntilReadyAsync();
        return app;
    }

    /// <summary>RFC 7638 section 3: SHA-256 over the required members in lexicographic order, no whitespace.</summary>
    private static string Rfc7638Thumbprint(string x, string y) =>
        Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes($$"""{"crv":"P-256","kty":"EC","x":"{{x}}","y":"{{y}}"}""")))
            .TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static byte[] Base64UrlDecode(string value) =>
        Convert.FromBase64String(value.Replace('-', '+').Replace('_', '/').PadRight(value.Length + ((4 - (value.Length % 4)) % 4), '='));
}
