using Microsoft.AspNetCore.Http;
using ConsentRegistry.Api.Lookup;
using ConsentRegistry.Api.Hosting;
using ConsentRegistry.Api.Auth;
using System.Security.Claims;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using ConsentRegistry.Api.Tests.Infrastructure;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Protocols;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;
using Microsoft.IdentityModel.Tokens;
using static ConsentRegistry.Api.Tests.Infrastructure.TestHttp;

namespace ConsentRegistry.Api.Tests.Auth;

/// <summary>
/// Entra ID bearer tokens through Microsoft.Identity.Web's real JwtBearer set-up. The only thing
/// replaced is where the signing keys come from: a local OpenID configuration instead of the
/// tenant's metadata endpoint (this machine reaches no network), with keys the test mints.
/// </summary>
public sealed class BearerTokenTests : IAsyncLifetime
{
    private const string TenantId = "7c1a6f1e-2b3d-4e5f-8a9b-0c1d2e3f4a5b";
    private const string ClientId = "3f2e1d0c-9b8a-4765-8432-10fedcba9876";
    private static readonly string Issuer = $"https://login.microsoftonline.com/{TenantId}/v2.0";

    private readonly RSA _tenantKey = RSA.Create(2048);
    private readonly RSA _otherKey = RSA.Create(2048);
    private RegistryApp _app = null!;

    public async Task InitializeAsync()
    {
        var signingKey = new RsaSecurityKey(_tenantKey) { KeyId = "tenant-key" };
        _app = await RegistryApp.StartAsync(
            new Dictionary<string, string?>
            {
                ["AzureAd:Instance"] = "https://login.microsoftonline.com/",
                ["AzureAd:TenantId"] = TenantId,
                ["AzureAd:ClientId"] = ClientId,
                // Small write budgets for an address and a new party, so a write on any other budget shows.
                ["Registry:WriteBudgets:Address:ClaimsPerHour"] = "2",
                ["Registry:WriteBudgets:NewParty:ClaimsPerHour"] = "1",
            },
            services => services.PostConfigure<JwtBearerOptions>(JwtBearerDefaults.AuthenticationScheme, options =>
            {
                var configuration = new OpenIdConnectConfiguration { Issuer = Issuer };
                configuration.SigningKeys.Add(signingKey);
                options.Configuration = configuration;
                options.ConfigurationManager = new StaticConfigurationManager<OpenIdConnectConfiguration>(configuration);
            }));
    }

    public async Task DisposeAsync()
    {
        await _app.DisposeAsync();
        _tenantKey.Dispose();
        _otherKey.Dispose();
    }

    private string Token(string[] roles, string? audience = null, RSA? key = null, DateTime? expires = null, string? issuer = null, string? scope = null)
    {
        var now = DateTime.UtcNow;
        var descriptor = new SecurityTokenDescriptor
        {
            Issuer = issuer ?? Issuer,
            Audience = audience ?? ClientId,
            IssuedAt = now.AddMinutes(-10),
            NotBefore = now.AddMinutes(-10),
            Expires = expires ?? now.AddMinutes(30),
            Claims = new Dictionary<string, object>
            {
                ["tid"] = TenantId,
                ["oid"] = "00000000-0000-0000-0000-00000000000a",
                ["sub"] = "operator",
                ["ver"] = "2.0",
            },
            SigningCredentials = new SigningCredentials(new RsaSecurityKey(key ?? _tenantKey) { KeyId = "tenant-key" }, SecurityAlgorithms.RsaSha256),
        };
        if (roles.Length > 0)
        {
            descriptor.Claims["roles"] = roles;
        }

        if (scope is not null)
        {
            descriptor.Claims["scp"] = scope;
        }

        return new JsonWebTokenHandler().CreateToken(descriptor);
    }

    private async Task<HttpResponseMessage> CreateKeyWith(string token)
    {
        using var client = _app.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return await client.PostAsJsonAsync("/v1/admin/api-keys", new { name = "made by an operator" });
    }

    [Fact]
    public async Task A_tenant_token_with_the_admin_app_role_may_create_api_keys()
    {
        var response = await CreateKeyWith(Token(["Registry.Admin"]));

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
    }

    [Fact]
    public async Task A_valid_token_without_the_admin_role_gets_403()
    {
        var response = await CreateKeyWith(Token(["Registry.Reader"]));

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
    }

    [Fact]
    public async Task Tokens_for_another_audience_signed_by_another_key_expired_or_from_another_issuer_get_401()
    {
        Assert.Equal(HttpStatusCode.Unauthorized, (await CreateKeyWith(Token(["Registry.Admin"], audience: "api://someone-else"))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await CreateKeyWith(Token(["Registry.Admin"], key: _otherKey))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await CreateKeyWith(Token(["Registry.Admin"], expires: DateTime.UtcNow.AddMinutes(-6)))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await CreateKeyWith(Token(["Registry.Admin"], issuer: "https://login.microsoftonline.com/11111111-1111-1111-1111-111111111111/v2.0"))).StatusCode);
    }

    /// <summary>
    /// A token names someone in a tenant, not someone the operator gave a key: in a multi-tenant
    /// registration anyone can make a tenant and many principals. Its writes draw from the address's
    /// and the party's budgets, as anonymous ones do.
    /// </summary>
    [Fact]
    public async Task A_tokens_claims_draw_from_its_address_and_party_budgets_not_from_an_api_keys()
    {
        using var client = _app.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Token([], scope: "user_impersonation"));
        using var party = new TestSigner();
        using var another = new TestSigner();
        using var third = new TestSigner();

        Assert.Equal(HttpStatusCode.Created, (await client.PostAsync("/v1/claims", Jose(party.OptOut("https://token.example/1.jpg")))).StatusCode);
        var partySpent = await client.PostAsync("/v1/claims", Jose(party.OptOut("https://token.example/2.jpg")));
        Assert.Equal(HttpStatusCode.Created, (await client.PostAsync("/v1/claims", Jose(another.OptOut("https://token.example/3.jpg")))).StatusCode);
        var addressSpent = await client.PostAsync("/v1/claims", Jose(third.OptOut("https://token.example/4.jpg")));

        Assert.Equal("party-claims", (await AssertProblemAsync(partySpent, HttpStatusCode.TooManyRequests, "write-budget-exceeded")).GetProperty("budget").GetString());
        Assert.Equal("address-claims", (await AssertProblemAsync(addressSpent, HttpStatusCode.TooManyRequests, "write-budget-exceeded")).GetProperty("budget").GetString());
    }

    /// <summary>
    /// A multi-tenant registration lets anyone mint principals: each token subject a bucket of its
    /// own would multiply a client's lookup and image-search limits. A token is limited as its
    /// address; an API key, which an operator issued, by its own limits.
    /// </summary>
    [Fact]
    public void A_tokens_lookups_draw_from_its_address_limits_and_an_api_keys_from_its_own()
    {
        var address = IPAddress.Parse("198.51.100.7");
        var lookup = new LookupOptions();
        var token = new DefaultHttpContext { User = new ClaimsPrincipal(new ClaimsIdentity([new Claim(ClaimTypes.NameIdentifier, "principal-1")], "Bearer")) };
        token.Connection.RemoteIpAddress = address;
        var key = new DefaultHttpContext { User = token.User };
        key.Connection.RemoteIpAddress = address;
        key.Items[typeof(ApiKeyInfo)] = new ApiKeyInfo("k1", "platform", ApiKeyRoles.Client);

        Assert.Equal((ClientAddress.PartitionKey(address, 64), lookup.RequestsPerSecondPerAddress), LookupRateLimits.Partition(token, lookup, 64));
        Assert.Equal(("key:k1", lookup.RequestsPerSecondPerKey), LookupRateLimits.Partition(key, lookup, 64));
    }

    [Fact]
    public async Task Api_keys_still_work_when_bearer_tokens_are_enabled()
    {
        using var admin = _app.CreateAdminClient();

        var response = await admin.PostAsJsonAsync("/v1/admin/api-keys", new { name = "key path" });

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
    }
}
