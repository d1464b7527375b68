using ConsentRegistry.Api.Auth;
using ConsentRegistry.Api.Hosting;
using Microsoft.Extensions.Options;

namespace ConsentRegistry.Api.Claims;

/// <summary>
/// <c>Registry:WriteBudgets</c>: how many claims (and revocations) and subjects a writer may submit
/// per hour (docs/decisions/0008). Every write draws from its client address's budget (or, with an
/// API key, from the key's) and from its party's, which grows with the party's standing: new,
/// established (first claim at least <see cref="EstablishedAfter"/> ago) or domain-verified.
/// The defaults let an artist register a portfolio of a thousand works in one claim and a
/// platform with a key more than ten million subjects a day, and cap an anonymous flood.
/// </summary>
public sealed class WriteBudgetOptions
{
    public const string Section = "Registry:WriteBudgets";

    /// <summary>False turns off the budgets and the write rate limit (benchmarks of raw intake; never in production).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Claim and revocation requests per second per client address (twice as many in a burst), before any budget is looked at.</summary>
    public int WritesPerSecondPerAddress { get; set; } = 5;

    /// <summary>
    /// Claim and revocation requests per second per API key (twice as many in a burst): above the
    /// key's default budget (20,000 claims an hour, 5.6 a second) and a platform's 10,000-subject
    /// claims, but low enough that one key's tiny writes cannot fill the writer for everyone else.
    /// </summary>
    public int WritesPerSecondPerKey { get; set; } = 20;

    /// <summary>Reads of one claim or of a party's listing per second per client address (a token bucket twice as deep).</summary>
    public int ReadsPerSecondPerAddress { get; set; } = 50;

    /// <summary>
    /// IPv6 clients share a budget per prefix of this length (IPv4 clients per address): in the write
    /// budgets and every per-address rate limit (writes, claim reads, lookups, domain verification).
    /// </summary>
    public int Ipv6PrefixLength { get; set; } = 64;

    public TimeSpan EstablishedAfter { get; set; } = TimeSpan.FromDays(1);

    public BudgetSetting Address { get; set; } = new() { ClaimsPerHour = 120, SubjectsPerHour = 30_000 };

    public BudgetSetting NewParty { get; set; } = new() { ClaimsPerHour = 60, SubjectsPerHour = 20_000 };

    public BudgetSetting EstablishedParty { get; set; } = new() { ClaimsPerHour = 600, SubjectsPerHour = 200_000 };

    public BudgetSetting VerifiedParty { get; set; } = new() { ClaimsPerHour = 6_000, SubjectsPerHour = 2_000_000 };

    /// <summary>Any key an admin gave no budget of its own: 600,000 subjects an hour is 14.4 million a day.</summary>
    public BudgetSetting ApiKey { get; set; } = new() { ClaimsPerHour = 20_000, SubjectsPerHour = 600_000 };

    public sealed class BudgetSetting
    {
        public long ClaimsPerHour { get; set; }

        public long SubjectsPerHour { get; set; }

        public WriteBudget ToBudget() => new(ClaimsPerHour, SubjectsPerHour);
    }
}

internal sealed class WriteBudgetOptionsValidator : IValidateOptions<WriteBudgetOptions>
{
    public ValidateOptionsResult Validate(string? name, WriteBudgetOptions options)
    {
        var failures = new List<string>();
        foreach (var (setting, budget) in new[]
        {
            ("Address", options.Address), ("NewParty", options.NewParty), ("EstablishedParty", options.EstablishedParty),
            ("VerifiedParty", options.VerifiedParty), ("ApiKey", options.ApiKey),
        })
        {
            if (budget.ClaimsPerHour < 1 || budget.SubjectsPerHour < Core.Claims.ClaimPayloadValidator.MaxSubjects)
            {
                failures.Add($"{WriteBudgetOptions.Section}:{setting} allows {budget.ClaimsPerHour} claims and {budget.SubjectsPerHour} subjects an hour; "
                    + $"use at least 1 claim and {Core.Claims.ClaimPayloadValidator.MaxSubjects} subjects (one claim's most), or the largest claim could never be written.");
            }
        }

        if (options.ReadsPerSecondPerAddress < 1 || options.WritesPerSecondPerAddress < 1 || options.WritesPerSecondPerKey < 1)
        {
            failures.Add($"{WriteBudgetOptions.Section}:ReadsPerSecondPerAddress, WritesPerSecondPerAddress and WritesPerSecondPerKey must be 1 or more.");
        }

        if (options.Ipv6PrefixLength is < 1 or > 128)
        {
            failures.Add($"{WriteBudgetOptions.Section}:Ipv6PrefixLength is {options.Ipv6PrefixLength}; use 1 to 128 (64: one subscriber's block).");
        }

        if (options.EstablishedAfter < TimeSpan.Zero)
        {
            failures.Add($"{WriteBudgetOptions.Section}:EstablishedAfter must not be negative.");
        }

        return failures.Result();
    }
}
