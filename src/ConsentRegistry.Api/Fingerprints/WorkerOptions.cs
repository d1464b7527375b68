using ConsentRegistry.Api.Hosting;
using Microsoft.Extensions.Options;

namespace ConsentRegistry.Api.Fingerprints;

/// <summary>
/// <c>Registry:Worker</c>: the fingerprint worker (DESIGN.md 5.7), which fetches the image behind
/// every claimed URL and derives its SHA-256, PDQ and embeddings. It runs inside the API process
/// while <see cref="Enabled"/> (the default, so one command runs the whole registry on SQLite); a
/// PostgreSQL deployment turns it off there and runs any number of worker processes instead.
/// </summary>
public sealed class WorkerOptions
{
    public const string Section = "Registry:Worker";

    public bool Enabled { get; set; } = true;

    /// <summary>Jobs fetched and fingerprinted at once by one worker.</summary>
    public int Concurrency { get; set; } = 8;

    /// <summary>
    /// How long a taken job stays this worker's without word from it: the worker renews the leases of
    /// the jobs it holds every quarter of this while they run, however long they wait for their host's
    /// slot or fetch, and a job whose worker died is taken over once its lease passes. Should a job
    /// be taken over all the same (the store unreachable for a lease), its first result is dropped,
    /// never written twice.
    /// </summary>
    public TimeSpan Lease { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>The wait before the first retry of a failed fetch; each later retry waits four times longer.</summary>
    public TimeSpan RetryBackoff { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Tries of a job before its failure is final (until the next re-fetch).</summary>
    public int MaxAttempts { get; set; } = 5;

    /// <summary>When a fetched (or finally failed) URL is fetched again: pictures change, and dead links come back.</summary>
    public TimeSpan RefetchAfter { get; set; } = TimeSpan.FromDays(30);

    /// <summary>
    /// The longest a host's <c>Retry-After</c> holds back its jobs (never past <see cref="RefetchAfter"/>):
    /// a larger one, up to decades or an HTTP-date in year 9999, is cut to this.
    /// </summary>
    public TimeSpan MaxRetryAfter { get; set; } = TimeSpan.FromHours(1);

    /// <summary>How often an idle worker looks for new claims and due jobs.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Whether a failed try of <paramref name="attempts"/> (this one counted) is final, and when it is tried again: a
    /// transient failure with backoff four times longer each time (at least the host's <paramref name="retryAfter"/>),
    /// up to <see cref="MaxAttempts"/>; a final failure after <see cref="RefetchAfter"/>, its tries counted afresh then.
    /// </summary>
    public (bool Final, TimeSpan Wait) Retry(int attempts, bool transient, TimeSpan? retryAfter)
    {
        var final = !transient || attempts >= MaxAttempts;
        if (final)
        {
            return (true, RefetchAfter);
        }

        var backoff = TimeSpan.FromTicks(Math.Min(RefetchAfter.Ticks, RetryBackoff.Ticks * (1L << (2 * Math.Clamp(attempts - 1, 0, 10)))));
        return (false, retryAfter > backoff ? retryAfter.Value : backoff);
    }
}

internal sealed class WorkerOptionsValidator : IValidateOptions<WorkerOptions>
{
    public ValidateOptionsResult Validate(string? name, WorkerOptions options)
    {
        var failures = new List<string>();
        if (options.Concurrency is < 1 or > 256)
        {
            failures.Add($"Registry:Worker:Concurrency is {options.Concurrency}; use 1 to 256 (default 8).");
        }

        if (options.Lease < TimeSpan.FromSeconds(5))
        {
            failures.Add($"Registry:Worker:Lease is {options.Lease}; use at least 00:00:05 (default 00:02:00).");
        }

        if (options.RetryBackoff <= TimeSpan.Zero || options.RetryBackoff > TimeSpan.FromDays(1))
        {
            failures.Add($"Registry:Worker:RetryBackoff is {options.RetryBackoff}; use more than zero and at most 1.00:00:00.");
        }

        if (options.MaxAttempts is < 1 or > 20)
        {
            failures.Add($"Registry:Worker:MaxAttempts is {options.MaxAttempts}; use 1 to 20 (default 5).");
        }

        if (options.RefetchAfter < TimeSpan.FromMinutes(1))
        {
            failures.Add($"Registry:Worker:RefetchAfter is {options.RefetchAfter}; use at least 00:01:00 (default 30.00:00:00).");
        }

        if (options.MaxRetryAfter < TimeSpan.FromSeconds(1) || options.MaxRetryAfter > TimeSpan.FromDays(1))
        {
            failures.Add($"Registry:Worker:MaxRetryAfter is {options.MaxRetryAfter}; use 00:00:01 to 1.00:00:00 (default 01:00:00).");
        }

        if (options.PollInterval < TimeSpan.FromMilliseconds(50) || options.PollInterval > TimeSpan.FromMinutes(5))
        {
            failures.Add($"Registry:Worker:PollInterval is {options.PollInterval}; use 00:00:00.05 to 00:05:00.");
        }

        return failures.Result();
    }
}

/// <summary>
/// <c>Registry:Fetch</c>: how the worker fetches claimed images, guarded like domain verification
/// (DESIGN.md 7): public addresses only and https only unless these say otherwise (tests serve
/// images on loopback), every redirect re-checked, bounded in time and size.
/// </summary>
public sealed class FetchOptions
{
    public const string Section = "Registry:Fetch";

    public bool AllowPrivateAddresses { get; set; }

    public bool AllowInsecureHttp { get; set; }

    /// <summary>
    /// The ports fetches may go to: the web's. Claimed URLs are anyone's choice, and a fetch's error
    /// is public (<c>GET /v1/claims/{id}/fingerprints</c>): any port would make the worker a port
    /// prober of public hosts. Unset: <see cref="DefaultPorts"/>; set (<c>AllowedPorts:0</c>, <c>:1</c> …),
    /// it replaces them (a default in the property itself would be kept beside what is configured).
    /// </summary>
    public int[]? AllowedPorts { get; set; }

    public static readonly int[] DefaultPorts = [80, 443, 8080, 8443];

    /// <summary>Any port: for development and tests, whose image servers listen on ports of the moment.</summary>
    public bool AllowAnyPort { get; set; }

    /// <summary>The ports fetches may go to: <see cref="AllowedPorts"/>, or <see cref="DefaultPorts"/>.</summary>
    public int[] EffectivePorts => AllowedPorts is { Length: > 0 } ports ? ports : DefaultPorts;

    /// <summary>Whether a fetch may connect to <paramref name="port"/>.</summary>
    public bool AllowsPort(int port) => AllowAnyPort || EffectivePorts.Contains(port);

    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);

    public int MaxBytes { get; set; } = 20 * 1024 * 1024;

    /// <summary>Requests in flight to one host at once, per worker.</summary>
    public int PerHostConcurrency { get; set; } = 2;

    /// <summary>
    /// A page about this registry's fetcher, named in its User-Agent so that site owners can find who
    /// fetches and why (empty: <see cref="FallbackOperatorUrl"/>, and a warning at start).
    /// </summary>
    public string? OperatorUrl { get; set; }

    /// <summary>
    /// Named in the User-Agent while <see cref="OperatorUrl"/> is not set, so that it keeps the form
    /// the fetcher promises (<c>ConsentRegistry-Fetcher/&lt;version&gt; (+&lt;url&gt;)</c>) and one
    /// command still starts the registry. The service knows no public address of its own and the
    /// project has no public page to name, so it is a reserved name that never resolves (RFC 2606)
    /// rather than a page someone else may own.
    /// </summary>
    public const string FallbackOperatorUrl = "https://consent-registry.invalid/";

    /// <summary>The operator page the User-Agent names: <see cref="OperatorUrl"/>, or <see cref="FallbackOperatorUrl"/>.</summary>
    public string EffectiveOperatorUrl => OperatorUrl is { Length: > 0 } url ? url : FallbackOperatorUrl;
}

internal sealed class FetchOptionsValidator : IValidateOptions<FetchOptions>
{
    public ValidateOptionsResult Validate(string? name, FetchOptions options)
    {
        var failures = new List<string>();
        if (options.Timeout < TimeSpan.FromSeconds(1) || options.Timeout > TimeSpan.FromMinutes(1))
        {
            failures.Add($"Registry:Fetch:Timeout is {options.Timeout}; use 00:00:01 to 00:01:00 (default 00:00:10).");
        }

        if (options.MaxBytes is < 1024 or > 50 * 1024 * 1024)
        {
            failures.Add($"Registry:Fetch:MaxBytes is {options.MaxBytes}; use 1024 to 52428800 (default 20 MiB).");
        }

        if (options.EffectivePorts.Any(port => port is < 1 or > 65535))
        {
            failures.Add("Registry:Fetch:AllowedPorts holds a port outside 1 to 65535 (default 80, 443, 8080, 8443).");
        }

        if (options.PerHostConcurrency is < 1 or > 16)
        {
            failures.Add($"Registry:Fetch:PerHostConcurrency is {options.PerHostConcurrency}; use 1 to 16 (default 2).");
        }

        if (options.OperatorUrl is { Length: > 0 } url && (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("https" or "http") || url.Any(char.IsWhiteSpace)))
        {
            failures.Add("Registry:Fetch:OperatorUrl must be an absolute http(s) URL without spaces (it goes into the fetcher's User-Agent).");
        }

        return failures.Result();
    }
}
