using ConsentRegistry.Api.Claims;
using ConsentRegistry.Api.Matching;
using ConsentRegistry.Api.Tests.Fingerprints;
using ConsentRegistry.Api.Tests.Infrastructure;
using ConsentRegistry.Core.Claims;
using ConsentRegistry.Core.Matching;
using Microsoft.Extensions.DependencyInjection;

namespace ConsentRegistry.Api.Tests.Matching;

/// <summary>
/// A pass over the log applies claims first and their revocations and trust changes last. An own
/// commit applied in between would be overwritten by the pass's older trust changes, so it waits
/// for the next pass; and the index reports no seq whose entries it has not all applied.
/// </summary>
public sealed class IndexLogPassTests
{
    [Fact]
    public async Task An_own_commit_is_not_applied_while_a_pass_over_the_log_is_half_applied()
    {
        await using var app = await RegistryApp.StartAsync();
        using var client = app.CreateClient();
        using var artist = new TestSigner();
        var claim = await client.ClaimAsync(artist.OptOut("https://log-pass.example/a.jpg"));
        var index = app.Services.GetRequiredService<SharedMatchingIndex>();
        var updater = app.Services.GetRequiredService<IndexUpdater>();
        // The claim's answer does not wait for the index to apply it (lookups wait for their own writes).
        await Eventually.HoldsAsync(() => index.AppliedSeq >= 1, "the claim applied to the index");
        var seq = index.AppliedSeq;

        index.Write(i => i.BeginLogPass());
        try
        {
            var raised = new LogEntry.TrustChange(claim, TrustLevel.Reviewed, "test");
            updater.OnCommitted(new CommittedBatch(seq + 1, seq + 1, [new CommittedEntry(seq + 1, raised)]));

            Assert.Equal(seq, index.AppliedSeq);
            using var read = index.Read();
            Assert.True(read.Index.TryFindClaim(claim, out var entry));
            Assert.Equal(TrustLevel.Signed, read.Index.Claim(entry).Trust);
        }
        finally
        {
            index.Write(i => i.EndLogPass(seq));
        }
    }

    [Fact]
    public async Task A_pass_does_not_apply_again_a_trust_change_the_index_has_gone_past_since_the_pass_began()
    {
        await using var app = await RegistryApp.StartAsync();
        using var client = app.CreateClient();
        using var artist = new TestSigner();
        var claim = await client.ClaimAsync(artist.OptOut("https://log-pass.example/b.jpg"));
        var claimSeq = app.Services.GetRequiredService<SharedMatchingIndex>().AppliedSeq;
        using var admin = app.CreateAdminClient();
        Assert.Equal(System.Net.HttpStatusCode.OK, (await admin.PostAsync($"/v1/admin/claims/{claim}/review", null)).StatusCode); // raised to reviewed at claimSeq + 1

        // An index at the claim, which applies an own commit lowering it (past the store's last
        // seq) just before the pass over claimSeq + 1 begins, as an own commit may.
        var index = new MatchingIndex();
        index.Add(new IndexedClaim(claim, claimSeq, artist.Party, 1, default, TrustLevel.Signed, false, [new Subject(SubjectKinds.Url, "https://log-pass.example/b.jpg")]));
        var first = true;
        await app.Services.GetRequiredService<ConsentRegistry.Api.Storage.LogReader>().ApplyAsync(claimSeq, apply =>
        {
            if (first)
            {
                first = false;
                index.SetTrust(claim, TrustLevel.Signed, claimSeq + 2);
            }

            apply(index);
        }, default);

        Assert.True(index.TryFindClaim(claim, out var entry));
        Assert.Equal(TrustLevel.Signed, index.Claim(entry).Trust); // the pass's older "reviewed" is not applied over it
        Assert.Equal(claimSeq + 2, index.AppliedSeq);
    }
}
