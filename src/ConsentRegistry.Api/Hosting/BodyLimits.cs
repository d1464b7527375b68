using Microsoft.AspNetCore.Http.Features;

namespace ConsentRegistry.Api.Hosting;

/// <summary>
/// A per-endpoint request body limit. Kestrel's global limit is small (1 MiB); endpoints that take
/// large bodies raise it for themselves, and streaming endpoints lift it.
/// </summary>
public static class BodyLimits
{
    public const long DefaultMaxBytes = 1024 * 1024;

    public static TBuilder WithBodyLimit<TBuilder>(this TBuilder builder, long? maxBytes)
        where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new BodyLimitMetadata(maxBytes));

    /// <summary>Applies the endpoint's limit; must run after routing and before the body is read.</summary>
    public static IApplicationBuilder UseBodyLimits(this IApplicationBuilder app) =>
        app.Use((context, next) =>
        {
            var limit = context.GetEndpoint()?.Metadata.GetMetadata<BodyLimitMetadata>();
            var feature = context.Features.Get<IHttpMaxRequestBodySizeFeature>();
            if (limit is not null && feature is { IsReadOnly: false })
            {
                feature.MaxRequestBodySize = limit.MaxBytes;
            }

            return next(context);
        });

    private sealed record BodyLimitMetadata(long? MaxBytes);
}
