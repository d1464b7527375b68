using System.Net;
using System.Net.Http.Json;
using ConsentRegistry.Api.Tests.Infrastructure;
using static ConsentRegistry.Api.Tests.Infrastructure.TestHttp;

namespace ConsentRegistry.Api.Tests.Platform;

public sealed class LoggingTests
{
    [Fact]
    public async Task Logs_name_claims_and_keys_by_id_but_never_hold_a_key_or_a_jws()
    {
        await using var app = await RegistryApp.StartAsync();
        using var admin = app.CreateAdminClient();
        using var signer = new TestSigner();
        var jws = signer.OptOut("https://logs.example/secret-painting.jpg");

        var created = await (await admin.PostAsJsonAsync("/v1/admin/api-keys", new { name = "log check" })).JsonAsync();
        var key = created.GetProperty("key").GetString()!;
        using var withKey = app.CreateClient();
        withKey.DefaultRequestHeaders.TryAddWithoutValidation("Authorization", $"API {key}");
        await withKey.PostAsJsonAsync("/v1/admin/api-keys", new { name = "forbidden" });
        using var withWrongKey = app.CreateClient();
        withWrongKey.DefaultRequestHeaders.TryAddWithoutValidation("Authorization", "API crk_wrong_key_guess_123456");
        await withWrongKey.PostAsJsonAsync("/v1/admin/api-keys", new { name = "denied" });
        Assert.Equal(HttpStatusCode.Created, (await admin.PostAsync("/v1/claims", Jose(jws))).StatusCode);

        var logs = app.Logs.ToList();
        Assert.Contains(logs, line => line.Contains(TestSigner.IdOf(jws), StringComparison.Ordinal));
        Assert.Contains(logs, line => line.Contains(created.GetProperty("id").GetString()!, StringComparison.Ordinal));
        string[] secrets = [RegistryApp.AdminKey, key, "crk_wrong_key_guess_123456", jws, jws.Split('.')[2]];
        foreach (var secret in secrets)
        {
            Assert.DoesNotContain(logs, line => line.Contains(secret, StringComparison.Ordinal));
        }
    }
}
