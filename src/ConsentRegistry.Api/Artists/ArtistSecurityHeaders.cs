namespace ConsentRegistry.Api.Artists;

/// <summary>
/// Security headers for the artist pages and /assets only: Swagger UI needs inline script, and the
/// JSON API has no document to protect. The policy allows this origin's scripts and styles and
/// nothing inline, so injected markup cannot run; the pages also set user text with textContent.
/// </summary>
internal sealed class ArtistSecurityHeaders(RequestDelegate next)
{
    public const string ContentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; connect-src 'self'; "
        + "frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'";

    public Task InvokeAsync(HttpContext context)
    {
        var path = context.Request.Path;
        if (ArtistPagesEndpoints.Pages.ContainsKey(path.Value ?? "") || path.StartsWithSegments(ArtistPagesEndpoints.AssetsPath))
        {
            var headers = context.Response.Headers;
            headers.ContentSecurityPolicy = ContentSecurityPolicy;
            headers.XContentTypeOptions = "nosniff";
            headers["Referrer-Policy"] = "no-referrer";
            headers.XFrameOptions = "DENY";
        }

        return next(context);
    }
}
