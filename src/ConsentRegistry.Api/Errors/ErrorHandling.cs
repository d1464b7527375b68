using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using System.Threading.Channels;
using ConsentRegistry.Api.Images;
using ConsentRegistry.Api.Storage;
using ConsentRegistry.Core.Embeddings;
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
        412 => ProblemCodes.PreconditionFailed,
        413 => ProblemCodes.PayloadTooLarge,
        414 => ProblemCodes.UriTooLong,
        415 => ProblemCodes.UnsupportedMediaType,
        416 => ProblemCodes.RangeNotSatisfiable,
        429 => ProblemCodes.TooManyRequests,
        431 => ProblemCodes.HeadersTooLarge,
        503 => ProblemCodes.Unavailable,
        _ => status >= 500 ? ProblemCodes.InternalError : "error",
    };
}

/// <summary>
/// Maps exceptions to problems; only a genuine bug is a 500, and its details stay in the log under
/// the correlation id the answer carries. A store that is busy or out of reach is a 503 to retry.
/// </summary>
internal sealed partial class RegistryExceptionHandler(IProblemDetailsService problems, ILogger<RegistryExceptionHandler> logger) : IExceptionHandler
{
    private const string RetryAfterSeconds = "1";

    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken cancellationToken)
    {
        if (context.RequestAborted.IsCancellationRequested)
        {
            return true; // the client left; nobody reads an answer
        }

        if (exception is BadHttpRequestException { InnerException: JsonException json })
        {
            // A JSON body the framework could not bind: said in the service's words, naming the member.
            return await problems.TryWriteAsync(new ProblemDetailsContext { HttpContext = context, Exception = exception, ProblemDetails = BodyProblem(context, json) });
        }

        if (exception is BadHttpRequestException { StatusCode: StatusCodes.Status400BadRequest } unbound && UnboundParameter().Match(unbound.Message) is { Success: true } parameter)
        {
            return await problems.TryWriteAsync(new ProblemDetailsContext
            {
                HttpContext = context, Exception = exception,
                ProblemDetails = ParameterProblem(context, parameter.Groups["name"].Value, parameter.Groups["type"].Value),
            });
        }

        var storeUnavailable = TransientStoreErrors.IsTransient(exception);
        var (status, title, detail) = exception switch
        {
            BadHttpRequestException bad => (bad.StatusCode, "The request could not be read.", Describe(bad.StatusCode)),
            JsonException => (400, "The request body is not valid JSON.", (string?)null),
            ChannelClosedException => (503, "The service is shutting down.", "Retry against another instance or in a moment."),
            EmbeddingModelUnavailableException => (503, "The embedding model is not available.", "Retry later; GET /health/ready says why."),
            _ when storeUnavailable => (503, "The store is unavailable.", "Retry in a moment."),
            _ => (500, "An unexpected error occurred.", (string?)null),
        };

        var problem = new ProblemDetails { Status = status, Title = title, Detail = detail };
        if (storeUnavailable)
        {
            problem.Extensions["code"] = ProblemCodes.StoreUnavailable;
            problem.Type = ProblemTypes.Of(ProblemCodes.StoreUnavailable);
            context.Response.Headers.RetryAfter = RetryAfterSeconds;
        }

        if (exception is EmbeddingModelUnavailableException)
        {
            context.Response.Headers.RetryAfter = ((int)ImageEmbeddings.RetryLoadAfter.TotalSeconds).ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        if (status >= 500)
        {
            // The id in the answer finds this line in the log; the answer itself tells nothing of the failure.
            var correlationId = Activity.Current?.Id ?? context.TraceIdentifier;
            problem.Extensions["correlation_id"] = correlationId;
            if (exception is EmbeddingModelUnavailableException unavailable)
            {
                // Every image while the model is down: one line each, without the load's stack (logged when it failed).
                logger.LogWarning("Request {Method} {Path} answered {Status}: {Reason} (correlation id {CorrelationId})",
                    context.Request.Method, context.Request.Path, status, unavailable.Message, correlationId);
            }
            else
            {
                logger.Log(storeUnavailable ? LogLevel.Warning : LogLevel.Error, exception,
                    "Request {Method} {Path} failed with {Status} (correlation id {CorrelationId})", context.Request.Method, context.Request.Path, status, correlationId);
            }
        }

        context.Response.StatusCode = status;
        return await problems.TryWriteAsync(new ProblemDetailsContext { HttpContext = context, Exception = exception, ProblemDetails = problem });
    }

    /// <summary>
    /// The framework's words when a query, route or header value does not convert to its parameter's
    /// type (stable since ASP.NET Core 6): <c>Failed to bind parameter "Nullable&lt;int&gt; limit" from "abc".</c>
    /// </summary>
    [GeneratedRegex("""^Failed to bind parameter "(?<type>[^"]+) (?<name>[A-Za-z_][A-Za-z0-9_]*)" from ".*"\.$""", RegexOptions.Singleline)]
    private static partial Regex UnboundParameter();

    /// <summary>400 naming the parameter whose value did not convert, in the service's words.</summary>
    private static ProblemDetails ParameterProblem(HttpContext context, string name, string type)
    {
        var inQuery = context.Request.Query.ContainsKey(name);
        var code = inQuery ? ProblemCodes.InvalidQuery : ProblemCodes.InvalidPath;
        // The framework writes an optional parameter's type as Nullable<int>.
        var valueType = type.StartsWith("Nullable<", StringComparison.Ordinal) && type.EndsWith('>') ? type["Nullable<".Length..^1] : type.TrimEnd('?');
        var expected = valueType switch
        {
            "int" or "long" or "short" or "Int32" or "Int64" => "a whole number (within range)",
            "double" or "float" or "decimal" => "a number",
            "bool" or "Boolean" => "true or false",
            _ => "a value of the documented form (see /swagger)",
        };
        var detail = $"{name} is {expected}.";
        var problem = new ProblemDetails
        {
            Status = StatusCodes.Status400BadRequest,
            Title = inQuery ? "A query parameter is not valid." : "A parameter is not valid.",
            Detail = detail,
            Type = ProblemTypes.Of(code),
        };
        problem.Extensions["code"] = code;
        problem.Extensions["errors"] = new Dictionary<string, string[]> { [name] = [detail] };
        context.Response.StatusCode = StatusCodes.Status400BadRequest;
        return problem;
    }

    /// <summary>What a request the server could not read gets, in the service's words rather than the framework's.</summary>
    private static string Describe(int status) => status switch
    {
        StatusCodes.Status413PayloadTooLarge => "The body is larger than this endpoint takes (see /swagger for its limits).",
        StatusCodes.Status415UnsupportedMediaType => "This endpoint does not take a body of this media type (see /swagger).",
        StatusCodes.Status408RequestTimeout => "The request body did not arrive in time.",
        _ => "The request is malformed: a parameter, a header or the body could not be read (see /swagger).",
    };

    private static ProblemDetails BodyProblem(HttpContext context, JsonException json)
    {
        // The serializer wraps a syntax error's reader exception; a value of the wrong type has none (or a non-JSON one).
        var syntax = json.InnerException is JsonException;
        var field = json.Path is { Length: > 2 } path && path.StartsWith("$.", StringComparison.Ordinal) ? path[2..] : null;
        var detail = syntax || field is null
            ? $"The request body is not valid JSON (line {json.LineNumber + 1}, byte {json.BytePositionInLine + 1} of that line)."
            : $"{field} has the wrong type (see the endpoint's schema at /swagger).";
        var problem = new ProblemDetails
        {
            Status = StatusCodes.Status400BadRequest,
            Title = "The request body could not be read.",
            Detail = detail,
            Type = ProblemTypes.Of(ProblemCodes.InvalidBody),
        };
        problem.Extensions["code"] = ProblemCodes.InvalidBody;
        problem.Extensions["errors"] = new Dictionary<string, string[]> { [syntax || field is null ? "body" : field] = [detail] };
        context.Response.StatusCode = StatusCodes.Status400BadRequest;
        return problem;
    }
}
