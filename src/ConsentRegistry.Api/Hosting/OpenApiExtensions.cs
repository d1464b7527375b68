using ConsentRegistry.Api.Artists;

namespace ConsentRegistry.Api.Hosting;

/// <summary>The OpenAPI document at /swagger/v1/swagger.json and Swagger UI at /swagger; committed as openapi/v1.json.</summary>
public static class OpenApiExtensions
{
    public static IServiceCollection AddRegistryOpenApi(this IServiceCollection services)
    {
        services.AddEndpointsApiExplorer();
        services.AddSwaggerGen(options =>
        {
            options.SwaggerDoc("v1", new Microsoft.OpenApi.OpenApiInfo
            {
                Title = "ConsentRegistry",
                Version = "v1",
                Description = "Signed opt-out and consent claims about creative works, and the lookups that dataset builders and crawlers use to respect them.",
            });
            options.AddSecurityDefinition("ApiKey", new Microsoft.OpenApi.OpenApiSecurityScheme
            {
                Type = Microsoft.OpenApi.SecuritySchemeType.ApiKey,
                In = Microsoft.OpenApi.ParameterLocation.Header,
                Name = "Authorization",
                Description = "Authorization: API <key>",
            });
            options.OperationFilter<JoseBodySchema>();
            options.SchemaFilter<WireValueSchemas>();
            options.SupportNonNullableReferenceTypes();
        });
        return services;
    }

    public static WebApplication MapRegistryOpenApi(this WebApplication app)
    {
        app.Use(SwaggerSecurityHeaders);
        app.UseSwagger();
        app.Use(RedirectToSwaggerUi);
        app.UseSwaggerUI(options => options.SwaggerEndpoint("/swagger/v1/swagger.json", "ConsentRegistry v1"));
        return app;
    }

    /// <summary>
    /// The artist pages' policy plus the hash of the one &lt;style&gt; element swagger-ui's bundle (Swashbuckle
    /// 10.1.0) inserts; its scripts and other styles are files under /swagger. Nothing inline is allowed
    /// otherwise. A Swashbuckle upgrade that changes that style shows in the browser test's console check.
    /// </summary>
    public const string SwaggerContentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self' 'sha256-RL3ie0nH+Lzz2YNqQN83mnU0J1ot4QL7b99vMdIX99w='; "
        + "img-src 'self' blob: data:; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'";

    /// <summary>Everything under /swagger gets the artist pages' security headers, with <see cref="SwaggerContentSecurityPolicy"/>.</summary>
    private static Task SwaggerSecurityHeaders(HttpContext context, RequestDelegate next)
    {
        if (context.Request.Path.StartsWithSegments("/swagger", StringComparison.OrdinalIgnoreCase))
        {
            ArtistSecurityHeaders.Apply(context.Response, SwaggerContentSecurityPolicy);
        }

        return next(context);
    }

    /// <summary>
    /// GET /swagger and /swagger/: a redirect to the UI's page with a small HTML body that links to it,
    /// where Swashbuckle answers an empty 301. Not a rewrite: the page loads its scripts and styles by
    /// relative URLs, which resolve under /swagger/ only. The target is relative, as Swashbuckle's is,
    /// so the redirect also works behind a proxy that serves the API under a path prefix.
    /// </summary>
    private static Task RedirectToSwaggerUi(HttpContext context, RequestDelegate next)
    {
        var request = context.Request;
        var bare = request.Path.Equals("/swagger", StringComparison.OrdinalIgnoreCase);
        if (!(bare || request.Path.Equals("/swagger/", StringComparison.OrdinalIgnoreCase))
            || !(HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method)))
        {
            return next(context);
        }

        var target = bare ? "swagger/index.html" : "index.html";
        context.Response.StatusCode = StatusCodes.Status302Found;
        context.Response.Headers.Location = target;
        context.Response.ContentType = "text/html; charset=utf-8";
        return context.Response.WriteAsync(
            $"""
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>ConsentRegistry API</title></head>
            <body><p>The API's documentation is at <a href="{target}">Swagger UI</a>.</p></body></html>

            """);
    }
}
