using System.Collections.Concurrent;
using System.Net;
using ConsentRegistry.Api.Tests.Infrastructure;
using static ConsentRegistry.Api.Tests.Infrastructure.TestHttp;

namespace ConsentRegistry.Api.Tests.Claims;

/// <summary>The global sequence: gap-free, unique, durable. Each test has a database of its own.</summary>
public sealed class SequenceTests
{
    [Fact]
    public async Task Eight_concurrent_writers_posting_500_claims_each_get_seqs_exactly_1_to_4000()
    {
        const int writers = 8, perWriter = 500;
        await using var app = await RegistryApp.StartAsync();
        var seqs = new ConcurrentBag<long>();

        await Task.WhenAll(Enumerable.Range(0, writers).Select(w => Task.Run(async () =>
        {
            using var client = app.CreateClient();
            using var signer = new TestSigner();
            for (var i = 0; i < perWriter; i++)
            {
                var response = await client.PostAsync("/v1/claims", Jose(signer.OptOut($"https://w{w}.example/{i}.jpg")));
                Assert.Equal(HttpStatusCode.Created, response.StatusCode);
                seqs.Add((await response.JsonAsync()).GetProperty("seq").GetInt64());
            }
        })));

        Assert.Equal(Enumerable.Range(1, writers * perWriter).Select(i => (long)i), seqs.Order());
    }

    [Fact]
    public async Task Two_instances_sharing_one_store_hand_out_distinct_gap_free_seqs()
    {
        await using var first = await RegistryApp.StartAsync();
        await using var second = new RegistryApp(first.Database);
        second.StartServer();
        var seqs = new ConcurrentBag<long>();

        await Task.WhenAll(new[] { first, second }.Select(app => Task.Run(async () =>
        {
            using var client = app.CreateClient();
            using var signer = new TestSigner();
            var posts = Enumerable.Range(0, 100).Select(async i =>
            {
                var response = await client.PostAsync("/v1/claims", Jose(signer.OptOut($"https://two.example/{Guid.NewGuid()}/{i}.jpg")));
                Assert.Equal(HttpStatusCode.Created, response.StatusCode);
                seqs.Add((await response.JsonAsync()).GetProperty("seq").GetInt64());
            });
            await Task.WhenAll(posts);
        })));

        Assert.Equal(Enumerable.Range(1, 200).Select(i => (long)i), seqs.Order());
    }

    [Fact]
    public async Task A_claim_is_still_there_with_the_same_seq_after_a_restart()
    {
        using var signer = new TestSigner();
        var jws = signer.OptOut("https://restart.example/painting.jpg");
        long seq;
        var database = await TestDatabase.CreateAsync();
        await using (database)
        {
            await using (var app = new RegistryApp(database))
            {
                app.StartServer();
                using var client = app.CreateClient();
                await client.PostAsync("/v1/claims", Jose(signer.OptOut("https://restart.example/first.jpg")));
                seq = (await (await client.PostAsync("/v1/claims", Jose(jws))).JsonAsync()).GetProperty("seq").GetInt64();
            }

            await using (var restarted = new RegistryApp(database))
            {
                restarted.StartServer();
                using var client = restarted.CreateClient();
                var claim = await (await client.GetAsync($"/v1/claims/{TestSigner.IdOf(jws)}")).JsonAsync();
                Assert.Equal(seq, claim.GetProperty("seq").GetInt64());
                Assert.Equal(jws, claim.GetProperty("jws").GetString());

                var next = await (await client.PostAsync("/v1/claims", Jose(signer.OptOut("https://restart.example/after.jpg")))).JsonAsync();
                Assert.Equal(seq + 1, next.GetProperty("seq").GetInt64());
            }
        }
    }
}
