using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.FileProviders;

namespace ConsentRegistry.Api.Artists;

/// <summary>
/// The artist web form (docs/web-form.md): pages made of one shared layout and each page's own
/// content (wwwroot/artists, see <see cref="ArtistPageLayout"/>) and small vanilla ES modules from
/// wwwroot/assets. Only /assets is a static file folder: the layout and the page files are never
/// served as they are, only the composed pages at their routes. The pages make no decisions on the
/// server: the browser keeps the signing key, signs claims and revocations itself and calls the
/// public /v1 API, where the signature is the credential.
/// </summary>
public static class ArtistPagesEndpoints
{
    public const string AssetsPath = "/assets";

    /// <summary>Each page's route and its page file (its content and metadata) under wwwroot/artists.</summary>
    public static IReadOnlyDictionary<string, string> Pages { get; } = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
    {
        ["/"] = "index.html",
        ["/key"] = "key.html",
        ["/register"] = "register.html",
        ["/claims"] = "claims.html",
        ["/verify"] = "verify.html",
    };

    /// <summary>
    /// Asset names are not fingerprinted, and a page's modules import each other: a browser keeps them
    /// but revalidates each on every load (ETag, 304), so that after a deploy no page runs a new
    /// module beside an old one it imports (a name missing from the cached one stops the page).
    /// </summary>
    public const string AssetCacheControl = "public, no-cache";

    public static WebApplication MapArtistPages(this WebApplication app)
    {
        // Static files rather than endpoints for the assets: they bring ETags, ranges and content types.
        var assets = Path.Combine(app.Environment.WebRootPath ?? Path.Combine(app.Environment.ContentRootPath, "wwwroot"), "assets");
        app.UseStaticFiles(new StaticFileOptions
        {
            RequestPath = AssetsPath,
            // A host started outside its publish folder has no wwwroot: the API still runs, the pages answer 404.
            FileProvider = Directory.Exists(assets) ? new PhysicalFileProvider(assets) : new NullFileProvider(),
            OnPrepareResponse = context =>
            {
                context.Context.Response.Headers.CacheControl = AssetCacheControl;
                ArtistSecurityHeaders.Apply(context.Context.Response);
            },
        });

        var pages = app.MapGroup("").ExcludeFromDescription();
        if (ArtistSignIn.IsRequired(app.Configuration))
        {
            pages.RequireAuthorization(ArtistSignIn.Policy);
        }

        var composed = new ArtistPages(app.Environment.WebRootFileProvider, Pages.Values);
        foreach (var (route, file) in Pages)
        {
            pages.MapGet(route, (HttpContext context) => Page(composed, context, file));
        }

        return app;
    }

    private static Results<FileContentHttpResult, NotFound> Page(ArtistPages pages, HttpContext context, string file)
    {
        if (pages.Get(file) is not { } page)
        {
            return TypedResults.NotFound();
        }

        // Always revalidated, so a deploy never leaves an old page pointing at new scripts.
        context.Response.Headers.CacheControl = "no-cache";
        ArtistSecurityHeaders.Apply(context.Response);
        return TypedResults.Bytes(page.Html, "text/html; charset=utf-8", lastModified: page.LastModified, entityTag: page.ETag);
    }
}
