using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Security.Claims;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ConsentRegistry.Api.Auth;
using ConsentRegistry.Api.Claims;
using ConsentRegistry.Api.Storage;
using ConsentRegistry.Api.Tests.Infrastructure;
using Dapper;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using static ConsentRegistry.Api.Tests.Infrastructure.TestHttp;

namespace ConsentRegistry.Api.Tests.Claims;

/// <summary>
/// Claim writes are budgeted per client address (IPv6 per /64), per API key and per party, whose
/// budget grows with its standing; a refused write is a 429 naming its budget and stores nothing.
/// </summary>
public sealed class WriteBudgetTests
{
    private const string TestAddressHeader = "X-Test-Client-Address";

    [Fact]
    public async Task An_address_that_spends_its_claims_is_refused_with_429_retry_after_and_the_budget_named_and_nothing_is_stored()
    {
        await using var app = await StartAsync(new() { ["Registry:WriteBudgets:Address:ClaimsPerHour"] = "3" });
        using var client = app.CreateClient();

        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(HttpStatusCode.Created, (await PostOptOutAsync(client, $"https://budget.example/{i}.jpg")).Response.StatusCode);
        }

        var (refused, id) = await PostOptOutAsync(client, "https://budget.example/3.jpg");

        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
        Assert.True(refused.Headers.RetryAfter?.Delta?.TotalSeconds >= 1);
        var problem = await refused.JsonAsync();
        Assert.Equal("write-budget-exceeded", problem.GetProperty("code").GetString());
        Assert.Equal("address-claims", problem.GetProperty("budget").GetString());
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync($"/v1/claims/{id}")).StatusCode);
    }

    /// <summary>
    /// A claim listing more subjects than any claim may hold is refused as such (400), not as over a
    /// budget it could never fit (a 429 whose Retry-After would be answered the same way forever).
    /// </summary>
    [Fact]
    public async Task A_claim_of_more_subjects_than_a_claim_may_hold_gets_400_even_past_the_subject_budget()
    {
        await using var app = await StartAsync(new() { ["Registry:WriteBudgets:Address:SubjectsPerHour"] = "10000" });
        using var client = app.CreateClient();

        var (refused, _) = await PostOptOutAsync(client, Urls("too-many", 10_001));

        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Equal("invalid-payload", (await refused.JsonAsync()).GetProperty("code").GetString());
    }

    /// <summary>
    /// A claim padded with whitespace stores megabytes for one subject: it is charged as many subjects
    /// as its length could hold (the largest subject's worth each, about 15,000 characters), not one.
    /// </summary>
    [Fact]
    public async Task A_claim_padded_past_its_subjects_is_charged_for_its_length()
    {
        await using var app = await StartAsync(new() { ["Registry:WriteBudgets:Address:SubjectsPerHour"] = "10000" });
        using var client = app.CreateClient();
        using var signer = new TestSigner();
        var payload = TestSigner.Claim([TestSigner.Url("https://padded.example/one.jpg")], new JsonObject { ["train-ai"] = "n" }).ToJsonString();
        var padded = signer.SignRaw(null, payload[..^1] + new string(' ', 2_000_000) + "}");
        Assert.Equal(HttpStatusCode.Created, (await PostJwsAsync(client, padded, null)).StatusCode);

        var (refused, _) = await PostOptOutAsync(client, Urls("after-padding", 9_900)); // 9,999 left if it cost one subject

        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.Equal("address-subjects", (await refused.JsonAsync()).GetProperty("budget").GetString());
    }

    /// <summary>
    /// Claims that fail their checks make writer buckets (their subjects are held, then given back)
    /// and are never charged: the sweep of full buckets runs as every write arrives (its pre-check),
    /// not on charges alone.
    /// </summary>
    [Fact]
    public async Task Buckets_of_writers_whose_claims_all_failed_are_swept()
    {
        await using var app = await StartAsync(new());
        var budgets = app.Services.GetRequiredService<WriteBudgets>();
        var budget = new WriteBudget(120, 30_000);
        for (var i = 0; i <= 50_000; i++)
        {
            var (refusal, hold) = budgets.Reserve(new BudgetWriter($"address:198.51.{i}", budget, "address"), 100);
            Assert.Null(refusal);
            hold!.Release(); // the claim failed its checks
        }

        Assert.Equal(50_001, budgets.Buckets);
        var next = new DefaultHttpContext();
        next.Connection.RemoteIpAddress = IPAddress.Parse("203.0.113.1");

        Assert.Null(budgets.PreCheck(next, 100));
        Assert.Equal(0, budgets.Buckets);
    }

    [Fact]
    public async Task Subjects_are_budgeted_as_well_as_claims()
    {
        await using var app = await StartAsync(new() { ["Registry:WriteBudgets:Address:SubjectsPerHour"] = "10000" });
        using var client = app.CreateClient();

        Assert.Equal(HttpStatusCode.Created, (await PostOptOutAsync(client, Urls("first", 6000))).Response.StatusCode);
        var (refused, _) = await PostOptOutAsync(client, Urls("second", 6000));

        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.Equal("address-subjects", (await refused.JsonAsync()).GetProperty("budget").GetString());
    }

    [Fact]
    public async Task A_spent_address_budget_refuses_a_large_claim_before_checking_its_signature()
    {
        await using var app = await StartAsync(new() { ["Registry:WriteBudgets:Address:SubjectsPerHour"] = "10000" });
        using var client = app.CreateClient();
        Assert.Equal(HttpStatusCode.Created, (await PostOptOutAsync(client, Urls("paid", 6000))).Response.StatusCode);
        using var signer = new TestSigner();
        var jws = signer.Sign(TestSigner.Claim(Urls("forged", 6000).Select(TestSigner.Url), new JsonObject { ["train-ai"] = "n" }));
        var forged = jws[..^4] + (jws[^4..] == "AAAA" ? "BBBB" : "AAAA"); // a broken signature

        var response = await client.PostAsync("/v1/claims", Jose(forged));

        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode); // not 400 bad-signature: nothing was checked
        Assert.Equal("address-subjects", (await response.JsonAsync()).GetProperty("budget").GetString());
    }

    [Fact]
    public async Task A_claim_being_checked_holds_its_writers_budget_so_one_past_it_is_refused_before_its_signature_is_checked()
    {
        await using var app = await StartAsync(new() { ["Registry:WriteBudgets:Address:SubjectsPerHour"] = "10000" });
        using var client = app.CreateClient();
        const string Address = "203.0.113.9";
        var budgets = app.Services.GetRequiredService<WriteBudgets>();
        var (none, hold) = budgets.Reserve(new DefaultHttpContext { Connection = { RemoteIpAddress = IPAddress.Parse(Address) } }, 6000);
        Assert.Null(none); // as a 6,000-subject claim from that address holds it while its signature is checked
        using var signer = new TestSigner();
        var jws = signer.Sign(TestSigner.Claim(Urls("forged", 6000).Select(TestSigner.Url), new JsonObject { ["train-ai"] = "n" }));
        var forged = jws[..^4] + (jws[^4..] == "AAAA" ? "BBBB" : "AAAA"); // a broken signature

        Assert.Equal(HttpStatusCode.TooManyRequests, (await PostJwsAsync(client, forged, Address)).StatusCode); // not 400: nothing was checked
        hold!.Release();
        Assert.Equal(HttpStatusCode.BadRequest, (await PostJwsAsync(client, forged, Address)).StatusCode); // checked once the hold was given back

        // A claim's own hold becomes its charge: were it paid twice, 6,000 subjects would not fit a
        // 10,000 budget, nor 4,000 more after them. (The budget refills a few subjects a second, so
        // what is left after both is not asserted.)
        Assert.Equal(HttpStatusCode.Created, (await PostOptOutAsync(client, Urls("first", 6000), Address)).Response.StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await PostOptOutAsync(client, Urls("second", 4000), Address)).Response.StatusCode);
    }

    [Fact]
    public async Task Addresses_of_one_ipv6_64_share_a_budget_and_another_block_has_its_own()
    {
        await using var app = await StartAsync(new() { ["Registry:WriteBudgets:Address:ClaimsPerHour"] = "2" });
        using var client = app.CreateClient();

        var statuses = new List<HttpStatusCode>();
        foreach (var address in new[] { "2001:db8:1:2::1", "2001:db8:1:2::ffff", "2001:db8:1:2:abcd::9" })
        {
            statuses.Add((await PostOptOutAsync(client, $"https://v6.example/{address}.jpg", address)).Response.StatusCode);
        }

        Assert.Equal([HttpStatusCode.Created, HttpStatusCode.Created, HttpStatusCode.TooManyRequests], statuses);
        Assert.Equal(HttpStatusCode.Created, (await PostOptOutAsync(client, "https://v6.example/other.jpg", "2001:db8:1:3::1")).Response.StatusCode);
    }

    [Fact]
    public async Task The_configured_ipv6_prefix_groups_clients_in_claim_reads_lookups_and_domain_verification_too()
    {
        await using var app = await StartAsync(new()
        {
            ["Registry:WriteBudgets:Ipv6PrefixLength"] = "48",
            ["Registry:WriteBudgets:ReadsPerSecondPerAddress"] = "1",
            ["Registry:Lookup:RequestsPerSecondPerAddress"] = "1",
            ["Registry:Verification:RequestsPerMinutePerAddress"] = "1",
        });
        using var client = app.CreateClient();

        // Each request from another /64 of one /48: grouped by /64, none would be refused.
        async Task<List<HttpStatusCode>> FromOneBlockAsync(Func<HttpRequestMessage> request, int count)
        {
            var statuses = new List<HttpStatusCode>();
            for (var i = 0; i < count; i++)
            {
                using var message = request();
                message.Headers.Add(TestAddressHeader, $"2001:db8:1:{i:x}::1");
                statuses.Add((await client.SendAsync(message)).StatusCode);
            }

            return statuses;
        }

        Assert.Contains(HttpStatusCode.TooManyRequests, await FromOneBlockAsync(() => new(HttpMethod.Get, $"/v1/claims/{new string('a', 64)}"), 6));
        Assert.Contains(HttpStatusCode.TooManyRequests, await FromOneBlockAsync(
            () => new(HttpMethod.Post, "/v1/lookup") { Content = JsonContent.Create(new { items = new[] { new { url = "https://prefix.example/a.jpg" } } }) }, 6));
        Assert.Contains(HttpStatusCode.TooManyRequests, await FromOneBlockAsync(() => new(HttpMethod.Post, "/v1/parties/not-a-party/domains/artist.test/verify"), 2));
    }

    [Fact]
    public async Task A_new_party_gets_a_smaller_budget_than_an_established_or_domain_verified_one()
    {
        var settings = new Dictionary<string, string?>
        {
            ["Registry:WriteBudgets:NewParty:ClaimsPerHour"] = "1",
            ["Registry:WriteBudgets:EstablishedParty:ClaimsPerHour"] = "3",
            ["Registry:WriteBudgets:VerifiedParty:ClaimsPerHour"] = "5",
        };
        await using (var app = await StartAsync(settings))
        {
            using var client = app.CreateClient();
            using var newcomer = new TestSigner();
            Assert.Equal(new[] { 201, 429 }, await WriteManyAsync(client, newcomer, 2));

            using var verified = new TestSigner();
            await using (var connection = await app.Services.GetRequiredService<RegistryDatabase>().OpenConnectionAsync(CancellationToken.None))
            {
                await connection.ExecuteAsync(
                    "INSERT INTO domain_verifications (party, host, status, verified_at, last_checked_at) VALUES (@party, 'verified.example', 'verified', 1, 1)",
                    new { party = verified.Party });
            }

            Assert.Equal(new[] { 201, 201, 201, 201, 201, 429 }, await WriteManyAsync(client, verified, 6));
        }

        settings["Registry:WriteBudgets:EstablishedAfter"] = "00:00:00";
        await using (var app = await StartAsync(settings))
        {
            using var client = app.CreateClient();
            using var established = new TestSigner();
            Assert.Equal(new[] { 201, 201, 201, 429 }, await WriteManyAsync(client, established, 4)); // established from its first claim on
        }
    }

    [Fact]
    public async Task An_api_key_writes_on_its_own_budget_which_an_admin_sets_and_clears()
    {
        await using var app = await StartAsync(new()
        {
            ["Registry:WriteBudgets:Address:ClaimsPerHour"] = "1",
            ["Registry:WriteBudgets:NewParty:ClaimsPerHour"] = "1",
        });
        using var admin = app.CreateAdminClient();
        var created = await (await admin.PostAsJsonAsync("/v1/admin/api-keys",
            new { name = "catalogue platform", write_budget = new { claims_per_hour = 2, subjects_per_hour = 10_000 } })).JsonAsync();
        Assert.Equal(2, created.GetProperty("write_budget").GetProperty("claims_per_hour").GetInt64());
        var keyId = created.GetProperty("id").GetString();
        using var platform = app.CreateClient();
        platform.DefaultRequestHeaders.TryAddWithoutValidation("Authorization", $"API {created.GetProperty("key").GetString()}");
        using var signer = new TestSigner();

        Assert.Equal(new[] { 201, 201, 429 }, await WriteManyAsync(platform, signer, 3)); // past the address and new-party budgets of 1
        var refusal = await (await PostOptOutAsync(platform, "https://platform.example/again.jpg", signer: signer)).Response.JsonAsync();
        Assert.Equal("api-key-claims", refusal.GetProperty("budget").GetString());

        var set = await admin.PutAsJsonAsync($"/v1/admin/api-keys/{keyId}/write-budget", new { claims_per_hour = 5, subjects_per_hour = 10_000 });
        Assert.Equal(HttpStatusCode.OK, set.StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await PostOptOutAsync(platform, "https://platform.example/more.jpg", signer: signer)).Response.StatusCode);
        var listed = (await (await admin.GetAsync("/v1/admin/api-keys")).JsonAsync()).GetProperty("keys").EnumerateArray().Single(k => k.GetProperty("id").GetString() == keyId);
        Assert.Equal(5, listed.GetProperty("write_budget").GetProperty("claims_per_hour").GetInt64());

        var tooSmall = await admin.PutAsJsonAsync($"/v1/admin/api-keys/{keyId}/write-budget", new { claims_per_hour = 0, subjects_per_hour = 5 });
        Assert.Equal(HttpStatusCode.BadRequest, tooSmall.StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/v1/admin/api-keys/{keyId}/write-budget")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await admin.DeleteAsync("/v1/admin/api-keys/0000000000000000/write-budget")).StatusCode);
    }

    /// <summary>A party's claims are public (GET /v1/claims/{id} has the JWS): sent again with a key, one must not give the party's budget back.</summary>
    [Fact]
    public async Task A_partys_claim_sent_again_with_an_api_key_gives_back_no_party_budget_the_key_did_not_charge()
    {
        await using var app = await StartAsync(new() { ["Registry:WriteBudgets:NewParty:ClaimsPerHour"] = "1" });
        using var admin = app.CreateAdminClient();
        var created = await (await admin.PostAsJsonAsync("/v1/admin/api-keys", new { name = "platform" })).JsonAsync();
        using var platform = app.CreateClient();
        platform.DefaultRequestHeaders.TryAddWithoutValidation("Authorization", $"API {created.GetProperty("key").GetString()}");
        using var anonymous = app.CreateClient();
        using var signer = new TestSigner();
        var jws = signer.OptOut("https://refund.example/a.jpg");

        Assert.Equal(HttpStatusCode.Created, (await anonymous.PostAsync("/v1/claims", Jose(jws))).StatusCode); // the party's one claim
        Assert.Equal(HttpStatusCode.OK, (await platform.PostAsync("/v1/claims", Jose(jws))).StatusCode); // the same claim again: refunded to the key

        var (refused, _) = await PostOptOutAsync(anonymous, "https://refund.example/b.jpg", signer: signer);
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.Equal("party-claims", (await refused.JsonAsync()).GetProperty("budget").GetString());
    }

    [Fact]
    public void Only_an_api_key_makes_a_writer_of_its_own_a_bearer_token_writes_as_its_address()
    {
        var token = new DefaultHttpContext { User = new ClaimsPrincipal(new ClaimsIdentity([new Claim(ClaimTypes.NameIdentifier, "token-subject")], "Bearer")) };
        token.Connection.RemoteIpAddress = IPAddress.Parse("2001:db8:1:2::1");
        var key = new DefaultHttpContext { User = token.User };
        key.Items[typeof(ApiKeyInfo)] = new ApiKeyInfo("key-1", "platform", ApiKeyRoles.Client);

        Assert.Equal("ip6:2001:db8:1:2::/64", WriteBudgets.WriterKey(token, 64)); // its write rate and budget are the address's
        Assert.Equal("key:key-1", WriteBudgets.WriterKey(key, 64));
    }

    [Fact]
    public async Task Revocations_draw_from_the_budgets_and_a_repeated_claim_costs_nothing()
    {
        await using var app = await StartAsync(new() { ["Registry:WriteBudgets:Address:ClaimsPerHour"] = "2" });
        using var client = app.CreateClient();
        using var signer = new TestSigner();
        var jws = signer.OptOut("https://again.example/a.jpg");

        Assert.Equal(HttpStatusCode.Created, (await client.PostAsync("/v1/claims", Jose(jws))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync("/v1/claims", Jose(jws))).StatusCode); // the same claim: refunded
        var revoke = await client.PostAsync($"/v1/claims/{TestSigner.IdOf(jws)}/revocation", Jose(signer.Revocation(TestSigner.IdOf(jws))));
        Assert.Equal(HttpStatusCode.Created, revoke.StatusCode);

        var refused = await PostOptOutAsync(client, "https://again.example/b.jpg");
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.Response.StatusCode);
    }

    [Fact]
    public async Task Claim_requests_past_the_write_rate_are_refused_before_their_body_and_the_connection_closes()
    {
        await using var app = await StartAsync(new() { ["Registry:WriteBudgets:WritesPerSecondPerAddress"] = "1" });
        using var client = app.CreateClient();

        var statuses = new List<HttpStatusCode>();
        HttpResponseMessage? refused = null;
        for (var i = 0; i < 6; i++)
        {
            var (response, _) = await PostOptOutAsync(client, $"https://rate.example/{i}.jpg");
            statuses.Add(response.StatusCode);
            refused ??= response.StatusCode == HttpStatusCode.TooManyRequests ? response : null;
        }

        Assert.Contains(HttpStatusCode.Created, statuses);
        Assert.NotNull(refused);
        Assert.Equal("too-many-requests", (await refused.JsonAsync()).GetProperty("code").GetString());
        Assert.True(refused.Headers.ConnectionClose);
        Assert.NotNull(refused.Headers.RetryAfter);
    }

    [Fact]
    public async Task A_writer_that_keeps_sending_past_its_retry_after_is_cut_off_without_its_body_being_read()
    {
        await using var app = await StartAsync(new() { ["Registry:WriteBudgets:WritesPerSecondPerAddress"] = "1" });
        var server = app.ClientOptions.BaseAddress;

        async Task<NetworkStream> SendAsync(string body, int contentLength)
        {
            var socket = new TcpClient();
            await socket.ConnectAsync(server.Host, server.Port);
            var stream = socket.GetStream();
            await stream.WriteAsync(Encoding.ASCII.GetBytes(
                $"POST /v1/claims HTTP/1.1\r\nHost: {server.Authority}\r\nContent-Type: application/jose\r\nContent-Length: {contentLength}\r\n\r\n{body}"));
            return stream;
        }

        // Reads one response (head and Content-Length body), then whether the server closes the
        // connection within a second although the request's body never came in full.
        static async Task<(int Status, bool Closed)> AnswerAsync(NetworkStream stream)
        {
            using (stream)
            {
                var received = new List<byte>();
                var buffer = new byte[4096];
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                while (!IsComplete(received))
                {
                    var read = await stream.ReadAsync(buffer, timeout.Token);
                    Assert.NotEqual(0, read);
                    received.AddRange(buffer.AsSpan(0, read));
                }

                var status = int.Parse(Encoding.ASCII.GetString([.. received])[9..12], System.Globalization.CultureInfo.InvariantCulture);
                using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(1));
                try
                {
                    return (status, await stream.ReadAsync(buffer, wait.Token) == 0);
                }
                catch (IOException)
                {
                    return (status, true); // reset: closed with the body unread
                }
                catch (OperationCanceledException)
                {
                    return (status, false); // still open: Kestrel waits for the rest of the body
                }
            }
        }

        static bool IsComplete(List<byte> received)
        {
            var text = Encoding.ASCII.GetString([.. received]);
            var end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            var length = System.Text.RegularExpressions.Regex.Match(text, "Content-Length: (\\d+)", System.Text.RegularExpressions.RegexOptions.IgnoreCase);
            return end >= 0 && (length.Success
                ? text.Length >= end + 4 + int.Parse(length.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)
                : text.EndsWith("\r\n0\r\n\r\n", StringComparison.Ordinal)); // chunked
        }

        // The first two requests pass the rate (a bucket of two): small, whole and invalid.
        var passing = await Task.WhenAll(SendAsync("not a jws", 9), SendAsync("not a jws", 9));
        Assert.All(await Task.WhenAll(passing.Select(AnswerAsync)), r => Assert.Equal(400, r.Status));

        // Six more at once, each announcing a 900 KB claim and sending 10 bytes of it.
        var flooding = await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => SendAsync("eyJhbGciOi", 900_000)));
        var refused = await Task.WhenAll(flooding.Select(AnswerAsync));

        // A token may have come back meanwhile (one a second): that request is let through and
        // times out waiting for its body (408). The others are 429s: the first ones in a second
        // wait for their bodies (a clean close), the rest close at once with 899,990 bytes unread.
        Assert.All(refused, r => Assert.Contains(r.Status, new[] { 429, 408 }));
        var tooMany = refused.Where(r => r.Status == 429).ToList();
        Assert.True(tooMany.Count >= 4, $"{tooMany.Count} of 6 refused");
        Assert.Contains(tooMany, r => !r.Closed);
        Assert.Contains(tooMany, r => r.Closed);
    }

    [Fact]
    public async Task Reads_of_claims_and_party_listings_are_rate_limited_per_address()
    {
        await using var app = await StartAsync(new() { ["Registry:WriteBudgets:ReadsPerSecondPerAddress"] = "1" });
        using var client = app.CreateClient();
        using var signer = new TestSigner();

        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 6; i++)
        {
            statuses.Add((await client.GetAsync($"/v1/parties/{signer.Party}/claims")).StatusCode);
        }

        Assert.Contains(HttpStatusCode.TooManyRequests, statuses);
        var refused = await client.GetAsync($"/v1/claims/{new string('a', 64)}");
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.Equal("too-many-requests", (await refused.JsonAsync()).GetProperty("code").GetString());
        Assert.NotNull(refused.Headers.RetryAfter);
    }

    /// <summary>
    /// A large claim's check runs on the gate's threads; its request may end while it runs (the
    /// client timed out). The hold the check takes after that is given back: it was kept, for a
    /// claim never stored, and the writer paid for it until the bucket refilled.
    /// </summary>
    [Fact]
    public async Task A_hold_taken_by_a_check_whose_request_ended_meanwhile_is_given_back()
    {
        var clock = new HeldInReserve();
        var all = new Dictionary<string, string?> { ["Registry:WriteBudgets:Address:SubjectsPerHour"] = "10000" };
        await using var app = await StartAsync(all, services => services.AddSingleton<TimeProvider>(clock));
        using var client = app.CreateClient();
        const string Address = "203.0.113.10";
        using var signer = new TestSigner();
        var jws = signer.Sign(TestSigner.Claim(Urls("left", 6000).Select(TestSigner.Url), new JsonObject { ["train-ai"] = "n" }));

        using var leaving = new CancellationTokenSource();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/claims") { Content = Jose(jws) };
        request.Headers.Add(TestAddressHeader, Address);
        clock.Armed = true;
        var sending = client.SendAsync(request, leaving.Token);
        await clock.Entered.Task.WaitAsync(TimeSpan.FromSeconds(30)); // the check is in Reserve, before it takes anything
        await leaving.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => sending);
        await Task.Delay(TimeSpan.FromSeconds(1)); // the server sees the request end and stops waiting for the check
        clock.Armed = false;
        clock.Release.Set();

        // The 6,000 subjects come back to the address (without the fix they stayed taken: 4,000 left for an hour).
        var budgets = app.Services.GetRequiredService<WriteBudgets>();
        await Eventually.HoldsAsync(
            () => budgets.PreCheck(new DefaultHttpContext { Connection = { RemoteIpAddress = IPAddress.Parse(Address) } }, 10_000) is null,
            "the hold is given back");
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync($"/v1/claims/{TestSigner.IdOf(jws)}")).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await PostOptOutAsync(client, Urls("after", 6000), Address)).Response.StatusCode);
    }

    /// <summary>Stops a large claim's check in the budget's Reserve (its first reading of the clock on the gate's threads) until released.</summary>
    private sealed class HeldInReserve : TimeProvider
    {
        public volatile bool Armed;

        public TaskCompletionSource Entered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public ManualResetEventSlim Release { get; } = new();

        public override long GetTimestamp()
        {
            if (Armed && Thread.CurrentThread.Name?.StartsWith("Large claim checker", StringComparison.Ordinal) == true)
            {
                Entered.TrySetResult();
                Release.Wait(TimeSpan.FromSeconds(60));
            }

            return base.GetTimestamp();
        }
    }

    private static Task<RegistryApp> StartAsync(Dictionary<string, string?> settings, Action<IServiceCollection>? services = null)
    {
        // Every budget the test does not set is large, so only the one under test can refuse.
        var all = new Dictionary<string, string?>
        {
            ["Registry:WriteBudgets:Address:ClaimsPerHour"] = "100000",
            ["Registry:WriteBudgets:Address:SubjectsPerHour"] = "10000000",
            ["Registry:WriteBudgets:NewParty:ClaimsPerHour"] = "100000",
            ["Registry:WriteBudgets:NewParty:SubjectsPerHour"] = "10000000",
            ["Registry:WriteBudgets:EstablishedParty:ClaimsPerHour"] = "100000",
            ["Registry:WriteBudgets:VerifiedParty:ClaimsPerHour"] = "100000",
        };
        foreach (var (key, value) in settings)
        {
            all[key] = value;
        }

        return RegistryApp.StartAsync(all, collection =>
        {
            collection.AddTransient<IStartupFilter, TestClientAddress>();
            services?.Invoke(collection);
        });
    }

    private static async Task<int[]> WriteManyAsync(HttpClient client, TestSigner signer, int count)
    {
        var statuses = new int[count];
        for (var i = 0; i < count; i++)
        {
            statuses[i] = (int)(await PostOptOutAsync(client, $"https://many.example/{Guid.NewGuid():N}.jpg", signer: signer)).Response.StatusCode;
        }

        return statuses;
    }

    private static Task<(HttpResponseMessage Response, string Id)> PostOptOutAsync(HttpClient client, string url, string? address = null, TestSigner? signer = null) =>
        PostOptOutAsync(client, [url], address, signer);

    private static async Task<(HttpResponseMessage Response, string Id)> PostOptOutAsync(HttpClient client, string[] urls, string? address = null, TestSigner? signer = null)
    {
        using var own = signer is null ? new TestSigner() : null;
        var jws = (signer ?? own!).Sign(TestSigner.Claim(urls.Select(TestSigner.Url), new JsonObject { ["train-ai"] = "n" }));
        return (await PostJwsAsync(client, jws, address), TestSigner.IdOf(jws));
    }

    private static async Task<HttpResponseMessage> PostJwsAsync(HttpClient client, string jws, string? address)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/claims") { Content = Jose(jws) };
        if (address is not null)
        {
            request.Headers.Add(TestAddressHeader, address);
        }

        return await client.SendAsync(request);
    }

    private static string[] Urls(string name, int count) => Enumerable.Range(0, count).Select(i => $"https://bulk.example/{name}/{i}.jpg").ToArray();

    /// <summary>Test only: takes the client address from a header, as a trusted proxy's forwarded header would give it.</summary>
    private sealed class TestClientAddress : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use((context, nextMiddleware) =>
            {
                if (context.Request.Headers.TryGetValue(TestAddressHeader, out var address))
                {
                    context.Connection.RemoteIpAddress = IPAddress.Parse(address.ToString());
                }

                return nextMiddleware(context);
            });
            next(app);
        };
    }
}
