namespace ConsentRegistry.Api.Storage;

/// <summary>The log writer's SQL, the same on both engines.</summary>
internal static class ClaimLogSql
{
    public const string InsertClaim = """
        INSERT INTO claims (seq, id, content_hash, party, alg, iat, tdm, train_ai, train_genai, ai_use, search,
                            title, license, contact, trust, subject_count, subjects, jws, received_at)
        VALUES (@seq, @id, @content_hash, @party, @alg, @iat, @tdm, @train_ai, @train_genai, @ai_use, @search,
                @title, @license, @contact, @trust, @subject_count, @subjects, @jws, @received_at)
        """;

    public static string FindClaims(RegistryDatabase db) =>
        $"SELECT id, content_hash, seq, party, trust, revoked_seq FROM claims WHERE id {db.InList("@ids")} OR content_hash {db.InList("@hashes")}";

    public static string FindRevocations(RegistryDatabase db) =>
        $"SELECT id, seq, claim_id FROM revocations WHERE id {db.InList("@ids")} OR claim_id {db.InList("@claimIds")}";

    public const string InsertRevocation = """
        INSERT INTO revocations (seq, id, claim_id, party, iat, jws, received_at)
        VALUES (@Seq, @Id, @ClaimId, @Party, @Iat, @Jws, @ReceivedAt)
        """;

    public const string MarkRevoked = "UPDATE claims SET revoked_seq = @seq WHERE id = @id";

    public const string InsertTrustChange = """
        INSERT INTO trust_changes (seq, claim_id, trust, reason, changed_at)
        VALUES (@seq, @claimId, @trust, @reason, @changedAt)
        """;

    public const string SetTrust = "UPDATE claims SET trust = @trust WHERE id = @claimId";

    public const string AdvanceSequence = "UPDATE registry_sequence SET last_seq = @last WHERE id = 1";
}

internal sealed record ExistingClaim
{
    public required string Id { get; init; }
    public string? ContentHash { get; init; }
    public long Seq { get; init; }
    public required string Party { get; init; }
    public required string Trust { get; init; }
    public long? RevokedSeq { get; init; }
}

internal sealed record ExistingRevocation
{
    public required string Id { get; init; }
    public long Seq { get; init; }
    public required string ClaimId { get; init; }
}
