using System.Diagnostics;

namespace ConsentRegistry.Api.Tests.Infrastructure;

/// <summary>
/// Checks a promise of the form "within a second, every replica sees the change": every probe
/// sent once the bound has passed must see it, whatever probes sent before then answered and
/// however long they took. A probe sent in time that a loaded machine answers late says nothing
/// about the promise, so the time an answer arrives is not what is measured: when it was asked is.
/// </summary>
public static class WithinBound
{
    /// <summary>Probes every 20 ms from now until three probes were sent after <paramref name="bound"/>; fails listing every probe unless each of those saw the change.</summary>
    public static async Task SeenAsync(Func<Task<(bool Seen, string Answer)>> probe, TimeSpan bound, string what)
    {
        var clock = Stopwatch.StartNew();
        var probes = new List<(TimeSpan Sent, TimeSpan Took, bool Seen, string Answer)>();
        while (probes.Count(p => p.Sent >= bound) < 3)
        {
            var sent = clock.Elapsed;
            var (seen, answer) = await probe();
            probes.Add((sent, clock.Elapsed - sent, seen, answer));
            await Task.Delay(20);
        }

        var late = probes.Where(p => p.Sent >= bound && !p.Seen).ToList();
        Assert.True(late.Count == 0,
            $"{what}: {late.Count} probe(s) sent {bound.TotalMilliseconds:N0} ms or more after the change did not see it. Probes (sent, took, answer): "
            + string.Join("; ", probes.Select(p => $"{p.Sent.TotalMilliseconds:N0} ms +{p.Took.TotalMilliseconds:N0} ms {p.Answer}")));
    }
}
