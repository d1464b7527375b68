namespace ConsentRegistry.Core.Claims;

/// <summary>
/// Why a claim or revocation was refused. <see cref="Code"/> is stable (clients branch on it);
/// <see cref="Errors"/> names every failing field, keyed by its JSON path.
/// </summary>
public sealed record ClaimError(string Code, string Title, IReadOnlyDictionary<string, string[]> Errors)
{
    public static ClaimError Field(string code, string title, string field, string message) =>
        new(code, title, new Dictionary<string, string[]> { [field] = [message] });
}

public static class ClaimErrorCodes
{
    public const string MalformedJws = "malformed-jws";
    public const string UnsupportedAlgorithm = "unsupported-algorithm";
    public const string InvalidHeader = "invalid-jws-header";
    public const string BadSignature = "bad-signature";
    public const string InvalidPayload = "invalid-payload";
}
