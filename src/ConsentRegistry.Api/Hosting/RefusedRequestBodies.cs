using Microsoft.AspNetCore.Http.Features;

namespace ConsentRegistry.Api.Hosting;

/// <summary>
/// How a refused write ends its connection. Kestrel reads whatever is left of a request body after
/// the response, even on a connection that closes, so that the client gets a clean close rather
/// than a reset. For a flood of refused 400 KB claims that reading was most of the server's work
/// (measured in docs/benchmarks.md, "Abuse resistance"). A body limit of zero, set while nothing
/// was read yet, makes Kestrel close the connection after the answer instead: the refused client
/// reads its 429 and the rest of its body is never received.
/// </summary>
internal static class RefusedRequestBodies
{
    public static void CloseWithoutReading(HttpContext context)
    {
        context.Response.Headers.Connection = "close";
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = 0;
        }
    }
}
