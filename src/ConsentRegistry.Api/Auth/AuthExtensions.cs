using System.Security.Claims;
using ConsentRegistry.Api.Lookup;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.Options;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.Identity.Web;

namespace ConsentRegistry.Api.Auth;

public static class Policies
{
    public const string Admin = "admin";

    /// <summary>Lookups, images and policy documents: any valid credential, or none when anonymous lookups are allowed.</summary>
    public const string Lookup = "lookup";
}

public static class AuthExtensions
{
    /// <summary>Picks API key or Entra ID bearer token by the Authorization header's scheme.</summary>
    public const string RegistryScheme = "Registry";

    public static WebApplicationBuilder AddRegistryAuth(this WebApplicationBuilder builder)
    {
        var azureAd = builder.Configuration.GetSection("AzureAd");
        var bearerEnabled = !string.IsNullOrWhiteSpace(azureAd["ClientId"]);

        builder.Services.AddSingleton<UnknownKeyLimiter>();
        var authentication = builder.Services
            .AddAuthentication(RegistryScheme)
            .AddPolicyScheme(RegistryScheme, "API key or Entra ID bearer token", options =>
                options.ForwardDefaultSelector = context =>
                    bearerEnabled && context.Request.Headers.Authorization.ToString().StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)
                        ? JwtBearerDefaults.AuthenticationScheme
                        : ApiKeyAuthenticationHandler.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null);

        if (bearerEnabled)
        {
            authentication.AddMicrosoftIdentityWebApi(azureAd, JwtBearerDefaults.AuthenticationScheme);
            builder.Services.Configure<JwtBearerOptions>(JwtBearerDefaults.AuthenticationScheme, options => PinTenantIssuers(options, azureAd));
        }

        // Admin rights from a token only when the registration is pinned to one tenant: in a
        // multi-tenant registration another tenant's admin could assign the app role to anyone.
        var bearerAdmins = bearerEnabled && Guid.TryParse(azureAd["TenantId"], out _);
        builder.Services.AddAuthorization();
        builder.Services.AddOptions<AuthorizationOptions>().Configure<IOptions<AuthOptions>, IOptions<LookupOptions>>((authorization, auth, lookup) =>
        {
            var adminRole = auth.Value.AdminRole;
            var allowAnonymousLookups = lookup.Value.AllowAnonymous;
            authorization.AddPolicy(Policies.Admin, policy => policy
                .RequireAuthenticatedUser()
                .RequireAssertion(context => IsAdmin(context.User, adminRole, bearerAdmins)));
            // Lookups: any valid key or token; anonymous too when allowed, but a credential that
            // does not authenticate is refused rather than ignored.
            authorization.AddPolicy(Policies.Lookup, policy => policy
                .RequireAssertion(context => context.User.Identity?.IsAuthenticated == true
                    || (allowAnonymousLookups && context.Resource is HttpContext http && !http.Request.Headers.ContainsKey("Authorization"))));
        });
        return builder;
    }

    /// <summary>
    /// For a single-tenant registration, accept exactly that tenant's v1 and v2 issuers. The
    /// issuer check then needs no metadata download, and a token of another tenant never passes.
    /// </summary>
    private static void PinTenantIssuers(JwtBearerOptions options, IConfigurationSection azureAd)
    {
        if (!Guid.TryParse(azureAd["TenantId"], out var tenant))
        {
            return; // "common" or "organizations": Identity.Web's multi-tenant issuer validation applies.
        }

        var instance = (azureAd["Instance"] ?? "https://login.microsoftonline.com/").TrimEnd('/');
        options.TokenValidationParameters.ValidIssuers = [$"{instance}/{tenant}/v2.0", $"https://sts.windows.net/{tenant}/"];
    }

    private static bool IsAdmin(ClaimsPrincipal user, string adminRole, bool bearerAdmins) =>
        user.Identities.Any(identity => identity.IsAuthenticated && identity.AuthenticationType switch
        {
            ApiKeyAuthenticationHandler.SchemeName => identity.HasClaim(ClaimTypes.Role, ApiKeyRoles.Admin),
            // Entra ID app roles arrive in the "roles" claim (mapped to ClaimTypes.Role by default).
            _ => bearerAdmins && (identity.HasClaim(ClaimTypes.Role, adminRole) || identity.HasClaim("roles", adminRole)),
        });
}
