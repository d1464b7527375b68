namespace ConsentRegistry.Api.Errors;

/// <summary>
/// The catalogue of problem codes (RFC 9457 <c>code</c>, and <c>type</c> = <see cref="ProblemTypes.Prefix"/> + code) that
/// the API answers, besides the claim codes of <see cref="Core.Claims.ClaimErrorCodes"/> and the domain verification
/// outcomes of <see cref="Verification.VerificationCodes"/>. Clients branch on these: never rename one.
/// </summary>
public static class ProblemCodes
{
    // Generic, from the status code alone (ErrorHandling fills them in)
    public const string BadRequest = "bad-request";
    public const string Unauthorized = "unauthorized";
    public const string Forbidden = "forbidden";
    public const string NotFound = "not-found";
    public const string MethodNotAllowed = "method-not-allowed";
    public const string NotAcceptable = "not-acceptable";
    public const string Conflict = "conflict";

    /// <summary>412: an If-Match or If-Unmodified-Since precondition does not hold for the resource.</summary>
    public const string PreconditionFailed = "precondition-failed";
    public const string PayloadTooLarge = "payload-too-large";

    /// <summary>414: the request's path and query are longer than the registry reads.</summary>
    public const string UriTooLong = "uri-too-long";

    /// <summary>431: the request's headers are larger than the registry reads.</summary>
    public const string HeadersTooLarge = "headers-too-large";
    public const string UnsupportedMediaType = "unsupported-media-type";

    /// <summary>416: a Range that asks for no byte of the file; <c>Content-Range: bytes */length</c> says its length.</summary>
    public const string RangeNotSatisfiable = "range-not-satisfiable";
    public const string TooManyRequests = "too-many-requests";

    /// <summary>503: a host's crawler document is being rendered for the first time (Retry-After).</summary>
    public const string PolicyRendering = "policy-rendering";

    /// <summary>429: a write budget (client address, API key or party) is spent; the problem names it in <c>budget</c>.</summary>
    public const string WriteBudgetExceeded = "write-budget-exceeded";
    public const string Unavailable = "unavailable";
    public const string InternalError = "internal-error";

    // The store: transient failures (retry), never the error's own text
    public const string StoreUnavailable = "store-unavailable";

    // Requests
    public const string ValidationFailed = "validation-failed";
    public const string MissingBody = "missing-body";
    public const string InvalidBody = "invalid-body";
    public const string InvalidQuery = "invalid-query";

    /// <summary>A stream item's image searches found no room beside its client's other waiting requests; send it again later.</summary>
    public const string TooManySearches = "too-many-searches";
    public const string InvalidPath = "invalid-path";
    public const string InvalidForm = "invalid-form";
    public const string Busy = "busy";
    public const string IndexBuilding = "index-building";

    // Claims
    public const string InvalidClaimId = "invalid-claim-id";
    public const string ClaimNotFound = "claim-not-found";
    public const string NotClaimOwner = "not-claim-owner";
    public const string AlreadyRevoked = "already-revoked";

    // Operators
    public const string InvalidKeyId = "invalid-key-id";
    public const string ApiKeyNotFound = "api-key-not-found";
    public const string BootstrapKeyNotRevocable = "bootstrap-key-not-revocable";
    public const string DomainVerificationNotFound = "domain-verification-not-found";

    // Lookup and policy
    public const string InvalidBatch = "invalid-batch";
    public const string InvalidUrl = "invalid-url";
    public const string InvalidHost = "invalid-host";

    // Images
    public const string InvalidMode = "invalid-mode";
    public const string MissingFile = "missing-file";
    public const string EmptyFile = "empty-file";
    public const string ImageTooLarge = "image-too-large";
    public const string TooManyPixels = "too-many-pixels";
    public const string ImplausibleDimensions = "implausible-dimensions";
    public const string TruncatedImage = "truncated-image";
    public const string CorruptImage = "corrupt-image";
    public const string UnsupportedImageFormat = "unsupported-image-format";

    // Snapshots
    public const string SnapshotNotFound = "snapshot-not-found";
}
