namespace ConsentRegistry.Api.Artists;

/// <summary>
/// Security headers for the artist pages, /assets and Swagger UI (whose files are all under /swagger, with its own policy);
/// the JSON API has no document to protect. The policy allows this origin's scripts and styles and
/// nothing inline, so injected markup cannot run; the pages also set user text with textContent.
/// The page handler and the asset files apply them to every response they send, whatever spelling
/// of the path reached them (/KEY, /key/).
/// </summary>
internal static class ArtistSecurityHeaders
{
    public const string ContentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; connect-src 'self'; "
        + "frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'";

    /// <summary>Sets the security headers on a response of the artist pages or their assets (or, with its policy, Swagger UI).</summary>
    public static void Apply(HttpResponse response, string contentSecurityPolicy = ContentSecurityPolicy)
    {
        var headers = response.Headers;
        headers.ContentSecurityPolicy = contentSecurityPolicy;
        headers.XContentTypeOptions = "nosniff";
        headers["Referrer-Policy"] = "no-referrer";
        headers.XFrameOptions = "DENY";
    }
}
