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
        // Routing ignores case and a trailing slash, so the match here must too (/KEY, /key/ serve the key page);
        // the page handler and the static files set the headers as well, whatever path reached them.
        var path = context.Request.Path;
        if (IsPagePath(path.Value) || path.StartsWithSegments(ArtistPagesEndpoints.AssetsPath, StringComparison.OrdinalIgnoreCase))
        {
            Apply(context.Response);
        }

        return next(context);
    }

    /// <summary>Whether a request path names an artist page, ignoring case and one trailing slash.</summary>
    private static bool IsPagePath(string? path)
    {
        if (string.IsNullOrEmpty(path))
        {
            return false;
        }

        var trimmed = path.Length > 1 && path.EndsWith('/') ? path[..^1] : path;
        return ArtistPagesEndpoints.Pages.ContainsKey(trimmed);
    }

    /// <summary>Sets the security headers on a response of the artist pages or their assets.</summary>
    public static void Apply(HttpResponse response)
    {
        var headers = response.Headers;
        headers.ContentSecurityPolicy = ContentSecurityPolicy;
        headers.XContentTypeOptions = "nosniff";
        headers["Referrer-Policy"] = "no-referrer";
        headers.XFrameOptions = "DENY";
    }
}
