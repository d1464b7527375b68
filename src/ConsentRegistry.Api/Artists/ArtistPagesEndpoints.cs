using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.FileProviders;
using Microsoft.Net.Http.Headers;

namespace ConsentRegistry.Api.Artists;

/// <summary>
/// The artist web form (docs/web-form.md): static pages from wwwroot/artists and small vanilla ES
/// modules from wwwroot/assets. The pages make no decisions on the server: the browser keeps the
/// signing key, signs claims and revocations itself and calls the public /v1 API, where the
/// signature is the credential.
/// </summary>
public static class ArtistPagesEndpoints
{
    public const string AssetsPath = "/assets";

    /// <summary>Each page's route and its file under wwwroot/artists.</summary>
    public static IReadOnlyDictionary<string, string> Pages { get; } = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
    {
        ["/"] = "index.html",
        ["/key"] = "key.html",
        ["/register"] = "register.html",
        ["/claims"] = "claims.html",
        ["/verify"] = "verify.html",
    };

    /// <summary>Asset names are not fingerprinted, so a browser keeps them briefly and then revalidates (ETag).</summary>
    public const string AssetCacheControl = "public, max-age=300";

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

        foreach (var (route, file) in Pages)
        {
            pages.MapGet(route, (IWebHostEnvironment environment, HttpContext context) => Page(environment, context, file));
        }

        return app;
    }

    private static Results<PhysicalFileHttpResult, NotFound> Page(IWebHostEnvironment environment, HttpContext context, string file)
    {
        var info = environment.WebRootFileProvider.GetFileInfo($"artists/{file}");
        if (!info.Exists || info.PhysicalPath is null)
        {
            return TypedResults.NotFound();
        }

        // Always revalidated, so a deploy never leaves an old page pointing at new scripts.
        context.Response.Headers.CacheControl = "no-cache";
        ArtistSecurityHeaders.Apply(context.Response);
        var etag = new EntityTagHeaderValue($"\"{info.LastModified.ToUnixTimeSeconds():x}-{info.Length:x}\"");
        return TypedResults.PhysicalFile(info.PhysicalPath, "text/html; charset=utf-8", lastModified: info.LastModified, entityTag: etag);
    }
}
