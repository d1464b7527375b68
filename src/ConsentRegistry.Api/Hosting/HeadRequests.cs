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

    /// <summary>After routing: the request is HEAD again where the chosen endpoint declares HEAD.</summary>
    public static WebApplication UseHeadWhereDeclared(this WebApplication app)
    {
        app.Use((context, next) =>
        {
            if (context.Items.ContainsKey(WasHead)
                && context.GetEndpoint()?.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods.Contains(HttpMethods.Head) == true)
            {
                context.Request.Method = HttpMethods.Head;
            }

            return next(context);
        });
        return app;
    }
}
