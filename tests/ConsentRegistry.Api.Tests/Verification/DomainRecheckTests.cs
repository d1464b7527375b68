using System.Net;
using System.Text.Json.Nodes;
using ConsentRegistry.Api.Claims;
using ConsentRegistry.Api.Matching;
using ConsentRegistry.Api.Storage;
using ConsentRegistry.Api.Tests.Infrastructure;
using ConsentRegistry.Api.Verification;
using ConsentRegistry.Core.Claims;
using Dapper;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace ConsentRegistry.Api.Tests.Verification;

/// <summary>
/// Re-checks. A pass covers every verification in the database, so each test runs a registry of
/// its own and its counts are exact.
/// </summary>
public sealed class DomainRecheckTests
{
    private static readonly JsonObject Consent = new() { ["train-ai"] = "y" };

    [Fact]
    public async Task When_the_key_is_removed_a_recheck_lapses_the_verification_and_lowers_raised_claims_but_not_reviewed_ones()
    {
        await using var registry = await VerificationFixture.StartAsync<LoopbackVerificationFixture>();
        using var artist = new TestSigner();
        registry.Publish("artist-c.test", artist.Party);
        var (raised, _) = await registry.SubmitAsync(artist, Consent.DeepClone().AsObject(), TestSigner.Url("http://artist-c.test/a.jpg"));
        var (reviewed, _) = await registry.SubmitAsync(artist, Consent.DeepClone().AsObject(), TestSigner.Url("http://artist-c.test/b.jpg"));
        using (var admin = registry.App.CreateAdminClient())
        {
            Assert.Equal(HttpStatusCode.OK, (await admin.PostAsync($"/v1/admin/claims/{reviewed}/review", null)).StatusCode);
        }

        Assert.Equal(1, (await (await registry.VerifyAsync(artist.Party, "artist-c.test")).JsonAsync()).GetProperty("claims_raised").GetInt32());
        var (afterVerify, _) = await registry.SubmitAsync(artist, Consent.DeepClone().AsObject(), TestSigner.Url("http://artist-c.test/c.jpg"));
        Assert.Equal("domain", await registry.TrustOfAsync(afterVerify));

        registry.Plain.ServeKeys("artist-c.test", "some-other-key");
        var summary = await registry.RecheckAllAsync();

        Assert.Equal(new RecheckSummary(Due: 1, Checked: 1, StillVerified: 0, Failing: 0, Lapsed: 1, Superseded: 0, ClaimsLowered: 2), summary);
        Assert.Equal("signed", await registry.TrustOfAsync(raised));
        Assert.Equal("signed", await registry.TrustOfAsync(afterVerify));
        Assert.Equal("reviewed", await registry.TrustOfAsync(reviewed));
        Assert.Equal("unknown", await registry.TrainAiDecisionAsync("http://artist-c.test/a.jpg"));
        Assert.Equal("allow", await registry.TrainAiDecisionAsync("http://artist-c.test/b.jpg"));
        var (_, trust) = await registry.SubmitAsync(artist, Consent.DeepClone().AsObject(), TestSigner.Url("http://artist-c.test/d.jpg"));
        Assert.Equal("signed", trust);
        Assert.Contains(registry.App.Logs, line => line.Contains("Domain re-check done", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_passing_outage_does_not_lapse_a_verification_until_it_fails_three_checks_in_a_row()
    {
        await using var registry = await VerificationFixture.StartAsync<LoopbackVerificationFixture>();
        using var artist = new TestSigner();
        registry.Publish("artist-d.test", artist.Party);
        var (claim, _) = await registry.SubmitAsync(artist, Consent.DeepClone().AsObject(), TestSigner.Url("http://artist-d.test/a.jpg"));
        Assert.Equal(HttpStatusCode.OK, (await registry.VerifyAsync(artist.Party, "artist-d.test")).StatusCode);
        registry.Plain.Serve("artist-d.test", context =>
        {
            context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            return Task.CompletedTask;
        });

        var first = await registry.RecheckAllAsync();
        var second = await registry.RecheckAllAsync();
        var trustAfterTwo = await registry.TrustOfAsync(claim);
        var third = await registry.RecheckAllAsync();

        Assert.Equal(new RecheckSummary(Due: 1, Checked: 1, StillVerified: 0, Failing: 1, Lapsed: 0, Superseded: 0, ClaimsLowered: 0), first);
        Assert.Equal(new RecheckSummary(Due: 1, Checked: 1, StillVerified: 0, Failing: 1, Lapsed: 0, Superseded: 0, ClaimsLowered: 0), second);
        Assert.Equal("domain", trustAfterTwo);
        Assert.Equal(new RecheckSummary(Due: 1, Checked: 1, StillVerified: 0, Failing: 0, Lapsed: 1, Superseded: 0, ClaimsLowered: 1), third);
        Assert.Equal("signed", await registry.TrustOfAsync(claim));
    }

    [Fact]
    public async Task A_removed_file_lapses_the_verification_at_the_next_check()
    {
        await using var registry = await VerificationFixture.StartAsync<LoopbackVerificationFixture>();
        using var artist = new TestSigner();
        registry.Publish("artist-e.test", artist.Party);
        var (claim, _) = await registry.SubmitAsync(artist, Consent.DeepClone().AsObject(), TestSigner.Url("http://artist-e.test/a.jpg"));
        Assert.Equal(HttpStatusCode.OK, (await registry.VerifyAsync(artist.Party, "artist-e.test")).StatusCode);
        registry.Plain.Sites.TryRemove("artist-e.test", out _);

        var summary = await registry.RecheckAllAsync();

        Assert.Equal(1, summary.Lapsed);
        Assert.Equal("signed", await registry.TrustOfAsync(claim));
    }

    /// <summary>
    /// A lapse commits before the lowering it causes. A lowering that fails (here the store refuses
    /// it, as a fault or a stop between the two would leave it) is owed, and the next pass finishes
    /// it: the lapsed row is never checked again, so nothing else would.
    /// </summary>
    [Fact]
    public async Task A_lowering_that_fails_after_a_lapse_is_finished_by_the_next_pass()
    {
        await using var registry = await VerificationFixture.StartAsync<LoopbackVerificationFixture>();
        using var artist = new TestSigner();
        registry.Publish("artist-f.test", artist.Party);
        var (claim, _) = await registry.SubmitAsync(artist, Consent.DeepClone().AsObject(), TestSigner.Url("http://artist-f.test/a.jpg"));
        Assert.Equal(HttpStatusCode.OK, (await registry.VerifyAsync(artist.Party, "artist-f.test")).StatusCode);
        Assert.Equal("domain", await registry.TrustOfAsync(claim));
        registry.Plain.Sites.TryRemove("artist-f.test", out _);
        var sqlite = registry.App.Database.Provider == "sqlite";
        await using (var connection = await registry.App.Database.OpenAsync())
        {
            await connection.ExecuteAsync(sqlite
                ? $"CREATE TRIGGER refuse_lowering BEFORE INSERT ON trust_changes WHEN NEW.reason = '{DomainVerifier.LapseReason}' BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
                : $"""
                  CREATE FUNCTION refuse_lowering() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$;
                  CREATE TRIGGER refuse_lowering BEFORE INSERT ON trust_changes FOR EACH ROW
                  WHEN (NEW.reason = '{DomainVerifier.LapseReason}') EXECUTE FUNCTION refuse_lowering();
                  """);
        }

        var failed = await registry.RecheckAllAsync();

        Assert.Equal(0, failed.ClaimsLowered);
        Assert.Equal("domain", await registry.TrustOfAsync(claim));
        Assert.Equal("lapsed", (await registry.App.Services.GetRequiredService<DomainVerificationStore>().FindAsync(artist.Party, "artist-f.test", CancellationToken.None))!.Status);

        await using (var connection = await registry.App.Database.OpenAsync())
        {
            await connection.ExecuteAsync(sqlite ? "DROP TRIGGER refuse_lowering" : "DROP TRIGGER refuse_lowering ON trust_changes");
        }

        var next = await registry.RecheckAllAsync();

        Assert.Equal(0, next.Due); // the lapsed row is not checked again: the debt is what lowers the claim
        Assert.Equal("signed", await registry.TrustOfAsync(claim));
        Assert.Equal("unknown", await registry.TrainAiDecisionAsync("http://artist-f.test/a.jpg"));
        Assert.Contains(registry.App.Logs, line => line.Contains("the reconciliation owed since its verified hosts changed is done", StringComparison.Ordinal));
    }

    /// <summary>
    /// A re-check that finds the key records that success first. A fault in what follows (here the
    /// raise of a claim a failed verification left signed is refused, as a busy store or a dropped
    /// connection would fail it) is no failed check of the host: one with two failures in a row
    /// whose third check succeeds stays verified, with its failures forgotten.
    /// </summary>
    [Fact]
    public async Task A_fault_after_a_successful_recheck_is_recorded_does_not_count_as_a_failed_check()
    {
        await using var registry = await VerificationFixture.StartAsync<LoopbackVerificationFixture>();
        using var artist = new TestSigner();
        registry.Publish("artist-k.test", artist.Party);
        var (claim, _) = await registry.SubmitAsync(artist, Consent.DeepClone().AsObject(), TestSigner.Url("http://artist-k.test/a.jpg"));
        await RefuseAsync(registry, "refuse_raise", "INSERT", "trust_changes", $"NEW.reason = '{DomainVerifier.RaiseReason}'");
        await registry.VerifyAsync(artist.Party, "artist-k.test"); // recorded, but its raise is refused: the call fails
        Assert.Equal(DomainVerificationStore.Verified, (await registry.Store.FindAsync(artist.Party, "artist-k.test", CancellationToken.None))!.Status);
        Assert.Equal("signed", await registry.TrustOfAsync(claim));
        registry.Plain.Serve("artist-k.test", context =>
        {
            context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            return Task.CompletedTask;
        });
        Assert.Equal(1, (await registry.RecheckAllAsync()).Failing);
        Assert.Equal(1, (await registry.RecheckAllAsync()).Failing);
        registry.Plain.ServeKeys("artist-k.test", artist.Party);

        var summary = await registry.RecheckAllAsync();

        Assert.Equal(new RecheckSummary(Due: 1, Checked: 1, StillVerified: 1, Failing: 0, Lapsed: 0, Superseded: 0, ClaimsLowered: 0), summary);
        var stored = (await registry.Store.FindAsync(artist.Party, "artist-k.test", CancellationToken.None))!;
        Assert.Equal(DomainVerificationStore.Verified, stored.Status);
        Assert.Equal(0, stored.Failures);
        Assert.Null(stored.LastFailure);

        await AllowAsync(registry, "refuse_raise", "trust_changes");
        await registry.RecheckAllAsync();

        Assert.Equal("domain", await registry.TrustOfAsync(claim)); // the raise left behind is done once the store takes it
    }

    /// <summary>
    /// A check takes its row by moving last_checked_at to now. When not even its failure can be
    /// recorded (here the store refuses every count of a failure), the row is given back: the next
    /// pass checks it again, not one a whole RecheckInterval later.
    /// </summary>
    [Fact]
    public async Task A_recheck_whose_outcome_cannot_be_recorded_is_checked_again_by_the_next_pass()
    {
        await using var registry = await VerificationFixture.StartAsync<LoopbackVerificationFixture>();
        using var artist = new TestSigner();
        registry.Publish("artist-l.test", artist.Party);
        Assert.Equal(HttpStatusCode.OK, (await registry.VerifyAsync(artist.Party, "artist-l.test")).StatusCode);
        var interval = TimeSpan.FromDays(1);
        var lastChecked = DateTimeOffset.UtcNow.ToUnixTimeSeconds() - (long)(2 * interval).TotalSeconds;
        await using (var connection = await registry.App.Database.OpenAsync())
        {
            await connection.ExecuteAsync("UPDATE domain_verifications SET last_checked_at = @lastChecked", new { lastChecked });
        }

        registry.Plain.Serve("artist-l.test", context =>
        {
            context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            return Task.CompletedTask;
        });
        await RefuseAsync(registry, "refuse_failure", "UPDATE", "domain_verifications", "NEW.failures <> OLD.failures");

        var unrecorded = await registry.Rechecks.RecheckAsync(interval, CancellationToken.None);

        Assert.Equal(new RecheckSummary(Due: 1, Checked: 1, StillVerified: 0, Failing: 1, Lapsed: 0, Superseded: 0, ClaimsLowered: 0), unrecorded);
        var stored = (await registry.Store.FindAsync(artist.Party, "artist-l.test", CancellationToken.None))!;
        Assert.Equal(lastChecked, stored.LastCheckedAt);
        Assert.Equal(0, stored.Failures);
        Assert.Contains(registry.App.Logs, line => line.Contains("the next pass checks it again", StringComparison.Ordinal));

        await AllowAsync(registry, "refuse_failure", "domain_verifications");
        var next = await registry.Rechecks.RecheckAsync(interval, CancellationToken.None);

        Assert.Equal(new RecheckSummary(Due: 1, Checked: 1, StillVerified: 0, Failing: 1, Lapsed: 0, Superseded: 0, ClaimsLowered: 0), next);
        stored = (await registry.Store.FindAsync(artist.Party, "artist-l.test", CancellationToken.None))!;
        Assert.Equal(1, stored.Failures);
        Assert.True(stored.LastCheckedAt > lastChecked);
    }

    /// <summary>
    /// Anyone may repeat a verification (10 a minute per address), and every verified host is
    /// re-checked daily. Only a change of the party's verified hosts has claims to reconcile, so a
    /// repeat, or a re-check that keeps the host verified, reads none of the party's claims.
    /// </summary>
    [Fact]
    public async Task Repeating_a_verification_or_rechecking_a_verified_host_does_not_rescan_the_partys_claims()
    {
        await using var registry = await VerificationFixture.StartAsync<LoopbackVerificationFixture>();
        using var artist = new TestSigner();
        registry.Publish("artist-m.test", artist.Party);
        var (claim, _) = await registry.SubmitAsync(artist, Consent.DeepClone().AsObject(), TestSigner.Url("http://artist-m.test/a.jpg"));
        int Reconciles() => registry.App.Logs.Count(line => line.Contains($"Party {artist.Party}: reconciling", StringComparison.Ordinal));
        Assert.Equal(1, (await (await registry.VerifyAsync(artist.Party, "artist-m.test")).JsonAsync()).GetProperty("claims_raised").GetInt32());
        Assert.Equal(1, Reconciles());

        var again = await registry.VerifyAsync(artist.Party, "artist-m.test");
        var summary = await registry.RecheckAllAsync();

        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        Assert.Equal(0, (await again.JsonAsync()).GetProperty("claims_raised").GetInt32());
        Assert.Equal(1, summary.StillVerified);
        Assert.Equal(1, Reconciles());
        Assert.Equal("domain", await registry.TrustOfAsync(claim));
    }

    [Fact]
    public async Task Verifying_a_lapsed_host_again_raises_its_claims_again()
    {
        await using var registry = await VerificationFixture.StartAsync<LoopbackVerificationFixture>();
        using var artist = new TestSigner();
        registry.Publish("artist-n.test", artist.Party);
        var (claim, _) = await registry.SubmitAsync(artist, Consent.DeepClone().AsObject(), TestSigner.Url("http://artist-n.test/a.jpg"));
        Assert.Equal(HttpStatusCode.OK, (await registry.VerifyAsync(artist.Party, "artist-n.test")).StatusCode);
        registry.Plain.ServeKeys("artist-n.test", "some-other-key");
        Assert.Equal(1, (await registry.RecheckAllAsync()).Lapsed);
        Assert.Equal("signed", await registry.TrustOfAsync(claim));
        registry.Plain.ServeKeys("artist-n.test", artist.Party);

        var response = await registry.VerifyAsync(artist.Party, "artist-n.test");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(1, (await response.JsonAsync()).GetProperty("claims_raised").GetInt32());
        Assert.Equal("domain", await registry.TrustOfAsync(claim));
        Assert.Equal("allow", await registry.TrainAiDecisionAsync("http://artist-n.test/a.jpg"));
    }

    /// <summary>A verification is recorded before its raise; a raise that fails is owed, and calling the endpoint again finishes it.</summary>
    [Fact]
    public async Task A_verification_whose_raise_failed_is_finished_by_verifying_again()
    {
        await using var registry = await VerificationFixture.StartAsync<LoopbackVerificationFixture>();
        using var artist = new TestSigner();
        registry.Publish("artist-o.test", artist.Party);
        var (claim, _) = await registry.SubmitAsync(artist, Consent.DeepClone().AsObject(), TestSigner.Url("http://artist-o.test/a.jpg"));
        await RefuseAsync(registry, "refuse_raise", "INSERT", "trust_changes", $"NEW.reason = '{DomainVerifier.RaiseReason}'");
        Assert.NotEqual(HttpStatusCode.OK, (await registry.VerifyAsync(artist.Party, "artist-o.test")).StatusCode);
        Assert.Equal("signed", await registry.TrustOfAsync(claim));
        await AllowAsync(registry, "refuse_raise", "trust_changes");

        var response = await registry.VerifyAsync(artist.Party, "artist-o.test");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(1, (await response.JsonAsync()).GetProperty("claims_raised").GetInt32());
        Assert.Equal("domain", await registry.TrustOfAsync(claim));
    }

    [Fact]
    public async Task A_successful_recheck_moves_verified_at_to_the_time_of_the_check()
    {
        await using var registry = await VerificationFixture.StartAsync<LoopbackVerificationFixture>();
        using var artist = new TestSigner();
        registry.Publish("artist-i.test", artist.Party);
        Assert.Equal(HttpStatusCode.OK, (await registry.VerifyAsync(artist.Party, "artist-i.test")).StatusCode);
        var before = (await registry.Store.FindAsync(artist.Party, "artist-i.test", CancellationToken.None))!;
        await Task.Delay(TimeSpan.FromMilliseconds(1100)); // unix seconds: let the clock move on

        var summary = await registry.RecheckAllAsync();

        var after = (await registry.Store.FindAsync(artist.Party, "artist-i.test", CancellationToken.None))!;
        Assert.Equal(1, summary.StillVerified);
        Assert.True(after.VerifiedAt > before.VerifiedAt, $"verified_at {after.VerifiedAt} should be later than {before.VerifiedAt}");
    }

    [Fact]
    public async Task A_recheck_overtaken_by_a_successful_verification_leaves_the_verification_and_its_claims_alone()
    {
        await using var registry = await VerificationFixture.StartAsync<LoopbackVerificationFixture>();
        using var artist = new TestSigner();
        registry.Publish("artist-j.test", artist.Party);
        var (claim, _) = await registry.SubmitAsync(artist, Consent.DeepClone().AsObject(), TestSigner.Url("http://artist-j.test/a.jpg"));
        Assert.Equal(HttpStatusCode.OK, (await registry.VerifyAsync(artist.Party, "artist-j.test")).StatusCode);

        // The re-check takes the row; a verification succeeds; then the re-check's fetch sees the key gone.
        var row = Assert.Single(await registry.Store.DueAsync(long.MaxValue, 10, CancellationToken.None));
        var takenAt = await registry.Store.TryTakeForCheckAsync(row, DateTimeOffset.UtcNow.ToUnixTimeSeconds(), CancellationToken.None);
        Assert.NotNull(takenAt);
        Assert.Equal(HttpStatusCode.OK, (await registry.VerifyAsync(artist.Party, "artist-j.test")).StatusCode);
        registry.Plain.ServeKeys("artist-j.test", "some-other-key");
        var (state, lowered) = await registry.Rechecks.CheckOrCountFailureAsync(row, takenAt.Value, CancellationToken.None);

        Assert.Equal(RecheckState.Superseded, state);
        Assert.Equal(0, lowered);
        var stored = (await registry.Store.FindAsync(artist.Party, "artist-j.test", CancellationToken.None))!;
        Assert.Equal(DomainVerificationStore.Verified, stored.Status);
        Assert.Equal(0, stored.Failures);
        Assert.Null(stored.LastFailure);
        Assert.Equal("domain", await registry.TrustOfAsync(claim));
    }

    [Fact]
    public async Task A_host_that_breaks_the_connection_mid_body_counts_as_a_failed_check_and_the_pass_goes_on()
    {
        await using var registry = await VerificationFixture.StartAsync<LoopbackVerificationFixture>();
        using var artist = new TestSigner();
        registry.Publish("breaks.test", artist.Party);
        registry.Publish("steady.test", artist.Party);
        Assert.Equal(HttpStatusCode.OK, (await registry.VerifyAsync(artist.Party, "breaks.test")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await registry.VerifyAsync(artist.Party, "steady.test")).StatusCode);
        await using var breaking = RawHttpServer.BreaksMidBody();
        registry.Network.Route("breaks.test", "127.0.0.2", breaking.Port);

        var summary = await registry.RecheckAllAsync();

        Assert.Equal(new RecheckSummary(Due: 2, Checked: 2, StillVerified: 1, Failing: 1, Lapsed: 0, Superseded: 0, ClaimsLowered: 0), summary);
        var broken = (await registry.Store.FindAsync(artist.Party, "breaks.test", CancellationToken.None))!;
        Assert.Equal(DomainVerificationStore.Verified, broken.Status);
        Assert.Equal(1, broken.Failures);
        Assert.Equal(VerificationCodes.FetchFailed, broken.LastFailure);
    }

    [Fact]
    public async Task A_raise_or_lowering_based_on_a_stale_read_of_the_verified_hosts_is_refused_by_the_log_writer()
    {
        // Replica A read the hosts {h}; replica B then lapsed h and lowered the claim; A's raise must not land.
        await using var registry = await VerificationFixture.StartAsync<LoopbackVerificationFixture>();
        using var artist = new TestSigner();
        registry.Publish("lapses.test", artist.Party);
        registry.Publish("stays.test", artist.Party);
        var (onLapsed, _) = await registry.SubmitAsync(artist, Consent.DeepClone().AsObject(), TestSigner.Url("http://lapses.test/a.jpg"));
        var (onVerified, _) = await registry.SubmitAsync(artist, Consent.DeepClone().AsObject(), TestSigner.Url("http://stays.test/a.jpg"));
        Assert.Equal(HttpStatusCode.OK, (await registry.VerifyAsync(artist.Party, "lapses.test")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await registry.VerifyAsync(artist.Party, "stays.test")).StatusCode);
        registry.Plain.ServeKeys("lapses.test", "some-other-key");
        Assert.Equal(1, (await registry.RecheckAllAsync()).Lapsed);
        Assert.Equal("signed", await registry.TrustOfAsync(onLapsed));
        var log = registry.App.Services.GetRequiredService<ClaimWriter>();

        var staleRaise = await log.SetTrustIfAsync(onLapsed, TrustLevel.Signed, TrustLevel.Domain, DomainVerifier.RaiseReason, CancellationToken.None, whenVouchedFor: true);
        var staleLowering = await log.SetTrustIfAsync(onVerified, TrustLevel.Domain, TrustLevel.Signed, DomainVerifier.LapseReason, CancellationToken.None, whenVouchedFor: false);

        Assert.Equal(AppendStatus.Unchanged, staleRaise.Status);
        Assert.Equal(AppendStatus.Unchanged, staleLowering.Status);
        Assert.Equal("signed", await registry.TrustOfAsync(onLapsed));
        Assert.Equal("domain", await registry.TrustOfAsync(onVerified));

        // A lookup waits up to a second for the index to take this instance's writes; a loaded
        // CI machine has taken longer (the lookup then answered from before the lapse).
        var updater = registry.App.Services.GetRequiredService<IndexUpdater>();
        await updater.WaitForAsync(updater.LastCommittedSeq, TimeSpan.FromSeconds(30), CancellationToken.None);
        Assert.Equal("unknown", await registry.TrainAiDecisionAsync("http://lapses.test/a.jpg"));
    }

    /// <summary>Makes the store refuse each <paramref name="operation"/> on <paramref name="table"/> whose row matches <paramref name="when"/>, as a fault would.</summary>
    private static async Task RefuseAsync(VerificationFixture registry, string name, string operation, string table, string when)
    {
        await using var connection = await registry.App.Database.OpenAsync();
        await connection.ExecuteAsync(registry.App.Database.Provider == "sqlite"
            ? $"CREATE TRIGGER {name} BEFORE {operation} ON {table} WHEN {when} BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
            : $"""
              CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$;
              CREATE TRIGGER {name} BEFORE {operation} ON {table} FOR EACH ROW WHEN ({when}) EXECUTE FUNCTION {name}();
              """);
    }

    private static async Task AllowAsync(VerificationFixture registry, string name, string table)
    {
        await using var connection = await registry.App.Database.OpenAsync();
        await connection.ExecuteAsync(registry.App.Database.Provider == "sqlite" ? $"DROP TRIGGER {name}" : $"DROP TRIGGER {name} ON {table}");
    }
}
