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
            return Problems.Create(StatusCodes.Status400BadRequest, ProblemCodes.MissingBody, "A request body is required.");
        }

        var result = await validator.ValidateAsync(argument, context.HttpContext.RequestAborted);
        if (result.IsValid)
        {
            return await next(context);
        }

        return Problems.Validation(result.ToDictionary(), ProblemCodes.ValidationFailed);
    }
}
