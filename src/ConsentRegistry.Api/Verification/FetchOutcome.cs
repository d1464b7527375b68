namespace ConsentRegistry.Api.Verification;

/// <summary>The stable <c>code</c>s of a failed verification (DESIGN.md 5.6); clients branch on them.</summary>
public static class VerificationCodes
{
    public const string KeyNotListed = "key-not-listed";
    public const string FetchFailed = "fetch-failed";
    public const string Timeout = "timeout";
    public const string TooLarge = "too-large";
    public const string InvalidDocument = "invalid-document";
    public const string InsecureScheme = "insecure-scheme";
    public const string AddressRefused = "address-refused";
    public const string RedirectRefused = "redirect-refused";

    /// <summary>Not a fetch failure: the party already holds Registry:Verification:MaxHostsPerParty verified hosts.</summary>
    public const string TooManyHosts = "too-many-hosts";

    /// <summary>Not a fetch failure: this instance is making Registry:Verification:MaxConcurrentFetches fetches already (503, Retry-After).</summary>
    public const string Busy = "verification-busy";
}

/// <summary>
/// What fetching a host's well-known document gave: its keys, or a failure <see cref="Code"/>
/// with a <see cref="Detail"/> an artist can act on. <see cref="HttpStatus"/> is set when the
/// host answered with a status other than 200.
/// </summary>
internal sealed record FetchOutcome(IReadOnlyList<string>? Keys, string? Code, string Detail, int? HttpStatus = null)
{
    public bool Succeeded => Keys is not null;

    /// <summary>The host answered that the document does not exist: not a passing network fault.</summary>
    public bool DocumentGone => HttpStatus is 404 or 410;

    public static FetchOutcome Fetched(IReadOnlyList<string> keys) => new(keys, null, "fetched");

    public static FetchOutcome Failed(string code, string detail, int? httpStatus = null) => new(null, code, detail, httpStatus);
}
