using ConsentRegistry.Core.Embeddings;
using FluentValidation;

namespace ConsentRegistry.Core.Claims;

/// <summary>
/// Validates a claim payload and, on the way, canonicalizes its subjects: each is parsed once,
/// and the canonical forms are left in <see cref="CanonicalSubjectsKey"/> of the root context data.
/// </summary>
public sealed class ClaimPayloadValidator : AbstractValidator<ClaimPayload>
{
    public const string CanonicalSubjectsKey = "canonical-subjects";

    private readonly EmbeddingModels _models;
    public const int MaxSubjects = 10_000;
    public const int MaxTitleLength = 300;
    public const int MaxLicenseLength = 2048;
    public const int MaxContactLength = 512;

    /// <summary>Field errors reported for subjects before the rest are summed up in one line.</summary>
    public const int MaxSubjectErrors = 100;

    public ClaimPayloadValidator(TimeProvider time, EmbeddingModels? embeddingModels = null)
    {
        _models = embeddingModels ?? EmbeddingModels.None;
        RuleLevelCascadeMode = CascadeMode.Stop;
        RuleFor(p => p.V).NotNull().WithMessage("v (the format version, 1) is required.").Equal(1).WithMessage("v must be 1.").OverridePropertyName("v");
        RuleFor(p => p.Iat).MustBeIssuedAtTime(time).OverridePropertyName("iat");

        RuleFor(p => p.Subjects)
            .NotNull().WithMessage("subjects is required.")
            .Must(s => s!.Count is >= 1 and <= MaxSubjects)
            .WithMessage($"A claim has 1 to {MaxSubjects} subjects.")
            .OverridePropertyName("subjects");
        RuleFor(p => p.Subjects).Custom(CanonicalizeSubjects).When(p => p.Subjects is { Count: >= 1 and <= MaxSubjects });

        RuleFor(p => p.Usage)
            .NotEmpty().WithMessage("usage must set at least one category to 'y' or 'n'.")
            .Must(u => u!.Count <= UseCategories.All.Count).WithMessage($"usage has at most {UseCategories.All.Count} categories: {string.Join(", ", UseCategories.All)}.")
            .OverridePropertyName("usage");
        RuleFor(p => p.Usage).Custom(CheckUsage).When(p => p.Usage is { Count: > 0 } u && u.Count <= UseCategories.All.Count);

        RuleFor(p => p.Title)
            .MaximumLength(MaxTitleLength).WithMessage($"title is at most {MaxTitleLength} characters.")
            .Must(t => !ContainsControlCharacters(t)).WithMessage("title must not contain control characters.")
            .OverridePropertyName("title");
        RuleFor(p => p.Terms!.License)
            .MaximumLength(MaxLicenseLength).WithMessage($"license is at most {MaxLicenseLength} characters.")
            .Must(BeAbsoluteWebUrl).WithMessage("license must be an absolute http or https URL.")
            .When(p => p.Terms?.License is not null)
            .OverridePropertyName("terms.license");
        RuleFor(p => p.Terms!.Contact)
            .MaximumLength(MaxContactLength).WithMessage($"contact is at most {MaxContactLength} characters.")
            .Must(BeContact).WithMessage("contact must be a mailto: address or an http or https URL.")
            .When(p => p.Terms?.Contact is not null)
            .OverridePropertyName("terms.contact");
    }

    private void CanonicalizeSubjects(List<SubjectInput?>? inputs, ValidationContext<ClaimPayload> context)
    {
        var subjects = new List<Subject>(inputs!.Count);
        var failures = 0;
        void Fail(string field, string message)
        {
            if (++failures <= MaxSubjectErrors)
            {
                context.AddFailure(field, message);
            }
        }

        for (var i = 0; i < inputs.Count; i++)
        {
            var input = inputs[i];
            if (input is null)
            {
                Fail($"subjects[{i}]", "A subject must be an object with kind and value.");
                continue;
            }

            if (Subject.TryCreate(input.Kind, input.Value, input.IncludeSubdomains, input.Model, _models, out var subject, out var field, out var error))
            {
                subjects.Add(subject!);
            }
            else
            {
                Fail($"subjects[{i}].{field}", error!);
            }
        }

        if (failures > MaxSubjectErrors)
        {
            context.AddFailure("subjects", $"{failures - MaxSubjectErrors} more subjects are not valid (the first {MaxSubjectErrors} are listed).");
        }

        context.RootContextData[CanonicalSubjectsKey] = subjects;
    }

    private static void CheckUsage(Dictionary<string, string?>? usage, ValidationContext<ClaimPayload> context)
    {
        foreach (var (category, value) in usage!)
        {
            if (UseCategories.IndexOf(category) < 0)
            {
                context.AddFailure($"usage.{Printable(category)}", $"Unknown category; use {string.Join(", ", UseCategories.All)}.");
            }
            else if (!UseCategories.TryParsePreference(value, out _))
            {
                context.AddFailure($"usage.{category}", "A category is set to 'y' or 'n'.");
            }
        }
    }

    private static string Printable(string value)
    {
        var shortened = value.Length <= 40 ? value : value[..40];
        return ContainsControlCharacters(shortened) ? "(invalid name)" : shortened;
    }

    internal static bool ContainsControlCharacters(string? value) =>
        value is not null && value.AsSpan().IndexOfAnyInRange('\0', '\u001f') >= 0 || (value?.Contains('\u007f') ?? false);

    private static bool BeAbsoluteWebUrl(string? value) =>
        Uri.TryCreate(value, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttps || uri.Scheme == Uri.UriSchemeHttp)
        && !ContainsControlCharacters(value);

    private static bool BeContact(string? value) =>
        BeAbsoluteWebUrl(value)
        || value is not null && value.StartsWith("mailto:", StringComparison.OrdinalIgnoreCase) && value.Length > 7
           && value.Contains('@') && !ContainsControlCharacters(value) && !value.Contains(' ');
}

/// <summary>Validates a revocation payload against the claim it names.</summary>
public sealed class RevocationPayloadValidator : AbstractValidator<RevocationPayload>
{
    public RevocationPayloadValidator(TimeProvider time)
    {
        RuleLevelCascadeMode = CascadeMode.Stop; // one message a member, as for claims
        RuleFor(p => p.V).NotNull().WithMessage("v (the format version, 1) is required.").Equal(1).WithMessage("v must be 1.").OverridePropertyName("v");
        RuleFor(p => p.Iat).MustBeIssuedAtTime(time).OverridePropertyName("iat");
        RuleFor(p => p.Revokes)
            .NotNull().WithMessage("revokes (the claim id) is required.")
            .Must(ClaimId.IsWellFormed).WithMessage("revokes must be a claim id: 64 lowercase hexadecimal digits.")
            .OverridePropertyName("revokes");
    }
}

internal static class IssuedAtRules
{
    /// <summary>How far a signer's clock may run ahead of ours.</summary>
    public static readonly TimeSpan MaxClockSkew = TimeSpan.FromMinutes(5);

    /// <summary>2020-01-01T00:00:00Z: an earlier iat is implausible (a clock at zero, milliseconds misread, …).</summary>
    public const long Earliest = 1_577_836_800;

    public static IRuleBuilderOptions<T, long?> MustBeIssuedAtTime<T>(this IRuleBuilder<T, long?> rule, TimeProvider time) =>
        rule.NotNull().WithMessage("iat (issued-at, seconds since 1970) is required.")
            .GreaterThanOrEqualTo(Earliest).WithMessage("iat is before 2020-01-01T00:00:00Z, earlier than any claim this registry takes; check the signer's clock.")
            .Must(iat => iat <= time.GetUtcNow().Add(MaxClockSkew).ToUnixTimeSeconds())
            .WithMessage("iat is more than 5 minutes in the future; check the signer's clock.");
}
