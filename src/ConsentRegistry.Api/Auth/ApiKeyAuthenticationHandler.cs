using System.Globalization;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using ConsentRegistry.Api.Claims;
using ConsentRegistry.Api.Errors;
using ConsentRegistry.Api.Hosting;
using ConsentRegistry.Api.Observability;
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
    UnknownKeyLimiter unknownKeys,
    IOptions<AuthOptions> auth,
    IOptions<WriteBudgetOptions> budgets,
    RegistryMetrics metrics)
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
        var address = ClientAddress.PartitionKey(Context.Connection.RemoteIpAddress, budgets.Value.Ipv6PrefixLength);
        if (!bootstrap && !keys.WasFoundValid(key) && !unknownKeys.TryTake(address))
        {
            Context.Items[typeof(UnknownKeyLimiter)] = unknownKeys.RetryAfterSeconds; // answered 429 by the challenge
            return AuthenticateResult.Fail("Too many API keys not yet found valid from this address.");
        }

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

    /// <summary>An address out of tokens for keys not yet found valid gets 429 with Retry-After rather than 401: its key may be good, the store was not asked.</summary>
    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        if (Context.Items.TryGetValue(typeof(UnknownKeyLimiter), out var value) && value is int seconds)
        {
            metrics.RateLimitRejected("unknown-api-keys");
            Response.StatusCode = StatusCodes.Status429TooManyRequests;
            Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
            await Problems.Create(StatusCodes.Status429TooManyRequests, ProblemCodes.TooManyRequests,
                $"Too many API keys this instance has not found valid came from this address; retry after {seconds} s.").ExecuteAsync(Context);
            return;
        }

        await base.HandleChallengeAsync(properties);
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
