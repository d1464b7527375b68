using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using ConsentRegistry.Api.Errors;

namespace ConsentRegistry.Api.Hosting;

/// <summary>
/// The limits on a request's target and headers, answered in the registry's own words. Kestrel
/// refuses a request line or header block over its limits before any middleware runs, with a
/// bodiless 414 or 431; so Kestrel's limits are set above ours (by <see cref="KestrelSlack"/>) and
/// this middleware, first in the pipeline, answers problem+json at ours. What Kestrel still refuses
/// by itself (a request line or header it cannot parse, or one past the raised limits) keeps its
/// bodiless 400, 414 or 431: ASP.NET Core has no hook for those responses.
/// </summary>
internal static class RequestHeadLimits
{
    /// <summary>The longest path and query accepted (Kestrel's own default request line is 8 KiB).</summary>
    public const int MaxTargetBytes = 8 * 1024;

    /// <summary>The most header bytes accepted, names and values (Kestrel's own default is 32 KiB).</summary>
    public const int MaxHeaderBytes = 32 * 1024;

    /// <summary>How far above ours Kestrel's limits are set: the most a refused request makes the server read.</summary>
    public const int KestrelSlack = 32 * 1024;

    public static void Configure(KestrelServerLimits limits)
    {
        limits.MaxRequestLineSize = MaxTargetBytes + KestrelSlack;
        limits.MaxRequestHeadersTotalSize = MaxHeaderBytes + KestrelSlack;
    }

    public static WebApplication UseRequestHeadLimits(this WebApplication app)
    {
        app.Use(async (context, next) =>
        {
            var target = context.Features.Get<IHttpRequestFeature>()?.RawTarget ?? "";
            if (target.Length > MaxTargetBytes)
            {
                await Problems.Create(StatusCodes.Status414UriTooLong, ProblemCodes.UriTooLong,
                    $"The request's path and query are {target.Length:N0} bytes; the most accepted is {MaxTargetBytes:N0}. "
                    + "Send long inputs in a request body (POST /v1/lookup takes up to 10,000 items).").ExecuteAsync(context);
                return;
            }

            var headerBytes = 0L;
            foreach (var (name, values) in context.Request.Headers)
            {
                headerBytes += name.Length;
                foreach (var value in values)
                {
                    headerBytes += value?.Length ?? 0;
                }
            }

            if (headerBytes > MaxHeaderBytes)
            {
                await Problems.Create(StatusCodes.Status431RequestHeaderFieldsTooLarge, ProblemCodes.HeadersTooLarge,
                    $"The request's headers are {headerBytes:N0} bytes; the most accepted is {MaxHeaderBytes:N0}.").ExecuteAsync(context);
                return;
            }

            await next(context);
        });
        return app;
    }
}
