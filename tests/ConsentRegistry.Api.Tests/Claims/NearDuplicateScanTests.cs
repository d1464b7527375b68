using ConsentRegistry.Api.Storage;
using ConsentRegistry.Api.Tests.Fingerprints;
using ConsentRegistry.Api.Tests.Infrastructure;
using ConsentRegistry.Core.Claims;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using ConsentRegistry.Api.Claims;
using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace ConsentRegistry.Api.Tests.Claims;

/// <summary>The scan of the log that records near-duplicate pairs reads it in bounded stretches, however far behind it is.</summary>
public sealed class NearDuplicateScanTests
{
    [Fact]
    public async Task A_scan_far_behind_the_workers_reads_the_derived_sets_in_bounded_stretches()
    {
        await using var app = await RegistryApp.StartAsync(new Dictionary<string, string?> { ["Registry:Worker:Enabled"] = "false" });
        using var client = app.CreateClient();
        using var artist = new TestSigner();
        var claim = await client.ClaimAsync(artist.OptOut("https://scan.example/a.jpg"));

        // Derived sets past anything the scan has read (the log's own sequence is left alone, so that the index does not apply them).
        const long first = 1_000;
        var subjects = StoredSubjects.Encode([new Subject(SubjectKinds.Sha256, new string('a', 64))]);
        await using (var connection = await app.Services.GetRequiredService<RegistryDatabase>().OpenConnectionAsync(default))
        {
            await connection.ExecuteAsync(
                "INSERT INTO derived_fingerprints (seq, claim_id, url, subjects, fetched_at) VALUES (@seq, @claim, @url, @subjects, 0)",
                Enumerable.Range(0, NearDuplicateStore.DerivedPerPass + 50).Select(i => new { seq = first + i, claim, url = $"https://scan.example/{i}.jpg", subjects }));
        }

        var pass = await app.Services.GetRequiredService<NearDuplicateStore>().ReadPassAsync(long.MaxValue, default);

        Assert.Equal(first + NearDuplicateStore.DerivedPerPass - 1, pass.UpTo);
        Assert.Equal(NearDuplicateStore.DerivedPerPass, pass.Entries.Count(e => e.Seq >= first));
        Assert.All(pass.Entries, e => Assert.True(e.Seq <= pass.UpTo));
    }

    [Fact]
    public async Task A_scan_reads_large_claims_a_bounded_number_of_subjects_at_a_time_and_keeps_only_their_image_subjects()
    {
        await using var app = await RegistryApp.StartAsync();
        await app.Services.GetServices<IHostedService>().OfType<NearDuplicateRecorder>().Single().StopAsync(default); // this test scans
        using var client = app.CreateClient();
        var seqs = new List<long>();
        for (var c = 0; c < 3; c++)
        {
            using var artist = new TestSigner();
            var subjects = Enumerable.Range(0, 9_999).Select(i => TestSigner.Url($"https://catalogue{c}.example/works/{i}.jpg"))
                .Append(TestSigner.Subject("pdq", new string((char)('a' + c), 64)));
            var id = await client.ClaimAsync(artist.Sign(TestSigner.Claim(subjects, new JsonObject { ["train-ai"] = "n" })));
            seqs.Add((await client.GetFromJsonAsync<JsonElement>($"/v1/claims/{id}")).GetProperty("seq").GetInt64());
        }

        var pass = await app.Services.GetRequiredService<NearDuplicateStore>().ReadPassAsync(long.MaxValue, default);

        // Two claims of 10,000 subjects reach the 20,000 a pass reads; the third is the next pass's.
        Assert.Equal(seqs[1], pass.UpTo);
        Assert.Equal(seqs[..2], pass.Entries.Select(e => e.Seq));
        Assert.All(pass.Entries, e => Assert.Equal(SubjectKinds.Pdq, Assert.Single(e.Subjects).Kind));
    }
}
