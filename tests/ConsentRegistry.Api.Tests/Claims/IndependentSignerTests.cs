using System.Diagnostics;
using System.Net;
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

    private async Task<string> SignAsync(params string[] arguments)
    {
        var python = Environment.GetEnvironmentVariable("REGISTRY_TEST_PYTHON") is { Length: > 0 } p ? p : "python3";
        var start = new ProcessStartInfo(python) { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(RepositoryPaths.Root, "scripts", "sign-claim.py"));
        start.ArgumentList.Add("--key");
        start.ArgumentList.Add(Path.Combine(_directory, "artist.pem"));
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
