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
        app.UseSwaggerUI(options => options.SwaggerEndpoint("/swagger/v1/swagger.json", "ConsentRegistry v1"));
        return app;
    }
}
