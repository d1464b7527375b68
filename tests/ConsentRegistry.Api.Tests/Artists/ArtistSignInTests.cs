using System.Net;
using System.Net.Http.Json;
using ConsentRegistry.Api.Artists;
using ConsentRegistry.Api.Auth;
using ConsentRegistry.Api.Tests.Infrastructure;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.OpenIdConnect;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.Protocols;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;

namespace ConsentRegistry.Api.Tests.Artists;

/// <summary>Registry:Form:RequireSignIn: Entra ID sign-in in front of the pages, and only the pages.</summary>
public sealed class ArtistSignInTests
{
    private const string AuthorizationEndpoint = "https://login.example/tenant/oauth2/v2.0/authorize";

    [Fact]
    public async Task Requiring_sign_in_without_an_azure_ad_section_stops_the_start_with_a_message_saying_what_to_set()
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new RegistryApp(database, new Dictionary<string, string?> { ["Registry:Form:RequireSignIn"] = "true" });

        var error = Assert.ThrowsAny<Exception>(app.StartServer);

        Assert.Contains("Registry:Form:RequireSignIn is true but the AzureAd section is missing or incomplete", error.ToString());
        Assert.Contains("AzureAd:ClientId and AzureAd:TenantId", error.ToString());
    }

    [Fact]
    public async Task With_sign_in_required_the_pages_send_the_browser_to_sign_in_and_the_api_answers_as_before()
    {
        await using var app = await RegistryApp.StartAsync(
            new Dictionary<string, string?>
            {
                ["Registry:Form:RequireSignIn"] = "true",
                ["AzureAd:Instance"] = "https://login.microsoftonline.com/",
                ["AzureAd:TenantId"] = "7c1a6f1e-2b3d-4e5f-8a9b-0c1d2e3f4a5b",
                ["AzureAd:ClientId"] = "3f2e1d0c-9b8a-4765-8432-10fedcba9876",
            },
            // This machine reaches no network: the provider's metadata is given, not downloaded.
            services => services.PostConfigure<OpenIdConnectOptions>(ArtistSignIn.OpenIdConnectScheme, options =>
            {
                var configuration = new OpenIdConnectConfiguration { AuthorizationEndpoint = AuthorizationEndpoint, Issuer = "https://login.example/tenant/v2.0" };
                options.Configuration = configuration;
                options.ConfigurationManager = new StaticConfigurationManager<OpenIdConnectConfiguration>(configuration);
            }));
        using var started = app.CreateClient();
        using var client = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = started.BaseAddress };

        using var page = await client.GetAsync("/register");
        using var claims = await client.GetAsync("/v1/parties/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/claims");
        using var admin = await client.PostAsync("/v1/admin/api-keys", JsonContent.Create(new { name = "x" }));
        using var asset = await client.GetAsync("/assets/app.js");

        Assert.Equal(HttpStatusCode.Redirect, page.StatusCode);
        Assert.StartsWith(AuthorizationEndpoint, page.Headers.Location?.ToString());
        Assert.Equal(HttpStatusCode.OK, claims.StatusCode);
        // Unauthenticated API calls are still refused with 401, never redirected to a sign-in page.
        Assert.Equal(HttpStatusCode.Unauthorized, admin.StatusCode);
        Assert.Equal(HttpStatusCode.OK, asset.StatusCode);
        // The API authenticates and challenges with API keys and bearer tokens only, never the sign-in cookie.
        var schemes = app.Services.GetRequiredService<IAuthenticationSchemeProvider>();
        Assert.Equal(AuthExtensions.RegistryScheme, (await schemes.GetDefaultAuthenticateSchemeAsync())?.Name);
        Assert.Equal(AuthExtensions.RegistryScheme, (await schemes.GetDefaultChallengeSchemeAsync())?.Name);
    }
}
