using System.Threading.RateLimiting;
using ConsentRegistry.Api.Hosting;
using ConsentRegistry.Api.Observability;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;

namespace ConsentRegistry.Api.Claims;

/// <summary>
/// Reads of single claims and of party listings per second per client address (IPv6 per
/// <see cref="WriteBudgetOptions.Ipv6PrefixLength"/>):
/// each is a store read, and bulk questions belong on the lookup endpoints.
/// </summary>
internal sealed class ClaimReadRateLimitPolicy(IOptions<WriteBudgetOptions> options, RegistryMetrics metrics) : IRateLimiterPolicy<string>
{
    public const string Name = "claim-reads";

    // A policy's own OnRejected replaces RateLimiterOptions.OnRejected, so it counts the rejection itself.
    public Func<OnRejectedContext, CancellationToken, ValueTask>? OnRejected { get; } = (rejected, _) =>
    {
        metrics.RateLimitRejected(Name);
        return RateLimitRejections.WriteAsync(rejected, 1,
            seconds => $"Too many claim reads from this address; retry after {seconds} s. To decide many URLs or hashes, use POST /v1/lookup.");
    };

    public RateLimitPartition<string> GetPartition(HttpContext httpContext) =>
        RateLimitRejections.PerSecond(
            ClientAddress.PartitionKey(httpContext.Connection.RemoteIpAddress, options.Value.Ipv6PrefixLength), options.Value.ReadsPerSecondPerAddress);
}

/// <summary>
/// Claim and revocation requests per second per writer (API key, else client address with IPv6 per
/// <see cref="WriteBudgetOptions.Ipv6PrefixLength"/>), ahead of the write budgets: a request refused here is refused before its body is read,
/// and the connection closes. The first refusals in a second get a clean close (Kestrel reads the rest of the body,
/// so the client surely reads its 429); a writer that keeps sending before its Retry-After has
/// passed gets its answer a second later and is cut off after it without its body being read,
/// which keeps a flood of large claims cheap (<see cref="RefusedRequestBodies"/>).
/// </summary>
internal sealed class ClaimWriteRateLimitPolicy(IOptions<WriteBudgetOptions> options, RegistryMetrics metrics) : IRateLimiterPolicy<string>
{
    public const string Name = "claim-writes";

    /// <summary>How long the answer to a writer past its clean refusals waits.</summary>
    public static readonly TimeSpan FloodAnswerDelay = TimeSpan.FromSeconds(1);

    /// <summary>Clean refusals per writer: one a second, two at once.</summary>
    private readonly PartitionedRateLimiter<string> _cleanRefusals = PartitionedRateLimiter.Create<string, string>(
        writer => RateLimitRejections.PerSecond(writer, 1));

    public Func<OnRejectedContext, CancellationToken, ValueTask>? OnRejected => async (rejected, cancellationToken) =>
    {
        metrics.RateLimitRejected(Name);
        using var clean = _cleanRefusals.AttemptAcquire(WriterOf(rejected.HttpContext, options.Value));
        if (clean.IsAcquired)
        {
            rejected.HttpContext.Response.Headers.Connection = "close";
        }
        else
        {
            // A writer sending again before its Retry-After: its answer waits (a timer, no work
            // here), so a client that sends as fast as it is answered slows to the limit itself.
            await Task.Delay(FloodAnswerDelay, cancellationToken);
            RefusedRequestBodies.CloseWithoutReading(rejected.HttpContext);
        }

        await RateLimitRejections.WriteAsync(rejected, 1,
            seconds => $"Too many claim writes from this client; retry after {seconds} s. Put many subjects in one claim (up to 10,000).");
    };

    public RateLimitPartition<string> GetPartition(HttpContext httpContext)
    {
        var budgets = options.Value;
        if (!budgets.Enabled)
        {
            return RateLimitPartition.GetNoLimiter("off"); // Registry:WriteBudgets:Enabled=false turns every write limit off
        }

        var writer = WriterOf(httpContext, budgets);
        return RateLimitRejections.PerSecond(writer, writer.StartsWith("key:", StringComparison.Ordinal) ? budgets.WritesPerSecondPerKey : budgets.WritesPerSecondPerAddress);
    }

    private static string WriterOf(HttpContext httpContext, WriteBudgetOptions budgets) =>
        WriteBudgets.WriterKey(httpContext, budgets.Ipv6PrefixLength);
}

internal static class ClaimRateLimits
{
    public static IServiceCollection AddClaimRateLimits(this IServiceCollection services)
    {
        services.AddRateLimiter(_ => { });
        services.AddOptions<RateLimiterOptions>().Configure(limiter =>
        {
            limiter.AddPolicy<string, ClaimReadRateLimitPolicy>(ClaimReadRateLimitPolicy.Name);
            limiter.AddPolicy<string, ClaimWriteRateLimitPolicy>(ClaimWriteRateLimitPolicy.Name);
        });
        return services;
    }
}
