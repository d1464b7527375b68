using ConsentRegistry.Api.Storage;
using ConsentRegistry.Api.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace ConsentRegistry.Api.Tests.Fingerprints;

/// <summary>The queue of aligned verifications itself, with no worker taking from it: proposals, results and leases.</summary>
public sealed class NearDuplicateCheckStoreTests : IAsyncLifetime
{
    private RegistryApp _app = null!;
    private NearDuplicateCheckStore _store = null!;
    private RegistryDatabase _database = null!;
    private string _a = "", _b = "";

    public async Task InitializeAsync()
    {
        _app = await RegistryApp.StartAsync(new Dictionary<string, string?> { ["Registry:Worker:Enabled"] = "false" });
        _store = _app.Services.GetRequiredService<NearDuplicateCheckStore>();
        _database = _app.Services.GetRequiredService<RegistryDatabase>();
        using var client = _app.CreateClient();
        using var artist = new TestSigner();
        using var other = new TestSigner();
        var first = await client.ClaimAsync(artist.OptOut("https://a.example/picture.jpg"));
        var second = await client.ClaimAsync(other.OptOut("https://b.example/picture.jpg"));
        (_a, _b) = string.CompareOrdinal(first, second) < 0 ? (first, second) : (second, first);
    }

    public async Task DisposeAsync() => await _app.DisposeAsync();

    [Fact]
    public async Task A_check_proposed_again_while_it_runs_records_nothing_and_is_due_again_for_the_new_pictures()
    {
        await ProposeAsync(foundSeq: 10);
        var taken = Assert.Single(await _store.TakeAsync("worker-1", 4, TimeSpan.FromMinutes(2), default));

        await ProposeAsync(foundSeq: 11); // one of the pictures changed while the check ran
        Assert.False(await _store.CompleteAsync("worker-1", taken, alignedDistance: 3, foundAt: 0, default));

        Assert.Equal(0, await _app.Database.CountAsync("SELECT COUNT(*) FROM near_duplicate_pairs"));
        var again = Assert.Single(await _store.TakeAsync("worker-2", 4, TimeSpan.FromMinutes(2), default));
        Assert.Equal(11, again.FoundSeq);
        Assert.True(await _store.CompleteAsync("worker-2", again, alignedDistance: 3, foundAt: 0, default));
        Assert.Equal(1, await _app.Database.CountAsync("SELECT COUNT(*) FROM near_duplicate_pairs WHERE match_kind = 'aligned' AND distance = 3"));
    }

    [Fact]
    public async Task A_done_check_proposed_again_by_an_older_or_the_same_set_stays_done_and_a_recorded_pair_is_not_checked()
    {
        await ProposeAsync(foundSeq: 10);
        var taken = Assert.Single(await _store.TakeAsync("worker-1", 4, TimeSpan.FromMinutes(2), default));
        Assert.True(await _store.CompleteAsync("worker-1", taken, alignedDistance: null, foundAt: 0, default));

        await ProposeAsync(foundSeq: 10);
        Assert.Empty(await _store.TakeAsync("worker-1", 4, TimeSpan.FromMinutes(2), default));

        await _app.Database.ExecuteAsync("""
            INSERT INTO near_duplicate_pairs (claim_a, claim_b, match_kind, distance, similarity, conflict, found_seq, found_at)
            VALUES (@a, @b, 'pdq', 4, NULL, 0, 12, 0)
            """, new { a = _a, b = _b });
        Assert.Equal(0, await ProposeAsync(foundSeq: 13, urlB: "https://b.example/other.jpg"));
    }

    [Fact]
    public async Task A_check_is_taken_by_one_worker_at_a_time_and_by_another_once_its_lease_passes()
    {
        await ProposeAsync(foundSeq: 10);
        Assert.Single(await _store.TakeAsync("worker-1", 4, TimeSpan.FromMinutes(1), default));
        Assert.Empty(await _store.TakeAsync("worker-2", 4, TimeSpan.FromMinutes(2), default));

        // The lease passes (moved two minutes back rather than waited out: a short lease would pass early on a
        // slow test host, before the take above).
        await _app.Database.ExecuteAsync("UPDATE near_duplicate_checks SET lease_until = lease_until - 120000 WHERE lease_owner = 'worker-1'");
        var takenOver = Assert.Single(await _store.TakeAsync("worker-2", 4, TimeSpan.FromMinutes(2), default));
        Assert.Equal(2, takenOver.Attempts);
        Assert.Equal(1, await _app.Database.CountAsync(
            "SELECT COUNT(*) FROM near_duplicate_checks WHERE lease_owner = 'worker-2' AND error = @interrupted", new { interrupted = NearDuplicateCheckStore.InterruptedError }));
        Assert.False(await _store.CompleteAsync("worker-1", takenOver, alignedDistance: 3, foundAt: 0, default));
        Assert.Equal(0, await _app.Database.CountAsync("SELECT COUNT(*) FROM near_duplicate_pairs"));
    }

    private async Task<int> ProposeAsync(long foundSeq, string urlB = "https://b.example/picture.jpg")
    {
        await using var connection = await _database.OpenConnectionAsync(default);
        await using var transaction = await _database.BeginWriteAsync(connection, default);
        var written = await _store.InsertAsync(connection, transaction, [new CheckRow
        {
            ClaimA = _a, UrlA = "https://a.example/picture.jpg", ClaimB = _b, UrlB = urlB, Similarity = 0.9, FoundSeq = foundSeq,
        }], default);
        await transaction.CommitAsync();
        return written;
    }
}
