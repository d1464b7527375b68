using System.Net;
using System.Text.Json.Nodes;
using ConsentRegistry.Api.Tests.Images;
using ConsentRegistry.Api.Tests.Infrastructure;
using ConsentRegistry.Api.Storage;
using Microsoft.Extensions.DependencyInjection;
using SkiaSharp;

namespace ConsentRegistry.Api.Tests.Fingerprints;

/// <summary>
/// Aligned verification end to end (DESIGN.md 5.7): two parties claim URLs of the same photograph, one of them
/// cropped, so that neither PDQ nor the embedding threshold pairs them; their embeddings propose a check, the
/// worker fetches both pictures from loopback, lays one over the other, and records the pair.
/// </summary>
public sealed class AlignedVerificationTests(WorkerFixture registry) : IClassFixture<WorkerFixture>
{
    private readonly HttpClient _client = registry.Client;
    private readonly ImageServer _images = registry.Images;

    [Fact]
    public async Task A_cropped_copy_claimed_by_another_party_is_verified_as_a_near_duplicate_and_a_conflict()
    {
        var original = TestImages.ReadPdqData("bridge-mods/aaa-orig.jpg");
        _images.Serve("/artist/bridge.jpg", original);
        _images.Serve("/platform/bridge-cropped.jpg", Cropped(original));
        using var artist = new TestSigner();
        using var platform = new TestSigner();
        var optOut = await _client.ClaimAsync(artist.OptOut(_images.Url("/artist/bridge.jpg")));
        await _client.SettledFingerprintsAsync(optOut);
        var consent = await _client.ClaimAsync(platform.Sign(TestSigner.Claim(
            [TestSigner.Url(_images.Url("/platform/bridge-cropped.jpg"))], new JsonObject { ["train-ai"] = "y" })));
        await _client.SettledFingerprintsAsync(consent);

        // Both pictures are fetched once more for the check: the picture of the claim whose id sorts later (laid under), then the other's.
        await Eventually.HoldsAsync(async () => await NearDuplicatesAsync(optOut) is [_], "the worker verifies the pair");
        var item = Assert.Single(await NearDuplicatesAsync(optOut));
        Assert.Equal((consent, platform.Party, "aligned", true),
            (item["claim"]!.GetValue<string>(), item["party"]!.GetValue<string>(), item["by"]!.GetValue<string>(), item["conflict"]!.GetValue<bool>()));
        Assert.InRange(item["distance"]!.GetValue<int>(), 0, 16);
        Assert.Null(item["similarity"]);
        var back = Assert.Single(await NearDuplicatesAsync(consent));
        Assert.Equal((optOut, "aligned"), (back["claim"]!.GetValue<string>(), back["by"]!.GetValue<string>()));
        Assert.InRange(_images.RequestsFor("/artist/bridge.jpg"), 2, int.MaxValue);
        Assert.InRange(_images.RequestsFor("/platform/bridge-cropped.jpg"), 2, int.MaxValue);

        using var admin = registry.App.CreateAdminClient();
        var conflicts = await (await admin.GetAsync("/v1/admin/conflicts?limit=500")).JsonAsync();
        Assert.Contains(conflicts.GetProperty("items").EnumerateArray(), c =>
            c.GetProperty("claims").EnumerateArray().Select(x => x.GetProperty("claim").GetString()).Order(StringComparer.Ordinal)
                .SequenceEqual(new[] { optOut, consent }.Order(StringComparer.Ordinal)));

        // Revoking one claim takes the pair out of the other's answer.
        var revoked = await _client.PostAsync($"/v1/claims/{consent}/revocation", TestHttp.Jose(platform.Revocation(consent)));
        Assert.Equal(HttpStatusCode.Created, revoked.StatusCode);
        Assert.Empty(await NearDuplicatesAsync(optOut));
    }

    [Fact]
    public async Task An_unrelated_photograph_alike_by_embedding_is_checked_and_not_paired()
    {
        using var artist = new TestSigner();
        using var other = new TestSigner();
        _images.Serve("/a/street.jpg", TestImages.ReadPdqData("reg-test-input/labelme-subset/q0003.jpg"));
        _images.Serve("/b/street.jpg", TestImages.ReadPdqData("reg-test-input/labelme-subset/q0004.jpg"));
        var first = await _client.ClaimAsync(artist.OptOut(_images.Url("/a/street.jpg")));
        await _client.SettledFingerprintsAsync(first);
        var second = await _client.ClaimAsync(other.OptOut(_images.Url("/b/street.jpg")));
        await _client.SettledFingerprintsAsync(second);

        // Proposed at any similarity (the setting's floor is 0.5: these two street scenes may be below it), so
        // force the check in, as the recorder writes it, and let the worker take it.
        await InsertCheckAsync(second, _images.Url("/b/street.jpg"), first, _images.Url("/a/street.jpg"), 0.6, dueAt: 0, foundSeq: 1);

        await Eventually.HoldsAsync(async () => await registry.App.Database.CountAsync(
            "SELECT COUNT(*) FROM near_duplicate_checks WHERE claim_a = @second AND claim_b = @first AND status = 'done' AND is_copy = 0",
            new { first, second }) == 1, "the check is done and found no copy");
        Assert.Empty(await NearDuplicatesAsync(first));
    }

    [Fact]
    public async Task A_check_whose_picture_is_gone_fails_with_the_reason_and_is_tried_again_after_the_refetch_interval()
    {
        using var artist = new TestSigner();
        using var other = new TestSigner();
        _images.Serve("/here/q0746.jpg", TestImages.ReadPdqData("reg-test-input/labelme-subset/q0746.jpg"));
        var first = await _client.ClaimAsync(artist.OptOut(_images.Url("/here/q0746.jpg")));
        var second = await _client.ClaimAsync(other.OptOut(_images.Url("/gone/q0746.jpg")));
        await _client.SettledFingerprintsAsync(first);
        await _client.SettledFingerprintsAsync(second);

        await InsertCheckAsync(first, _images.Url("/here/q0746.jpg"), second, _images.Url("/gone/q0746.jpg"), 0.9, dueAt: 0, foundSeq: 1);

        await Eventually.HoldsAsync(async () => await registry.App.Database.CountAsync(
            "SELECT COUNT(*) FROM near_duplicate_checks WHERE claim_a = @first AND status = 'failed' AND error LIKE 'http-status: %/gone/q0746.jpg%404%'",
            new { first }) == 1, "the check failed for good, naming the URL and the status");

        // Tried again after the re-fetch interval (30 days by default), as the fingerprint job of a URL that failed is.
        var dueIn = await registry.App.Database.CountAsync(
                "SELECT due_at FROM near_duplicate_checks WHERE claim_a = @first AND url_b = @urlB", new { first, urlB = _images.Url("/gone/q0746.jpg") })
            - DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        Assert.InRange(dueIn, TimeSpan.FromDays(29).TotalMilliseconds, TimeSpan.FromDays(31).TotalMilliseconds);
    }

    [Fact]
    public async Task The_checks_of_a_revoked_claim_are_passed_by_untried_and_dropped()
    {
        using var artist = new TestSigner();
        using var other = new TestSigner();
        _images.Serve("/kept/q2821.jpg", TestImages.ReadPdqData("reg-test-input/labelme-subset/q2821.jpg"));
        _images.Serve("/withdrawn/q0291.jpg", TestImages.ReadPdqData("reg-test-input/labelme-subset/q0291.jpg"));
        _images.Serve("/withdrawn/only-checked.jpg", TestImages.ReadPdqData("reg-test-input/labelme-subset/q0291.jpg"));
        var kept = await _client.ClaimAsync(artist.OptOut(_images.Url("/kept/q2821.jpg")));
        var withdrawn = await _client.ClaimAsync(other.OptOut(_images.Url("/withdrawn/q0291.jpg")));
        await _client.SettledFingerprintsAsync(kept);
        var revoked = await _client.PostAsync($"/v1/claims/{withdrawn}/revocation", TestHttp.Jose(other.Revocation(withdrawn)));
        Assert.Equal(HttpStatusCode.Created, revoked.StatusCode);

        // Due first (due_at 0), then a later check that the worker takes and finishes.
        await InsertCheckAsync(withdrawn, _images.Url("/withdrawn/only-checked.jpg"), kept, _images.Url("/kept/q2821.jpg"), 0.9, dueAt: 0, foundSeq: 1);
        _images.Serve("/third/q0122.jpg", TestImages.ReadPdqData("reg-test-input/labelme-subset/q0122.jpg"));
        using var third = new TestSigner();
        var later = await _client.ClaimAsync(third.OptOut(_images.Url("/third/q0122.jpg")));
        await _client.SettledFingerprintsAsync(later);
        await InsertCheckAsync(later, _images.Url("/third/q0122.jpg"), kept, _images.Url("/kept/q2821.jpg"), 0.9, dueAt: 1, foundSeq: 2);
        await Eventually.HoldsAsync(async () => await registry.App.Database.CountAsync(
            "SELECT COUNT(*) FROM near_duplicate_checks WHERE claim_a = @later AND url_a = @urlA AND status = 'done'",
            new { later, urlA = _images.Url("/third/q0122.jpg") }) == 1, "the later check is done");

        // Passed by untried; the worker's periodic pass (once a minute) drops it, as this one does.
        const string Withdrawn = "SELECT COUNT(*) FROM near_duplicate_checks WHERE claim_a = @withdrawn AND attempts = 0 AND lease_owner IS NULL";
        Assert.Equal(1, await registry.App.Database.CountAsync(Withdrawn, new { withdrawn }));
        Assert.Equal(0, _images.RequestsFor("/withdrawn/only-checked.jpg"));
        Assert.Equal(1, await registry.App.Services.GetRequiredService<NearDuplicateCheckStore>().DropRevokedAsync(CancellationToken.None));
        Assert.Equal(0, await registry.App.Database.CountAsync("SELECT COUNT(*) FROM near_duplicate_checks WHERE claim_a = @withdrawn", new { withdrawn }));
    }

    /// <summary>Queues a check as the recorder would (or passes it by when one is queued for the same two URLs).</summary>
    private Task InsertCheckAsync(string claimA, string urlA, string claimB, string urlB, double similarity, long dueAt, long foundSeq) =>
        registry.App.Database.ExecuteAsync("""
            INSERT INTO near_duplicate_checks (claim_a, url_a, claim_b, url_b, similarity, conflict, due_at, found_seq)
            VALUES (@claimA, @urlA, @claimB, @urlB, @similarity, 0, @dueAt, @foundSeq) ON CONFLICT DO NOTHING
            """, new { claimA, urlA, claimB, urlB, similarity, dueAt, foundSeq });

    private async Task<JsonNode[]> NearDuplicatesAsync(string claim)
    {
        var response = await _client.GetAsync($"/v1/claims/{claim}/near-duplicates");
        Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        return JsonNode.Parse(await response.Content.ReadAsStringAsync())!["items"]!.AsArray().Select(i => i!).ToArray();
    }

    /// <summary>The photograph with a tenth of its width cut from the left and a tenth of its height from the top (19 % of it).</summary>
    private static byte[] Cropped(byte[] image)
    {
        using var bitmap = SKBitmap.Decode(image);
        var (left, top) = (bitmap.Width / 10, bitmap.Height / 10);
        using var cropped = new SKBitmap(bitmap.Width - left, bitmap.Height - top);
        using (var canvas = new SKCanvas(cropped))
        {
            canvas.DrawBitmap(bitmap, new SKRect(left, top, bitmap.Width, bitmap.Height), new SKRect(0, 0, cropped.Width, cropped.Height));
        }

        return TestImages.Encode(cropped, SKEncodedImageFormat.Jpeg, quality: 90);
    }
}
