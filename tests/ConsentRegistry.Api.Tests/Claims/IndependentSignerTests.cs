using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using ConsentRegistry.Api.Tests.Infrastructure;
using static ConsentRegistry.Api.Tests.Infrastructure.TestHttp;

namespace ConsentRegistry.Api.Tests.Claims;

/// <summary>
/// Claims signed by another JOSE implementation: scripts/sign-claim.py, on Python's
/// <c>cryptography</c> package (the README's copy-paste example). The interpreter is
/// REGISTRY_TEST_PYTHON when set (scripts/test.sh finds one that has the package), else python3.
/// </summary>
public sealed class IndependentSignerTests(RegistryFixture registry) : IClassFixture<RegistryFixture>, IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("registry-signer-").FullName;

    private Task<string> SignAsync(params string[] arguments) => SignWithAsync("artist.pem", arguments);

    private async Task<string> SignWithAsync(string keyFile, params string[] arguments)
    {
        var python = Environment.GetEnvironmentVariable("REGISTRY_TEST_PYTHON") is { Length: > 0 } p ? p : "python3";
        var start = new ProcessStartInfo(python) { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(RepositoryPaths.Root, "scripts", "sign-claim.py"));
        start.ArgumentList.Add("--key");
        start.ArgumentList.Add(Path.Combine(_directory, keyFile));
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var output = await process.StandardOutput.ReadToEndAsync();
        var error = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"sign-claim.py failed: {error}");
        return output.Trim();
    }

    [Fact]
    public async Task A_claim_signed_with_pythons_cryptography_is_accepted_and_revoked_by_the_same_key()
    {
        var jws = await SignAsync("--url", "https://artist.example/img/steampunk.jpg", "--usage", "train-ai=n,search=y", "--title", "Steampunk gentleman");
        var party = await SignAsync("--print-party");

        var created = await registry.Client.PostAsync("/v1/claims", Jose(jws));
        var again = await registry.Client.PostAsync("/v1/claims", Jose(jws));

        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var claim = await created.JsonAsync();
        Assert.Equal(party, claim.GetProperty("party").GetString());
        Assert.Equal(TestSigner.IdOf(jws), claim.GetProperty("id").GetString());
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        Assert.Equal(claim.GetProperty("seq").GetInt64(), (await again.JsonAsync()).GetProperty("seq").GetInt64());

        var id = claim.GetProperty("id").GetString()!;
        var revocation = await SignAsync("--revoke", id);
        Assert.Equal(HttpStatusCode.Created, (await registry.Client.PostAsync($"/v1/claims/{id}/revocation", Jose(revocation))).StatusCode);
    }

    [Fact]
    public async Task A_claim_signed_with_an_ed25519_key_is_accepted_under_the_keys_thumbprint_and_revoked_by_it()
    {
        var party = await SignWithAsync("ed25519.pem", "--new-key-type", "ed25519", "--print-party");
        var jws = await SignWithAsync("ed25519.pem", "--url", "https://artist.example/img/heron.png", "--usage", "train-ai=n");
        Assert.Contains("\"EdDSA\"", System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(Pad(jws[..jws.IndexOf('.')]))));

        var created = await registry.Client.PostAsync("/v1/claims", Jose(jws));

        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var claim = await created.JsonAsync();
        Assert.Equal(party, claim.GetProperty("party").GetString());
        var id = claim.GetProperty("id").GetString()!;
        await Eventually.HoldsAsync(
            async () => (await registry.Client.LookupItemsAsync(new JsonObject { ["url"] = "https://artist.example/img/heron.png" }))[0].GetRawText().Contains(id),
            "a lookup of the claimed URL finds the EdDSA claim");

        var revocation = await SignWithAsync("ed25519.pem", "--revoke", id);
        var byAnotherKey = await SignAsync("--revoke", id);
        Assert.Equal(HttpStatusCode.Forbidden, (await registry.Client.PostAsync($"/v1/claims/{id}/revocation", Jose(byAnotherKey))).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await registry.Client.PostAsync($"/v1/claims/{id}/revocation", Jose(revocation))).StatusCode);
    }

    private static string Pad(string base64Url) =>
        base64Url.Replace('-', '+').Replace('_', '/') + new string('=', (4 - base64Url.Length % 4) % 4);

    [Fact]
    public async Task The_python_signed_claim_with_one_signature_byte_changed_is_refused()
    {
        var jws = await SignAsync("--url", "https://artist.example/img/tampered.jpg");
        var signature = jws[(jws.LastIndexOf('.') + 1)..];
        var flipped = signature[0] == 'A' ? 'B' : 'A';
        var tampered = jws[..(jws.LastIndexOf('.') + 1)] + flipped + signature[1..];

        var response = await registry.Client.PostAsync("/v1/claims", Jose(tampered));

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, "bad-signature");
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
