namespace ConsentRegistry.Api.Artists;

/// <summary>
/// Security headers for the artist pages and /assets only: Swagger UI needs inline script, and the
/// JSON API has no document to protect. The policy allows this origin's scripts and styles and
/// nothing inline, so injected markup cannot run; the pages also set user text with textContent.
/// The page handler and the asset files apply them to every response they send, whatever spelling
/// of the path reached them (/KEY, /key/).
/// </summary>
internal static class ArtistSecurityHeaders
{
    public const string ContentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; connect-src 'self'; "
        + "frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'";

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
