using ConsentRegistry.Api.Errors;

namespace ConsentRegistry.Api.Hosting;

/// <summary>
/// Each query parameter is given at most once: <c>?url=A&amp;url=B</c> is refused with 400 naming
/// <c>url</c>, not read as "A,B". Endpoints opt in with <see cref="WithSingleQueryValues{TBuilder}"/>;
/// the check runs after routing, before parameter binding, so it covers typed parameters too.
/// </summary>
public static class SingleQueryValues
{
    private sealed class Marker;

    private static readonly Marker Metadata = new();

    public static TBuilder WithSingleQueryValues<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder => builder.WithMetadata(Metadata);

    public static IApplicationBuilder UseSingleQueryValues(this IApplicationBuilder app) => app.Use(next => context =>
    {
        if (context.GetEndpoint()?.Metadata.GetMetadata<Marker>() is not null)
        {
            foreach (var (name, values) in context.Request.Query)
            {
                if (values.Count > 1)
                {
                    return Problems.Create(StatusCodes.Status400BadRequest, ProblemCodes.InvalidQuery,
                        $"{name} is given {values.Count} times; give it once.", field: name).ExecuteAsync(context);
                }
            }
        }

        return next(context);
    });
}
