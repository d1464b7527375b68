using ConsentRegistry.Api.Errors;
using ConsentRegistry.Api.Hosting;
using ConsentRegistry.Api.Lookup;
using ConsentRegistry.Api.Matching;
using ConsentRegistry.Core.Matching;
using ConsentRegistry.Core.Urls;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace ConsentRegistry.Api.Policy;

/// <summary>
/// Policy documents for crawlers (DESIGN.md 5.4) in the formats they already read: Content-Usage,
/// X-Robots-Tag and tdm-reservation headers per URL; robots.txt and tdmrep.json per host.
/// Lookups by another name, so they share the lookup's authorization and rate limits.
/// </summary>
public static class PolicyEndpoints
{
    /// <summary>How long crawlers and caches keep a host document before they revalidate it.</summary>
    public const string CacheControl = "public, max-age=3600";

    /// <summary>
    /// The same for a registry that answers keyed callers only (<c>Registry:Lookup:AllowAnonymous</c>
    /// false): a shared cache must not hand a document fetched with one caller's key to others.
    /// </summary>
    public const string KeyedCacheControl = "private, max-age=3600";

    public static RouteGroupBuilder MapPolicy(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("")
            .WithTags("Policy")
            .RequireLookupAccess()
            .ProducesProblem(StatusCodes.Status400BadRequest);

        group.MapGet("/v1/policy", UrlPolicy.GetAsync)
            .WithSingleQueryValues()
            .WithName("GetUrlPolicy")
            .WithSummary("The decision for one URL, with Content-Usage, X-Robots-Tag and tdm-reservation headers.");

        group.MapGet("/v1/hosts/{host}/robots.txt", RobotsTxtAsync)
            .WithName("GetHostRobotsTxt")
            .WithSummary("An RFC 9309 robots.txt for the host: Disallow for AI-training crawlers, Content-Usage lines for all. ETag; 304 on If-None-Match.")
            .Produces<string>(StatusCodes.Status200OK, "text/plain")
            .Produces(StatusCodes.Status304NotModified)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

        group.MapGet("/v1/hosts/{host}/tdmrep.json", TdmRepAsync)
            .WithName("GetHostTdmRep")
            .WithSummary("The W3C TDMRep array for the host. ETag; 304 on If-None-Match.")
            .Produces<IReadOnlyList<TdmRepEntry>>(StatusCodes.Status200OK, "application/json")
            .Produces(StatusCodes.Status304NotModified)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);

        // HEAD answers as GET does, headers and 304 included (HeadRequests: for every GET).

        return group;
    }

    internal static Task<Results<FileContentHttpResult, StatusCodeHttpResult, ProblemHttpResult>> RobotsTxtAsync(
        string host, HttpContext context, HostPolicyDocuments documents, IndexUpdater updater, IOptions<LookupOptions> lookup, CancellationToken cancellationToken) =>
        ServeAsync(host, context, documents, updater, lookup.Value, HostDocumentKind.RobotsTxt, "text/plain; charset=utf-8", cancellationToken);

    internal static Task<Results<FileContentHttpResult, StatusCodeHttpResult, ProblemHttpResult>> TdmRepAsync(
        string host, HttpContext context, HostPolicyDocuments documents, IndexUpdater updater, IOptions<LookupOptions> lookup, CancellationToken cancellationToken) =>
        ServeAsync(host, context, documents, updater, lookup.Value, HostDocumentKind.TdmRep, "application/json", cancellationToken);

    private static async Task<Results<FileContentHttpResult, StatusCodeHttpResult, ProblemHttpResult>> ServeAsync(
        string host, HttpContext context, HostPolicyDocuments documents, IndexUpdater updater, LookupOptions lookup,
        HostDocumentKind kind, string contentType, CancellationToken cancellationToken)
    {
        if (!HostCanonicalizer.TryCanonicalize(host, out var canonical, out var error))
        {
            return Problems.Create(StatusCodes.Status400BadRequest, ProblemCodes.InvalidHost,
                $"host is a bare host name such as artist.example (no scheme, port, path or userinfo): {error}.", "host");
        }

        await updater.WaitForOwnWritesAsync(cancellationToken);
        var headers = context.Response.GetTypedHeaders();
        headers.CacheControl = CacheControlHeaderValue.Parse(lookup.AllowAnonymous ? CacheControl : KeyedCacheControl);
        var etag = new EntityTagHeaderValue(documents.ETagOf(documents.LastSeq(canonical)));
        if (context.Request.GetTypedHeaders().IfNoneMatch is { Count: > 0 } ifNoneMatch
            && ifNoneMatch.Any(tag => tag.Equals(EntityTagHeaderValue.Any) || tag.Compare(etag, useStrongComparison: false)))
        {
            headers.ETag = etag;
            return TypedResults.StatusCode(StatusCodes.Status304NotModified);
        }

        var rendered = await documents.GetAsync(canonical, kind, cancellationToken);
        if (rendered is null)
        {
            // RFC 9309 2.3.1.4: a crawler that gets a 5xx robots.txt keeps out of the whole host meanwhile.
            context.Response.Headers.RetryAfter = "5";
            headers.CacheControl = new CacheControlHeaderValue { NoStore = true };
            return Problems.Create(StatusCodes.Status503ServiceUnavailable, ProblemCodes.PolicyRendering,
                $"This host's {(kind == HostDocumentKind.RobotsTxt ? "robots.txt" : "tdmrep.json")} is being built for the first time; retry after 5 s. "
                + "GET /v1/policy?url= answers for one URL at once.");
        }

        headers.ETag = new EntityTagHeaderValue(rendered.ETag);
        if (rendered.ETag != etag.Tag.Value && context.Request.GetTypedHeaders().IfNoneMatch is { Count: > 0 } staleMatch
            && staleMatch.Any(tag => tag.Compare(headers.ETag, useStrongComparison: false)))
        {
            return TypedResults.StatusCode(StatusCodes.Status304NotModified); // the client holds the document still served
        }

        return TypedResults.Bytes(rendered.Body, contentType);
    }
}
