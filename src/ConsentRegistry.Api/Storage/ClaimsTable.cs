using ConsentRegistry.Core.Claims;

namespace ConsentRegistry.Api.Storage;

/// <summary>
/// The <c>claims</c> table, said once: its columns in insert order, the row record, and the
/// column lists the readers select. Both engines' bulk inserts write <see cref="Values"/> in
/// <see cref="Columns"/> order.
/// </summary>
internal static class ClaimsTable
{
    public static readonly string[] Columns =
    [
        "seq", "id", "content_hash", "party", "alg", "iat", "tdm", "train_ai", "train_genai", "ai_use", "search",
        "title", "license", "contact", "trust", "subject_count", "subjects", "jws", "received_at",
    ];

    public static readonly string ColumnList = string.Join(", ", Columns);

    /// <summary>Every column but content_hash, plus revoked_seq: a claim as the API shows it.</summary>
    public const string Select = """
        seq, id, party, alg, iat, tdm, train_ai, train_genai, ai_use, search, title, license, contact,
        trust, subject_count, subjects, jws, received_at, revoked_seq
        """;

    /// <summary>As <see cref="Select"/> without the JWS (lists and the index never show it; it is most of a row).</summary>
    public const string SelectWithoutJws = """
        seq, id, party, alg, iat, tdm, train_ai, train_genai, ai_use, search, title, license, contact,
        trust, subject_count, subjects, '' AS jws, received_at, revoked_seq
        """;

    /// <summary>As <see cref="SelectWithoutJws"/> without the subjects either (a 10,000-subject claim's are megabytes).</summary>
    public const string SelectSummary = """
        seq, id, party, alg, iat, tdm, train_ai, train_genai, ai_use, search, title, license, contact,
        trust, subject_count, '' AS subjects, '' AS jws, received_at, revoked_seq
        """;

    /// <summary>A row's values in <see cref="Columns"/> order, typed as both engines' columns are.</summary>
    public static object?[] Values(ClaimRow c) =>
    [
        c.Seq, c.Id, c.ContentHash, c.Party, c.Alg, c.Iat, c.Tdm, c.TrainAi, c.TrainGenai, c.AiUse, c.Search,
        c.Title, c.License, c.Contact, c.Trust.ToWire(), (int)c.SubjectCount, c.Subjects, c.Jws, c.ReceivedAt,
    ];

    public static ClaimRow ToRow(VerifiedClaim claim, long seq, long receivedAt) => new()
    {
        Seq = seq,
        Id = claim.Id,
        ContentHash = claim.ContentHash,
        Party = claim.Party,
        Alg = claim.Algorithm,
        Iat = claim.Iat,
        Tdm = UseCategories.ToWire(claim.Usage.Tdm),
        TrainAi = UseCategories.ToWire(claim.Usage.TrainAi),
        TrainGenai = UseCategories.ToWire(claim.Usage.TrainGenAi),
        AiUse = UseCategories.ToWire(claim.Usage.AiUse),
        Search = UseCategories.ToWire(claim.Usage.Search),
        Title = claim.Title,
        License = claim.License,
        Contact = claim.Contact,
        Trust = TrustLevel.Signed,
        SubjectCount = claim.Subjects.Count,
        Subjects = StoredSubjects.Encode(claim.Subjects),
        Jws = claim.Jws,
        ReceivedAt = receivedAt,
    };
}

// Rows as the store holds them. Integers are long and flags are 0/1 so that SQLite and
// PostgreSQL map to the same records; trust maps through TrustLevelTypeHandler.

public sealed record ClaimRow
{
    public long Seq { get; init; }
    public required string Id { get; init; }
    public string ContentHash { get; init; } = "";
    public required string Party { get; init; }
    public required string Alg { get; init; }
    public long Iat { get; init; }
    public string? Tdm { get; init; }
    public string? TrainAi { get; init; }
    public string? TrainGenai { get; init; }
    public string? AiUse { get; init; }
    public string? Search { get; init; }
    public string? Title { get; init; }
    public string? License { get; init; }
    public string? Contact { get; init; }
    public TrustLevel Trust { get; init; }
    public long SubjectCount { get; init; }
    public required string Subjects { get; init; }
    public required string Jws { get; init; }
    public long ReceivedAt { get; init; }
    public long? RevokedSeq { get; init; }

    public Usage Usage => new(Parse(Tdm), Parse(TrainAi), Parse(TrainGenai), Parse(AiUse), Parse(Search));

    private static Preference Parse(string? value) => UseCategories.TryParsePreference(value, out var p) ? p : Preference.Unset;
}

public sealed record RevocationRow
{
    public long Seq { get; init; }
    public required string Id { get; init; }
    public required string ClaimId { get; init; }
    public required string Party { get; init; }
    public long Iat { get; init; }
    public required string Jws { get; init; }
    public long ReceivedAt { get; init; }
}
