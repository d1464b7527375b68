using ConsentRegistry.Api.Hosting;
using Microsoft.Extensions.Options;

namespace ConsentRegistry.Api.Verification;

/// <summary><c>Registry:Verification</c>: domain verification's guards, re-checks and limits (docs/domain-verification.md).</summary>
public sealed class VerificationOptions
{
    public const string Section = "Registry:Verification";

    public bool AllowInsecureHttp { get; set; }

    public bool AllowPrivateAddresses { get; set; }

    /// <summary>How often each verified host's file is fetched again.</summary>
    public TimeSpan RecheckInterval { get; set; } = TimeSpan.FromHours(24);

    /// <summary>Verification requests per minute for one client address: each makes the registry fetch from the internet.</summary>
    public int RequestsPerMinutePerAddress { get; set; } = 10;

    /// <summary>Verified hosts one party may hold: each is re-checked, and anyone can ask to verify any party on any host that lists its key.</summary>
    public int MaxHostsPerParty { get; set; } = 100;

    /// <summary>
    /// Fetches of hosts' files this instance makes at once, verifications and re-checks together: the
    /// per-address limit bounds one client, this bounds all of them (sockets, memory, and the
    /// registry's use as a fetcher of whatever hosts its callers name).
    /// </summary>
    public int MaxConcurrentFetches { get; set; } = 16;
}

internal sealed class VerificationOptionsValidator : IValidateOptions<VerificationOptions>
{
    public ValidateOptionsResult Validate(string? name, VerificationOptions options)
    {
        var failures = new List<string>();
        if (options.RecheckInterval < TimeSpan.FromMinutes(1) || options.RecheckInterval > TimeSpan.FromDays(30))
        {
            failures.Add($"Registry:Verification:RecheckInterval is {options.RecheckInterval}; use 00:01:00 to 30.00:00:00 (d.hh:mm:ss), e.g. 1.00:00:00 for daily.");
        }

        if (options.RequestsPerMinutePerAddress < 1)
        {
            failures.Add("Registry:Verification:RequestsPerMinutePerAddress must be 1 or more.");
        }

        if (options.MaxHostsPerParty is < 1 or > 10_000)
        {
            failures.Add($"Registry:Verification:MaxHostsPerParty is {options.MaxHostsPerParty}; use 1 to 10000 (default 100).");
        }

        if (options.MaxConcurrentFetches is < 1 or > 1024)
        {
            failures.Add($"Registry:Verification:MaxConcurrentFetches is {options.MaxConcurrentFetches}; use 1 to 1024 (default 16).");
        }

        return failures.Result();
    }
}
