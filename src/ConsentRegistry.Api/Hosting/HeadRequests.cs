namespace ConsentRegistry.Api.Hosting;

/// <summary>
/// HEAD wherever GET exists (RFC 9110, 9.3.2): a HEAD request is routed as the GET it asks about
/// and answered with that GET's status and headers. Kestrel keeps the method it parsed from the
/// request line and sends no body on a HEAD however much a handler writes. An endpoint that
/// declares HEAD itself (a file served with range support) gets its request back as HEAD once it
/// is chosen, so that it does not read a file it would not send.
/// </summary>
internal static class HeadRequests
{
    /// <summary>The name routing gives the endpoint that answers 405 with the methods it found in <c>Allow</c>.</summary>
    private const string MethodNotAllowedEndpoint = "405 HTTP Method Not Supported";

    private static readonly object WasHead = new();

    /// <summary>Before routing: a HEAD request is routed as GET.</summary>
    public static WebApplication UseHeadAsGet(this WebApplication app)
    {
        app.Use((context, next) =>
        {
            if (HttpMethods.IsHead(context.Request.Method))
            {
                context.Request.Method = HttpMethods.Get;
                context.Items[WasHead] = true;
            }

            return next(context);
        });
        return app;
    }

    /// <summary>
    /// After routing: the request is HEAD again where the chosen endpoint declares HEAD; a 405
    /// lists HEAD in <c>Allow</c> wherever it lists GET, as HEAD is answered there too.
    /// </summary>
    public static WebApplication UseHeadWhereDeclared(this WebApplication app)
    {
        app.Use((context, next) =>
        {
            if (context.Items.ContainsKey(WasHead)
                && context.GetEndpoint()?.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods.Contains(HttpMethods.Head) == true)
            {
                context.Request.Method = HttpMethods.Head;
            }

            return context.GetEndpoint() is { Metadata.Count: 0, DisplayName: MethodNotAllowedEndpoint } ? AllowHeadAsync(context, next) : next(context);
        });
        return app;
    }

    private static async Task AllowHeadAsync(HttpContext context, RequestDelegate next)
    {
        await next(context);
        var allow = context.Response.Headers.Allow.ToString();
        var methods = allow.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (!context.Response.HasStarted && methods.Contains(HttpMethods.Get) && !methods.Contains(HttpMethods.Head))
        {
            context.Response.Headers.Allow = $"{allow}, {HttpMethods.Head}";
        }
    }

    /// <summary>GET and HEAD only, for endpoints mapped for every method (health checks, the metrics scrape).</summary>
    public static TBuilder WithGetAndHeadOnly<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder => builder.WithMetadata(new HttpMethodMetadata([HttpMethods.Get, HttpMethods.Head]));
}
