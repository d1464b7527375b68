using ConsentRegistry.Api.Hosting;
using Microsoft.Extensions.Options;

namespace ConsentRegistry.Api.Artists;

/// <summary><c>Registry:Form</c>: the artist web form (docs/web-form.md).</summary>
public sealed class FormOptions
{
    public const string Section = "Registry:Form";

    /// <summary>Require an Entra ID sign-in (OpenID Connect, section AzureAd) before the form pages are served.</summary>
    public bool RequireSignIn { get; set; }
}

internal sealed class FormOptionsValidator(IConfiguration configuration) : IValidateOptions<FormOptions>
{
    public ValidateOptionsResult Validate(string? name, FormOptions options) =>
        options.RequireSignIn && !ArtistSignIn.IsConfigured(configuration)
            ? ValidateOptionsResult.Fail(
                "Registry:Form:RequireSignIn is true but the AzureAd section is missing or incomplete, so nobody could sign in to the artist pages. "
                + "Register the app in Microsoft Entra ID (redirect URI https://<your host>/signin-oidc) and set AzureAd:ClientId and AzureAd:TenantId "
                + "(AzureAd:Instance too outside the public cloud), e.g. AzureAd__ClientId=<application id> AzureAd__TenantId=<tenant id>; "
                + "or set Registry:Form:RequireSignIn=false to serve the pages without sign-in.")
            : ValidateOptionsResult.Success;
}
