using ConsentRegistry.Api.Hosting;
using ConsentRegistry.Core.Claims;
using ConsentRegistry.Core.Matching;
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
    public double EmbeddingMinSimilarity { get; set; } = EmbeddingQuery.DefaultMinSimilarity;

    /// <summary>
    /// The cosine similarity at or above which the embeddings of two claimed images (derived by the worker from
    /// their URLs) propose an aligned verification: the worker fetches both and lays one over the other to see
    /// whether it is a copy (DESIGN.md 5.7). Lower finds more copies and fetches more pictures that are not.
    /// </summary>
    public double AlignedCandidateSimilarity { get; set; } = 0.75;

    /// <summary>Aligned verifications one image proposes at most, the most alike first; 0 turns aligned verification off.</summary>
    public int AlignedCandidates { get; set; } = 4;

    /// <summary><c>Registry:Matching:VectorIndex</c>: when embeddings are searched approximately.</summary>
    public VectorIndexOptions VectorIndex { get; set; } = new();
}

/// <summary>
/// The approximate vector index behind embedding lookups. A model's vectors are searched exactly
/// until there are <see cref="MinVectors"/> of them (0 turns the index off); then the index proposes
/// <see cref="Candidates"/> rows per query vector and each is re-checked exactly.
/// </summary>
public sealed class VectorIndexOptions
{
    /// <summary>The default kind: sign codes in multi-index tables (<see cref="SignCodeVectors"/>).</summary>
    public const string SignCodes = "sign-codes";

    /// <summary>USearch's HNSW graph (<see cref="UsearchVectors"/>), tuned by the settings below.</summary>
    public const string Hnsw = "hnsw";

    /// <summary><c>sign-codes</c> (the default; decision record 0018) or <c>hnsw</c>.</summary>
    public string Kind { get; set; } = SignCodes;

    public int MinVectors { get; set; } = 20_000;

    public int Candidates { get; set; } = 16;

    // The settings below are the HNSW graph's (Kind hnsw).

    /// <summary>Neighbours per node in the graph: more is better recall and more memory.</summary>
    public int Connectivity { get; set; } = 16;

    public int ExpansionAdd { get; set; } = 128;

    public int ExpansionSearch { get; set; } = 64;

    /// <summary><c>i8</c> (one byte a dimension) or <c>f32</c>.</summary>
    public string Quantization { get; set; } = "i8";

    /// <summary>
    /// When above 0 and below a model's vector length: the index holds that many coordinates of each
    /// vector turned by a fixed random rotation (<see cref="VectorProjection"/>), less memory and faster
    /// search at a cost in recall (docs/benchmarks.md); otherwise (the default) the vectors as claimed.
    /// </summary>
    public int Dimensions { get; set; }
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

        if (!(options.AlignedCandidateSimilarity is >= 0.5 and <= 1))
        {
            failures.Add($"Registry:Matching:AlignedCandidateSimilarity is {options.AlignedCandidateSimilarity}; use 0.5 to 1.");
        }
        else if (options.AlignedCandidates > 0 && options.AlignedCandidateSimilarity >= options.EmbeddingMinSimilarity)
        {
            failures.Add($"Registry:Matching:AlignedCandidateSimilarity ({options.AlignedCandidateSimilarity}) must be below EmbeddingMinSimilarity ({options.EmbeddingMinSimilarity}): embeddings alike at that threshold are a pair already, and none would be left to verify (AlignedCandidates = 0 turns aligned verification off).");
        }

        if (options.AlignedCandidates is < 0 or > 64)
        {
            failures.Add($"Registry:Matching:AlignedCandidates is {options.AlignedCandidates}; use 0 (off) to 64.");
        }

        var vectors = options.VectorIndex;
        if (vectors.MinVectors < 0)
        {
            failures.Add($"Registry:Matching:VectorIndex:MinVectors is {vectors.MinVectors}; use 0 (off) or more.");
        }

        if (vectors.Kind is not (VectorIndexOptions.SignCodes or VectorIndexOptions.Hnsw))
        {
            failures.Add($"Registry:Matching:VectorIndex:Kind is '{vectors.Kind}'; use {VectorIndexOptions.SignCodes} or {VectorIndexOptions.Hnsw}.");
        }

        if (vectors.Candidates is < 1 or > 1024)
        {
            failures.Add($"Registry:Matching:VectorIndex:Candidates is {vectors.Candidates}; use 1 to 1024.");
        }

        if (vectors.Connectivity is < 2 or > 64)
        {
            failures.Add($"Registry:Matching:VectorIndex:Connectivity is {vectors.Connectivity}; use 2 to 64.");
        }

        if (vectors.ExpansionAdd is < 1 or > 4096 || vectors.ExpansionSearch is < 1 or > 4096)
        {
            failures.Add($"Registry:Matching:VectorIndex:ExpansionAdd and ExpansionSearch are {vectors.ExpansionAdd} and {vectors.ExpansionSearch}; use 1 to 4096.");
        }

        if (vectors.Dimensions is < 0 or > 65_536)
        {
            failures.Add($"Registry:Matching:VectorIndex:Dimensions is {vectors.Dimensions}; use 0 (all of the model's) to 65536.");
        }

        if (vectors.Quantization is not ("i8" or "f32"))
        {
            failures.Add($"Registry:Matching:VectorIndex:Quantization is '{vectors.Quantization}'; use i8 or f32.");
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
