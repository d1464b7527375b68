using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace ConsentRegistry.Api.Errors;

/// <summary>Problem results with the registry's stable <c>type</c> and <c>code</c>.</summary>
public static class Problems
{
    /// <summary>A problem; with <paramref name="field"/>, <c>errors</c> names the field as validation problems do.</summary>
    public static ProblemHttpResult Create(int status, string code, string detail, string? field = null, string? title = null)
    {
        var problem = new ProblemDetails
        {
            Status = status,
            Type = ProblemTypes.Of(code),
            Title = title ?? Microsoft.AspNetCore.WebUtilities.ReasonPhrases.GetReasonPhrase(status),
            Detail = detail,
        };
        problem.Extensions["code"] = code;
        if (field is not null)
        {
            problem.Extensions["errors"] = new Dictionary<string, string[]> { [field] = [detail] };
        }

        return TypedResults.Problem(problem);
    }

    /// <summary>400: the path's claim id is not 64 lowercase hex digits.</summary>
    public static ProblemHttpResult InvalidClaimId() =>
        Create(StatusCodes.Status400BadRequest, ProblemCodes.InvalidClaimId, "A claim id is 64 lowercase hexadecimal digits.", field: "id");

    /// <summary>404: no claim has this id.</summary>
    public static ProblemHttpResult ClaimNotFound(string id) =>
        Create(StatusCodes.Status404NotFound, ProblemCodes.ClaimNotFound, $"No claim has id {id}.");

    /// <summary>The title of a validation problem that names none of its own.</summary>
    public const string ValidationTitle = "The request has fields that are not valid.";

    /// <summary>
    /// 400 with every failing field, as FluentValidation reports them, in the registry's words: a
    /// <c>detail</c> that is the one message when there is one (so a client that shows only the
    /// detail shows what to fix) or names the first five fields, and <see cref="ValidationTitle"/> unless the
    /// caller has a title of its own (the framework's default title is not this service's words).
    /// </summary>
    public static ValidationProblem Validation(IDictionary<string, string[]> errors, string code, string? title = null)
    {
        var messages = errors.SelectMany(error => error.Value).ToList();
        var named = string.Join(", ", errors.Keys.Take(5)) + (errors.Count > 5 ? $" and {errors.Count - 5} more" : "");
        var detail = messages.Count switch
        {
            0 => title ?? ValidationTitle,
            1 => messages[0],
            _ => $"{messages.Count} problems, with {named}: see errors.",
        };
        return TypedResults.ValidationProblem(errors, detail: detail, title: title ?? ValidationTitle, type: ProblemTypes.Of(code),
            extensions: new Dictionary<string, object?> { ["code"] = code });
    }
}
