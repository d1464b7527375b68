using System.Data.Common;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;

namespace ConsentRegistry.Api.Errors;

/// <summary>
/// Every error is <c>application/problem+json</c>: bodies-less status codes (404, 405, 401, …) are
/// filled in, and exceptions are mapped so that nothing a client sends produces a 500.
/// </summary>
public static class ErrorHandling
{
    public static IServiceCollection AddRegistryProblemDetails(this IServiceCollection services)
    {
        services.AddProblemDetails(options => options.CustomizeProblemDetails = context =>
        {
            var problem = context.ProblemDetails;
            problem.Instance ??= context.HttpContext.Request.Path;
            if (!problem.Extensions.ContainsKey("code"))
            {
                var code = CodeFor(problem.Status ?? context.HttpContext.Response.StatusCode);
                problem.Extensions["code"] = code;
                if (problem.Type is null || problem.Type.StartsWith("https://tools.ietf.org/", StringComparison.Ordinal))
                {
                    problem.Type = ProblemTypes.Of(code);
                }
            }

            problem.Extensions.Remove("traceId");
        });
        services.AddExceptionHandler<RegistryExceptionHandler>();
        return services;
    }

    public static WebApplication UseRegistryErrorHandling(this WebApplication app)
    {
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        return app;
    }

    internal static string CodeFor(int status) => status switch
    {
        400 => ProblemCodes.BadRequest,
        401 => ProblemCodes.Unauthorized,
        403 => ProblemCodes.Forbidden,
        404 => ProblemCodes.NotFound,
        405 => ProblemCodes.MethodNotAllowed,
        406 => ProblemCodes.NotAcceptable,
        409 => ProblemCodes.Conflict,
        413 => ProblemCodes.PayloadTooLarge,
        415 => ProblemCodes.UnsupportedMediaType,
        429 => ProblemCodes.TooManyRequests,
        503 => ProblemCodes.Unavailable,
        _ => status >= 500 ? ProblemCodes.InternalError : "error",
    };
}

/// <summary>Maps exceptions to problems; only a genuine bug is a 500, and its details stay in the log.</summary>
internal sealed class RegistryExceptionHandler(IProblemDetailsService problems, ILogger<RegistryExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken cancellationToken)
    {
        if (context.RequestAborted.IsCancellationRequested)
        {
            return true; // the client left; nobody reads an answer
        }

        var (status, title, detail) = exception switch
        {
            BadHttpRequestException bad => (bad.StatusCode, "The request could not be read.", bad.Message),
            JsonException => (400, "The request body is not valid JSON.", (string?)null),
            ChannelClosedException => (503, "The service is shutting down.", "Retry against another instance or in a moment."),
            DbException or TimeoutException => (503, "The store is unavailable.", "Retry in a moment."),
            _ => (500, "An unexpected error occurred.", (string?)null),
        };

        if (status >= 500)
        {
            logger.LogError(exception, "Request {Method} {Path} failed with {Status}", context.Request.Method, context.Request.Path, status);
        }

        context.Response.StatusCode = status;
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            Exception = exception,
            ProblemDetails = new ProblemDetails { Status = status, Title = title, Detail = detail },
        });
    }
}
