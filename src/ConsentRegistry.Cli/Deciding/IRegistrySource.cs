using ConsentRegistry.Core.Matching;

namespace ConsentRegistry.Cli.Deciding;

/// <summary>
/// What decides rows: a registry over HTTP (<see cref="RegistrySource"/>) or an index snapshot
/// loaded in this process (<see cref="SnapshotSource"/>). Both answer the same per-category
/// decision for the same keys, so a builder can switch between them and get the same output.
/// </summary>
public interface IRegistrySource : IAsyncDisposable
{
    /// <summary>What the decisions came from, for the summary a builder files as evidence.</summary>
    SourceDescription Description { get; }

    /// <summary>
    /// Decides <paramref name="keys"/>[i] into <paramref name="verdicts"/>[i], using every core or
    /// many requests in flight. Without <paramref name="listClaims"/> only the decisions are wanted:
    /// a verdict's claims and kinds of match may be left out (a snapshot then decides a URL without
    /// listing its matches).
    /// </summary>
    Task DecideAsync(ReadOnlyMemory<LookupKey> keys, Memory<Verdict> verdicts, bool listClaims, CancellationToken cancellationToken);

    /// <summary>
    /// Throws, saying what to change, unless vectors of <paramref name="model"/> can be compared
    /// here: the registry takes that model (its lookups refuse others), or the snapshot's claims
    /// carry vectors of it or of no model at all. Called once before images are embedded.
    /// </summary>
    Task CheckEmbeddingModelAsync(ImageVector probe, CancellationToken cancellationToken);
}

/// <summary>
/// An image's embedding: the id of the model that made it, the unit vector, and the cosine
/// similarity a claimed vector must reach (null: the source's default, the registry's
/// <c>Registry:Matching:EmbeddingMinSimilarity</c> or <see cref="EmbeddingQuery.DefaultMinSimilarity"/>
/// for a snapshot).
/// </summary>
public sealed record ImageVector(string Model, float[] Vector, float? MinSimilarity = null);

/// <summary>
/// One row's keys: its URL, and for downloaded images their SHA-256 (hex), PDQ hash (hex) and
/// embedding. <paramref name="PdqMaxDistance"/> is the PDQ match radius in bits (null: the source's
/// default, the registry's Registry:Matching:PdqMaxDistance or 31 for a snapshot).
/// </summary>
public readonly record struct LookupKey(
    ReadOnlyMemory<char> Url, string? Sha256 = null, string? Pdq = null, int? PdqMaxDistance = null, ImageVector? Embedding = null);

/// <summary>
/// The registry's answer for one row: the decision per category, the ids of the matched claims
/// (space-separated; null when none matched), or why the row's keys could not be looked up
/// (then every category is unknown and the row is kept), and the kinds of key the claims matched
/// by (<c>url</c>, <c>sha256</c>, <c>pdq</c>…, space-separated), so that a builder can tell an
/// exact copy from a near-duplicate.
/// </summary>
public readonly record struct Verdict(Decision Decision, string? Claims = null, string? Error = null, string? MatchedBy = null);

/// <summary>A registry (its URL) or a snapshot (its id), and the log seq the decisions reflect.</summary>
public sealed record SourceDescription(string Kind, string? Registry, string? SnapshotId, long Seq, DateTimeOffset? SnapshotCreated = null)
{
    public override string ToString() => Kind == "snapshot" ? $"snapshot {SnapshotId} (seq {Seq})" : $"registry {Registry} (seq {Seq} at start)";
}
