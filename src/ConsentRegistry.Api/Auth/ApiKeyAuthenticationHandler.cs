using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using ConsentRegistry.Api.Hosting;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace ConsentRegistry.Api.Auth;

/// <summary>
/// <c>Authorization: API &lt;key&gt;</c>, the form the Spawning API uses. The bootstrap admin key
/// comes from configuration; every other key from <see cref="ApiKeyStore"/>.
/// </summary>
public sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    ApiKeyStore keys,
    IOptions<AuthOptions> auth)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiKey";
    public const string AuthorizationPrefix = "API ";

    /// <summary>The id the bootstrap admin key (Registry:Auth:AdminKey) goes by; it is not in the store.</summary>
    public const string BootstrapKeyId = "bootstrap-admin";

    private const int MaxKeyLength = 256;

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var header = Request.Headers.Authorization.ToString();
        if (!header.StartsWith(AuthorizationPrefix, StringComparison.OrdinalIgnoreCase))
        {
            return AuthenticateResult.NoResult();
        }

        var key = header[AuthorizationPrefix.Length..].Trim();
        if (key.Length is 0 or > MaxKeyLength)
        {
            return AuthenticateResult.Fail("Malformed API key.");
        }

        var bootstrap = IsBootstrapAdminKey(key);
        ApiKeyInfo? info = bootstrap
            ? new ApiKeyInfo(BootstrapKeyId, "Registry:Auth:AdminKey", ApiKeyRoles.Admin)
            : await keys.FindAsync(key, Context.RequestAborted);
        if (info is null)
        {
            return AuthenticateResult.Fail("Unknown or revoked API key.");
        }

        if (!bootstrap)
        {
            await keys.NoteUseAsync(info.Id);
        }

        Context.Items[typeof(ApiKeyInfo)] = info; // the write budgets read the key's own budget from here
        var identity = new ClaimsIdentity(
            [
                new Claim(ClaimTypes.NameIdentifier, info.Id),
                new Claim(ClaimTypes.Name, info.Name),
                new Claim(ClaimTypes.Role, info.Role),
            ],
            SchemeName);
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName));
    }

    private bool IsBootstrapAdminKey(string key)
    {
        var adminKey = auth.Value.AdminKey;
        if (string.IsNullOrEmpty(adminKey))
        {
            return false;
        }

        // Compare hashes in constant time: the comparison leaks nothing about the key.
        return CryptographicOperations.FixedTimeEquals(
            SHA256.HashData(Encoding.UTF8.GetBytes(key)),
            SHA256.HashData(Encoding.UTF8.GetBytes(adminKey)));
    }
}
