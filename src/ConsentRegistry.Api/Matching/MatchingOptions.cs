using ConsentRegistry.Api.Hosting;
using ConsentRegistry.Core.Claims;
using Microsoft.Extensions.Options;

namespace ConsentRegistry.Api.Matching;

/// <summary><c>Registry:Matching</c>: how close a perceptual hash, or an embedding, must be to match.</summary>
public sealed class MatchingOptions
{
    public const string Section = "Registry:Matching";

    public int PdqMaxDistance { get; set; } = 31;

    /// <summary>
    /// The cosine similarity at or above which a lookup's embedding matches a claimed one, unless
    /// the item sets <c>min_similarity</c>. High by default: with the bundled model, lower
    /// thresholds match unrelated images too often (docs/benchmarks.md, near-duplicates).
    /// </summary>
    public double EmbeddingMinSimilarity { get; set; } = 0.98;
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
    public ValidateOptionsResult Validate(string? name, MatchingOptions options)
    {
        var failures = new List<string>();
        if (options.PdqMaxDistance is < 0 or > 63)
        {
            failures.Add($"Registry:Matching:PdqMaxDistance is {options.PdqMaxDistance}; use 0 to 63.");
        }

        if (!(options.EmbeddingMinSimilarity is >= 0.5 and <= 1))
        {
            failures.Add($"Registry:Matching:EmbeddingMinSimilarity is {options.EmbeddingMinSimilarity}; use 0.5 to 1.");
        }

        return failures.Result();
    }
}

internal sealed class TrustOptionsValidator : IValidateOptions<TrustOptions>
{
    public ValidateOptionsResult Validate(string? name, TrustOptions options) =>
        TrustLevel.TryParse(options.MinTrustForGrants, out _)
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail($"Registry:Trust:MinTrustForGrants is '{options.MinTrustForGrants}'; use signed, domain or reviewed.");
}
