using ConsentRegistry.Api.Auth;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.Identity.Web;

namespace ConsentRegistry.Api.Artists;

/// <summary>
/// Optional sign-in for the artist pages (<c>Registry:Form:RequireSignIn</c>): Microsoft Entra ID
/// through OpenID Connect, remembered in a cookie. Off by default, so the embedded default needs no
/// account. <see cref="FormOptionsValidator"/> stops the start when it is on without an AzureAd section.
/// </summary>
/// <remarks>
/// The cookie authenticates the pages' GET requests and nothing else. The /v1 API keeps its own
/// default scheme (API key or bearer token, <see cref="AuthExtensions.RegistryScheme"/>) and never
/// reads this cookie; the pages' fetches also send no credentials. Claims, revocations and domain
/// verification are authorised by the claim's signature or the host's published file, so a forged
/// cross-site request carries no authority and no antiforgery token is needed. The only POST the
/// cookie scheme handles, /signin-oidc, is bound to its sign-in attempt by OpenID Connect's state
/// and nonce. An endpoint added later that changes state on the strength of this cookie must use
/// AddAntiforgery/UseAntiforgery and send the token from the page.
/// </remarks>
public static class ArtistSignIn
{
    public const string Policy = "artist-pages";
    public const string CookieScheme = "ArtistCookies";
    public const string OpenIdConnectScheme = "ArtistOpenIdConnect";
    public const string AzureAdSection = "AzureAd";

    public static bool IsRequired(IConfiguration configuration) =>
        // Decided while services are registered (the sign-in schemes exist or not), so read here.
        configuration.GetValue<bool>($"{FormOptions.Section}:{nameof(FormOptions.RequireSignIn)}");

    /// <summary>ClientId and TenantId are what Entra ID sign-in cannot do without; Instance defaults to the public cloud.</summary>
    public static bool IsConfigured(IConfiguration configuration)
    {
        var azureAd = configuration.GetSection(AzureAdSection);
        return !string.IsNullOrWhiteSpace(azureAd["ClientId"]) && !string.IsNullOrWhiteSpace(azureAd["TenantId"]);
    }

    public static WebApplicationBuilder AddArtistSignIn(this WebApplicationBuilder builder)
    {
        if (!IsRequired(builder.Configuration) || !IsConfigured(builder.Configuration))
        {
            return builder; // off, or misconfigured: the options validator then stops the start with a message
        }

        var services = builder.Services;
        var azureAd = builder.Configuration.GetSection(AzureAdSection);
        services.AddAuthentication().AddMicrosoftIdentityWebApp(options =>
        {
            azureAd.Bind(options);
            options.Instance = string.IsNullOrWhiteSpace(options.Instance) ? "https://login.microsoftonline.com/" : options.Instance;
        }, cookie =>
        {
            cookie.Cookie.Name = "__Host-registry-artist";
            cookie.Cookie.HttpOnly = true;
            cookie.Cookie.SecurePolicy = CookieSecurePolicy.Always;
            cookie.Cookie.SameSite = SameSiteMode.Lax;
            cookie.ForwardChallenge = OpenIdConnectScheme;
        }, OpenIdConnectScheme, CookieScheme);

        // Whatever Identity.Web sets as defaults, the API keeps authenticating and challenging with
        // API keys and bearer tokens only: the cookie must never stand in for a credential on /v1.
        services.PostConfigure<AuthenticationOptions>(options =>
        {
            options.DefaultScheme = AuthExtensions.RegistryScheme;
            options.DefaultAuthenticateScheme = null;
            options.DefaultChallengeScheme = null;
            options.DefaultForbidScheme = null;
            options.DefaultSignInScheme = CookieScheme;
            options.DefaultSignOutScheme = CookieScheme;
        });

        services.AddAuthorizationBuilder().AddPolicy(Policy, policy => policy
            .AddAuthenticationSchemes(CookieScheme)
            .RequireAuthenticatedUser());
        return builder;
    }
}
