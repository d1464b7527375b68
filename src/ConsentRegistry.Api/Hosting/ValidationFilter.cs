using ConsentRegistry.Api.Errors;
using FluentValidation;

namespace ConsentRegistry.Api.Hosting;

/// <summary>Runs the FluentValidation validator of a request body and answers 400 with every failing field.</summary>
public sealed class ValidationFilter<T>(IValidator<T> validator) : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var argument = context.Arguments.OfType<T>().FirstOrDefault();
        if (argument is null)
        {
            return TypedResults.Problem(statusCode: 400, title: "A request body is required.", type: ProblemTypes.Of("missing-body"),
                extensions: new Dictionary<string, object?> { ["code"] = "missing-body" });
        }

        var result = await validator.ValidateAsync(argument, context.HttpContext.RequestAborted);
        if (result.IsValid)
        {
            return await next(context);
        }

        return TypedResults.ValidationProblem(
            result.ToDictionary(),
            type: ProblemTypes.Of("validation-failed"),
            extensions: new Dictionary<string, object?> { ["code"] = "validation-failed" });
    }
}
