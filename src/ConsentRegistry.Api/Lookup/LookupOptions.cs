using ConsentRegistry.Api.Hosting;
using Microsoft.Extensions.Options;

namespace ConsentRegistry.Api.Lookup;

/// <summary><c>Registry:Lookup</c>: who may look up, how much at once, and how often.</summary>
public sealed class LookupOptions
{
    public const string Section = "Registry:Lookup";

    public bool AllowAnonymous { get; set; } = true;

    public int MaxBatch { get; set; } = 10_000;

    /// <summary>Lookup requests per second for one API key (a bulk request counts once).</summary>
    public int RequestsPerSecondPerKey { get; set; } = 200;

    /// <summary>Lookup requests per second for one client address without a key.</summary>
    public int RequestsPerSecondPerAddress { get; set; } = 50;

    /// <summary>
    /// PDQ hashes and embedding vectors of lookup items one API key may have searched a second (a search
    /// wider than the default, a PDQ radius above it or a similarity below it, counts 16); a request short of them waits (<see cref="ImageSearchPacing"/>).
    /// </summary>
    public int ImageSearchesPerSecondPerKey { get; set; } = 5_000;

    /// <summary>The same for one client address without a key.</summary>
    public int ImageSearchesPerSecondPerAddress { get; set; } = 500;

    /// <summary>
    /// How long a stream waits for its client's next complete line (bytes that end no line do not
    /// count); past it the stream ends, every complete line answered. It takes the place of the server's minimum body rate, which would cut a client
    /// that sends a line, waits for its answer and pauses.
    /// </summary>
    public TimeSpan StreamIdleTimeout { get; set; } = TimeSpan.FromMinutes(2);
}

internal sealed class LookupOptionsValidator : IValidateOptions<LookupOptions>
{
    public ValidateOptionsResult Validate(string? name, LookupOptions options)
    {
        var failures = new List<string>();
        if (options.MaxBatch is < 1 or > 100_000)
        {
            failures.Add($"Registry:Lookup:MaxBatch is {options.MaxBatch}; use 1 to 100000.");
        }

        if (options.RequestsPerSecondPerKey < 1 || options.RequestsPerSecondPerAddress < 1)
        {
            failures.Add("Registry:Lookup:RequestsPerSecondPerKey and RequestsPerSecondPerAddress must be 1 or more.");
        }

        if (options.ImageSearchesPerSecondPerKey < 1 || options.ImageSearchesPerSecondPerAddress < 1)
        {
            failures.Add("Registry:Lookup:ImageSearchesPerSecondPerKey and ImageSearchesPerSecondPerAddress must be 1 or more.");
        }

        if (options.StreamIdleTimeout < TimeSpan.FromSeconds(1) || options.StreamIdleTimeout > TimeSpan.FromHours(1))
        {
            failures.Add($"Registry:Lookup:StreamIdleTimeout is {options.StreamIdleTimeout}; use 00:00:01 to 01:00:00.");
        }

        return failures.Result();
    }
}
