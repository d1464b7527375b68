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
        });
        return services;
    }

    public static WebApplication MapRegistryOpenApi(this WebApplication app)
    {
        app.UseSwagger();
        app.Use(RedirectToSwaggerUi);
        app.UseSwaggerUI(options => options.SwaggerEndpoint("/swagger/v1/swagger.json", "ConsentRegistry v1"));
        return app;
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
