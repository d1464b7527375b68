using ConsentRegistry.Api.Hosting;
using ConsentRegistry.Core.Claims;
using Microsoft.Extensions.Options;

namespace ConsentRegistry.Api.Matching;

/// <summary><c>Registry:Matching</c>: how close a perceptual hash must be to match.</summary>
public sealed class MatchingOptions
{
    public const string Section = "Registry:Matching";

    public int PdqMaxDistance { get; set; } = 31;
}

/// <summary><c>Registry:Trust</c>: the lowest trust at which a consent counts (opt-outs count at every level).</summary>
public sealed class TrustOptions
{
    public const string Section = "Registry:Trust";

    public string MinTrustForGrants { get; set; } = "domain";

    /// <summary>The parsed level; the validator has refused anything else at start-up.</summary>
    public TrustLevel MinTrust => TrustLevel.Parse(MinTrustForGrants);
}

internal sealed class MatchingOptionsValidator : IValidateOptions<MatchingOptions>
{
    public ValidateOptionsResult Validate(string? name, MatchingOptions options) =>
        options.PdqMaxDistance is < 0 or > 63
            ? ValidateOptionsResult.Fail($"Registry:Matching:PdqMaxDistance is {options.PdqMaxDistance}; use 0 to 63.")
            : ValidateOptionsResult.Success;
}

internal sealed class TrustOptionsValidator : IValidateOptions<TrustOptions>
{
    public ValidateOptionsResult Validate(string? name, TrustOptions options) =>
        TrustLevel.TryParse(options.MinTrustForGrants, out _)
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail($"Registry:Trust:MinTrustForGrants is '{options.MinTrustForGrants}'; use signed, domain or reviewed.");
}
