using ConsentRegistry.Api.Hosting;
using Microsoft.Extensions.Options;

namespace ConsentRegistry.Api.Auth;

/// <summary><c>Registry:Auth</c>: the bootstrap admin key, the Entra ID admin role, the limit on API keys not yet found valid.</summary>
public sealed class AuthOptions
{
    public const string Section = "Registry:Auth";

    /// <summary>A bootstrap admin API key; it can create further keys.</summary>
    public string? AdminKey { get; set; }

    /// <summary>The Entra ID app role that grants admin rights to bearer tokens.</summary>
    public string AdminRole { get; set; } = "Registry.Admin";

    /// <summary>API keys not yet found valid that one client address may send a minute (then 429 for such keys); see <see cref="UnknownKeyLimiter"/>.</summary>
    public int UnknownKeysPerMinutePerAddress { get; set; } = 60;
}

internal sealed class AuthOptionsValidator : IValidateOptions<AuthOptions>
{
    public ValidateOptionsResult Validate(string? name, AuthOptions options)
    {
        var failures = new List<string>();
        if (options.AdminKey is { Length: > 0 and < 16 })
        {
            failures.Add("Registry:Auth:AdminKey is shorter than 16 characters; use a long random value (e.g. `openssl rand -base64 32`).");
        }

        if (string.IsNullOrWhiteSpace(options.AdminRole))
        {
            failures.Add("Registry:Auth:AdminRole is empty; leave it unset for 'Registry.Admin' or name the Entra ID app role that grants admin rights.");
        }

        if (options.UnknownKeysPerMinutePerAddress is < 1 or > 60_000)
        {
            failures.Add($"Registry:Auth:UnknownKeysPerMinutePerAddress is {options.UnknownKeysPerMinutePerAddress}; use 1 to 60,000.");
        }

        return failures.Result();
    }
}
