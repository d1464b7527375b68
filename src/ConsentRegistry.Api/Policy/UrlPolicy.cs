using ConsentRegistry.Api.Errors;
using ConsentRegistry.Api.Lookup;
using ConsentRegistry.Api.Matching;
using ConsentRegistry.Api.Observability;
using ConsentRegistry.Core.Claims;
using ConsentRegistry.Core.Matching;
using ConsentRegistry.Core.Policy;
using ConsentRegistry.Core.Urls;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ConsentRegistry.Api.Policy;

/// <summary><c>GET /v1/policy?url=</c>: one URL's decision, resolved as a lookup item is, as JSON and as the headers crawlers read.</summary>
internal static class UrlPolicy
{
    public static async Task<Results<Ok<PolicyResponse>, ProblemHttpResult>> GetAsync(
        string? url, HttpContext context, LookupEngine engine, IndexUpdater updater, RegistryMetrics metrics, CancellationToken cancellationToken)
    {
        // Most often a URL's own query string sent unencoded (?url=https://a.example/i.jpg?w=1&h=2):
        // answering for the URL cut at the '&' would decide another URL than the caller's.
        foreach (var (name, _) in context.Request.Query)
        {
            if (!name.Equals("url", StringComparison.OrdinalIgnoreCase)) // binding takes URL= too
            {
                metrics.LookupItems(LookupEndpointNames.Policy, new LookupTally(Matched: 0, Unmatched: 0, Errors: 1));
                var shown = name.Length > 64 ? name[..64] + "…" : name; // the caller's text, echoed: bounded
                return Problems.Create(StatusCodes.Status400BadRequest, ProblemCodes.InvalidQuery,
                    $"{shown} is not a parameter of /v1/policy, which takes url alone; percent-encode the URL "
                    + "(its ? as %3F, & as %26, = as %3D) when it has a query string of its own.", field: shown);
            }
        }

        if (string.IsNullOrEmpty(url))
        {
            return InvalidUrl(metrics, "url is required: the http(s) URL to decide.");
        }

        if (!UrlCanonicalizer.TryCanonicalize(url, out var canonical, out var error))
        {
            return InvalidUrl(metrics, $"url is not a valid http(s) URL: {error}.");
        }

        await updater.WaitForOwnWritesAsync(cancellationToken);
        var seq = engine.Seq; // read first: the answer reflects at least this seq
        var buffers = new LookupBuffers();
        var decision = engine.Resolve(canonical, buffers);
        metrics.LookupItems(LookupEndpointNames.Policy, buffers.TakeTally());
        var matches = buffers.Resolved.Select(m => new PolicyMatch(m.Id.ToString(), m.By.ToWire(), m.Trust.ToWire())).ToList();

        var headers = context.Response.Headers;
        var usage = ContentUsage.Format(decision);
        if (usage.Length > 0)
        {
            headers["Content-Usage"] = usage;
        }

        if (decision.TrainAi == Permission.Disallow)
        {
            headers["X-Robots-Tag"] = "noai, noimageai";
        }

        if (decision.Tdm == Permission.Disallow)
        {
            headers["tdm-reservation"] = "1";
        }

        var categories = new Dictionary<string, string>(UseCategories.All.Count);
        for (var category = 0; category < UseCategories.All.Count; category++)
        {
            categories[UseCategories.All[category]] = Decision.ToWire(decision[category]);
        }

        return TypedResults.Ok(new PolicyResponse(canonical.Value, seq, categories, matches, buffers.More > 0 ? buffers.More : null));
    }

    private static ProblemHttpResult InvalidUrl(RegistryMetrics metrics, string detail)
    {
        metrics.LookupItems(LookupEndpointNames.Policy, new LookupTally(Matched: 0, Unmatched: 0, Errors: 1));
        return Problems.Create(StatusCodes.Status400BadRequest, "invalid-url", detail, "url");
    }
}
