using ConsentRegistry.Api.Fingerprints;

namespace ConsentRegistry.Api.Tests.Fingerprints;

/// <summary>
/// The per-host gate's memory: a host kept for its pause is forgotten once the pause has passed;
/// and its keys: each spelling of one host is gated as one.
/// </summary>
public sealed class HostGateTests
{
    [Theory]
    [InlineData("https://victim.example/a.jpg", "victim.example")]
    [InlineData("https://Victim.EXAMPLE./a.jpg", "victim.example")]
    [InlineData("https://bücher.example/a.jpg", "xn--bcher-kva.example")]
    [InlineData("https://XN--BCHER-KVA.example./a.jpg", "xn--bcher-kva.example")]
    [InlineData("http://[0:0::1]:8080/a.jpg", "[::1]")]
    [InlineData("http://127.0.0.1:8080/a.jpg", "127.0.0.1")]
    public void A_host_is_gated_under_its_canonical_form_as_claimed_urls_write_it(string url, string key) =>
        Assert.Equal(key, HostGate.KeyOf(new Uri(url)));

    [Fact]
    public async Task Hosts_whose_pauses_have_passed_are_forgotten_as_new_pauses_come()
    {
        var clock = new ManualClock();
        var gate = new HostGate(perHost: 2, clock, longestPause: TimeSpan.FromHours(1), pauseWithoutRetryAfter: TimeSpan.FromMinutes(1));
        for (var i = 0; i < 300; i++)
        {
            await PauseAfterAFetchAsync(gate, $"host{i}.example");
        }

        // Each asked for a pause while nobody waits on it any more: kept until the pause passes.
        Assert.True(gate.TrackedHosts >= 256, $"{gate.TrackedHosts} hosts tracked");
        clock.Advance(TimeSpan.FromMinutes(2));

        for (var i = 0; i < 300; i++)
        {
            await PauseAfterAFetchAsync(gate, $"later{i}.example");
        }

        // The first 300 pauses have passed and were swept out; at most the later ones are left.
        Assert.True(gate.TrackedHosts <= 300, $"{gate.TrackedHosts} hosts tracked");
        var (slot, pausedUntil) = await gate.EnterAsync("later0.example", CancellationToken.None);
        Assert.Null(slot); // a pause that has not passed is kept
        Assert.NotNull(pausedUntil);
    }

    /// <summary>A fetch from the host that was answered 429 with a minute's Retry-After.</summary>
    private static async Task PauseAfterAFetchAsync(HostGate gate, string host)
    {
        var (slot, _) = await gate.EnterAsync(host, CancellationToken.None);
        Assert.NotNull(slot);
        gate.Pause(host, TimeSpan.FromMinutes(1));
        slot.Dispose();
    }

    private sealed class ManualClock : TimeProvider
    {
        private DateTimeOffset _now = new(2026, 12, 6, 12, 0, 0, TimeSpan.Zero);

        public override DateTimeOffset GetUtcNow() => _now;

        public void Advance(TimeSpan by) => _now += by;
    }
}
