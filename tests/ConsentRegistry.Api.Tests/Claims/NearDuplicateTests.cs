using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using ConsentRegistry.Api.Claims;
using ConsentRegistry.Api.Tests.Images;
using ConsentRegistry.Api.Tests.Infrastructure;
using ConsentRegistry.Api.Tests.Lookup;
using ConsentRegistry.Core.Pdq;
using static ConsentRegistry.Api.Tests.Infrastructure.TestHttp;

namespace ConsentRegistry.Api.Tests.Claims;

/// <summary>GET /v1/claims/{id}/near-duplicates (DESIGN.md 5.7): other parties' claims on the same picture, and whether they disagree.</summary>
public sealed class NearDuplicateTests(ImagesFixture registry) : IClassFixture<ImagesFixture>
{
    private readonly HttpClient _client = registry.Client;

    [Fact]
    public async Task Other_parties_claims_on_a_near_hash_are_listed_with_their_distance_and_whether_they_conflict()
    {
        var hash = PdqLookupTests.Near(new PdqHash(0x0123456789abcdef, 0xfedcba9876543210, 0x0f0f0f0f0f0f0f0f, 0x1234123412341234), 3);
        using var artist = new TestSigner();
        using var platform = new TestSigner();
        using var archive = new TestSigner();
        var optOut = await ClaimAsync(artist, "n", Pdq(hash));
        var sameArtistAgain = await ClaimAsync(artist, "n", Pdq(PdqLookupTests.Near(hash, 2)));
        var consent = await ClaimAsync(platform, "y", Pdq(PdqLookupTests.Near(hash, 10)));
        var agreeing = await ClaimAsync(archive, "n", Pdq(hash));
        var unrelated = await ClaimAsync(new TestSigner(), "y", Pdq(PdqLookupTests.Near(hash, 100)));

        var items = await NearDuplicatesAsync(optOut);

        Assert.Equal(
            [(consent, platform.Party, "pdq", 10, true), (agreeing, archive.Party, "pdq", 0, false)],
            items.Select(i => (i.GetProperty("claim").GetString(), i.GetProperty("party").GetString(), i.GetProperty("by").GetString(),
                i.GetProperty("distance").GetInt32(), i.GetProperty("conflict").GetBoolean())).ToArray());
        Assert.DoesNotContain(items, i => i.GetProperty("claim").GetString() is var c && (c == sameArtistAgain || c == unrelated));
        Assert.Contains(await NearDuplicatesAsync(consent), i => i.GetProperty("claim").GetString() == optOut && i.GetProperty("conflict").GetBoolean());
    }

    [Fact]
    public async Task Another_partys_claim_is_listed_however_many_claims_of_ones_own_match_the_same_picture()
    {
        var hash = PdqLookupTests.Near(new PdqHash(0x1111222233334444, 0x5555666677778888, 0x99990000aaaabbbb, 0xccccddddeeeeffff), 5);
        using var artist = new TestSigner();
        using var platform = new TestSigner();
        var optOut = await ClaimAsync(artist, "n", Pdq(hash));
        var consent = await ClaimAsync(platform, "y", Pdq(PdqLookupTests.Near(hash, 2)));

        // Newer, so listed first by a lookup: sixteen of them filled its listing before another party's claim was reached.
        for (var i = 0; i < 17; i++)
        {
            await ClaimAsync(artist, "n", Pdq(PdqLookupTests.Near(hash, 4 + i)));
        }

        var items = await NearDuplicatesAsync(optOut);

        var item = Assert.Single(items);
        Assert.Equal((consent, true), (item.GetProperty("claim").GetString(), item.GetProperty("conflict").GetBoolean()));
    }

    [Fact]
    public async Task Claims_on_the_same_pictures_embedding_are_listed_by_similarity_and_a_revoked_one_drops_out()
    {
        var image = (await _client.HashImageAsync(TestImages.ReadPdqData("reg-test-input/labelme-subset/q0003.jpg"))).GetProperty("embeddings")[0];
        var subject = new JsonObject { ["kind"] = "embedding", ["model"] = image.GetProperty("model").GetString(), ["value"] = image.GetProperty("value").GetString() };
        using var artist = new TestSigner();
        using var other = new TestSigner();
        var mine = await ClaimAsync(artist, "n", subject);
        var theirs = await ClaimAsync(other, "n", (JsonObject)subject.DeepClone());

        var item = Assert.Single(await NearDuplicatesAsync(mine));
        Assert.Equal((theirs, "embedding", false), (item.GetProperty("claim").GetString(), item.GetProperty("by").GetString(), item.GetProperty("conflict").GetBoolean()));
        Assert.True(item.GetProperty("similarity").GetDouble() > 0.999);
        Assert.False(item.TryGetProperty("distance", out _));

        var revoked = await _client.PostAsync($"/v1/claims/{theirs}/revocation", Jose(other.Revocation(theirs)));
        Assert.Equal(HttpStatusCode.Created, revoked.StatusCode);
        Assert.Empty(await NearDuplicatesAsync(mine));
    }

    [Fact]
    public async Task Pairs_that_disagree_are_recorded_as_open_conflicts_for_admins_until_one_claim_is_revoked()
    {
        var hash = PdqLookupTests.Near(new PdqHash(0x1111222233334444, 0x5555666677778888, 0x9999aaaabbbbcccc, 0xddddeeeeffff0000), 5);
        using var artist = new TestSigner();
        using var platform = new TestSigner();
        using var archive = new TestSigner();
        var optOut = await ClaimAsync(artist, "n", Pdq(hash));
        var consent = await ClaimAsync(platform, "y", Pdq(PdqLookupTests.Near(hash, 4)));
        var agreeing = await ClaimAsync(archive, "n", Pdq(hash));
        using var admin = registry.App.CreateAdminClient();

        // The consent disagrees with both opt-outs; the two opt-outs agree.
        List<JsonElement> mine = [];
        await Eventually.HoldsAsync(async () =>
        {
            mine = (await ConflictsAsync(admin)).Where(c => Claims(c).Intersect([optOut, consent, agreeing]).Any()).ToList();
            return mine.Count == 2;
        }, "the recorder lists the two conflicts among the three claims");

        Assert.Equal(
            new[] { Pair(optOut, consent), Pair(agreeing, consent) }.Order(StringComparer.Ordinal),
            mine.Select(c => string.Join(' ', Claims(c))).Order(StringComparer.Ordinal));
        var conflict = mine.Single(c => Claims(c).Contains(optOut));
        Assert.Equal(("pdq", 4), (conflict.GetProperty("by").GetString(), conflict.GetProperty("distance").GetInt32()));
        var parties = conflict.GetProperty("claims").EnumerateArray().ToDictionary(c => c.GetProperty("claim").GetString()!, c => c.GetProperty("party").GetString());
        Assert.Equal((artist.Party, platform.Party), (parties[optOut], parties[consent]));
        Assert.Equal("y", conflict.GetProperty("claims").EnumerateArray().Single(c => c.GetProperty("claim").GetString() == consent)
            .GetProperty("usage").GetProperty("train-ai").GetString());

        Assert.Equal(HttpStatusCode.Created, (await _client.PostAsync($"/v1/claims/{consent}/revocation", Jose(platform.Revocation(consent)))).StatusCode);
        Assert.DoesNotContain(await ConflictsAsync(admin), c => Claims(c).Contains(consent));
    }

    [Fact]
    public async Task A_conflict_is_left_out_while_a_newer_claim_of_the_same_party_on_the_picture_agrees_and_listed_again_once_that_one_is_revoked()
    {
        var hash = PdqLookupTests.Near(new PdqHash(0x2468ace013579bdf, 0x0011223344556677, 0x8899aabbccddeeff, 0x7766554433221100), 5);
        using var artist = new TestSigner();
        using var platform = new TestSigner();
        var near = PdqLookupTests.Near(hash, 4);
        var optOut = await ClaimAsync(artist, "n", Pdq(hash));
        var consent = await ClaimAsync(platform, "y", Pdq(near));
        using var admin = registry.App.CreateAdminClient();
        await Eventually.HoldsAsync(async () => (await ConflictsAsync(admin)).Any(c => Claims(c).Contains(consent)), "the recorder lists the conflict");

        // The platform changes its mind: its newer claim on the same hash opts out too, and supersedes the consent.
        var changed = await ClaimAsync(platform, "n", Pdq(near));
        Assert.DoesNotContain(await NearDuplicatesAsync(optOut), i => i.GetProperty("claim").GetString() == consent);
        Assert.DoesNotContain(await ConflictsAsync(admin), c => Claims(c).Contains(consent));

        Assert.Equal(HttpStatusCode.Created, (await _client.PostAsync($"/v1/claims/{changed}/revocation", Jose(platform.Revocation(changed)))).StatusCode);
        var conflict = Assert.Single(await ConflictsAsync(admin), c => Claims(c).Contains(consent));
        Assert.Equal((Pair(optOut, consent), "pdq", 4),
            (string.Join(' ', Claims(conflict)), conflict.GetProperty("by").GetString(), conflict.GetProperty("distance").GetInt32()));
    }

    [Fact]
    public async Task A_conflict_stays_listed_when_newer_claims_on_the_picture_fill_a_search_past_its_limit()
    {
        var hash = PdqLookupTests.Near(new PdqHash(0x0f1e2d3c4b5a6978, 0x8796a5b4c3d2e1f0, 0x1357924680acebdf, 0xfdb97531eca86420), 5);
        using var artist = new TestSigner();
        using var platform = new TestSigner();
        var optOut = await ClaimAsync(artist, "n", Pdq(hash));
        var consent = await ClaimAsync(platform, "y", Pdq(PdqLookupTests.Near(hash, 4)));
        using var admin = registry.App.CreateAdminClient();
        await Eventually.HoldsAsync(async () => (await ConflictsAsync(admin)).Any(c => Claims(c).Contains(consent)), "the recorder lists the conflict");

        // The opt-out's search takes 256 other parties' claims a hash, the newest first: these push the consent out of it.
        for (var i = 0; i < NearDuplicateSearch.MaxMatchesPerSubject; i++)
        {
            await ClaimAsync(platform, "n", Pdq(PdqLookupTests.Near(hash, 6)));
        }

        Assert.Single(await ConflictsAsync(admin), c => Claims(c).Contains(consent)); // a search cut at its limit disproves nothing
    }

    [Fact]
    public async Task Two_claims_that_disagree_on_a_picture_both_hash_and_embedding_find_are_one_conflict()
    {
        var image = await _client.HashImageAsync(TestImages.ReadPdqData("reg-test-input/labelme-subset/q0746.jpg"));
        var embedding = image.GetProperty("embeddings")[0];
        JsonObject[] Subjects() =>
        [
            Pdq(PdqHash.ParseHex(image.GetProperty("pdq").GetString()!)),
            new JsonObject { ["kind"] = "embedding", ["model"] = embedding.GetProperty("model").GetString(), ["value"] = embedding.GetProperty("value").GetString() },
        ];
        using var artist = new TestSigner();
        using var platform = new TestSigner();
        var optOut = await ClaimAsync(artist, "n", Subjects());
        var consent = await ClaimAsync(platform, "y", Subjects());
        Assert.Equal(["embedding", "pdq"], (await NearDuplicatesAsync(optOut)).Select(i => i.GetProperty("by").GetString()).Order(StringComparer.Ordinal));
        using var admin = registry.App.CreateAdminClient();

        await Eventually.HoldsAsync(async () => (await ConflictsAsync(admin)).Any(c => Claims(c).Contains(consent)), "the recorder lists the conflict");

        Assert.Single(await ConflictsAsync(admin), c => Claims(c).Contains(consent));
    }

    [Fact]
    public async Task The_conflicts_list_is_for_admins_and_checks_its_paging()
    {
        Assert.Equal(HttpStatusCode.Unauthorized, (await _client.GetAsync("/v1/admin/conflicts")).StatusCode);
        using var admin = registry.App.CreateAdminClient();
        await AssertProblemAsync(await admin.GetAsync("/v1/admin/conflicts?limit=0"), HttpStatusCode.BadRequest, "invalid-query");
        await AssertProblemAsync(await admin.GetAsync("/v1/admin/conflicts?after=-1"), HttpStatusCode.BadRequest, "invalid-query");
        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync("/v1/admin/conflicts?after=0&limit=500")).StatusCode);
    }

    [Fact]
    public async Task An_unknown_or_malformed_claim_id_is_a_problem()
    {
        await AssertProblemAsync(await _client.GetAsync($"/v1/claims/{new string('a', 64)}/near-duplicates"), HttpStatusCode.NotFound, "claim-not-found");
        await AssertProblemAsync(await _client.GetAsync("/v1/claims/not-an-id/near-duplicates"), HttpStatusCode.BadRequest, "invalid-claim-id");
    }

    private static JsonObject Pdq(PdqHash hash) => TestSigner.Subject("pdq", hash.ToHex());

    private async Task<string> ClaimAsync(TestSigner signer, string trainAi, params JsonObject[] subjects)
    {
        var response = await _client.PostAsync("/v1/claims", Jose(signer.Sign(TestSigner.Claim(subjects, new JsonObject { ["train-ai"] = trainAi }))));
        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
        return (await response.JsonAsync()).GetProperty("id").GetString()!;
    }

    private static async Task<List<JsonElement>> ConflictsAsync(HttpClient admin)
    {
        var items = new List<JsonElement>();
        for (string? after = "0"; after is not null;)
        {
            var response = await admin.GetAsync($"/v1/admin/conflicts?after={after}&limit=2");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var page = await response.JsonAsync();
            items.AddRange(page.GetProperty("items").EnumerateArray());
            after = page.GetProperty("next_after").ValueKind == JsonValueKind.Null ? null : page.GetProperty("next_after").GetInt64().ToString();
        }

        return items;
    }

    private static string Pair(string a, string b) => string.CompareOrdinal(a, b) < 0 ? $"{a} {b}" : $"{b} {a}";

    private static string[] Claims(JsonElement conflict) =>
        conflict.GetProperty("claims").EnumerateArray().Select(c => c.GetProperty("claim").GetString()!).ToArray();

    private async Task<JsonElement[]> NearDuplicatesAsync(string claim)
    {
        var response = await _client.GetAsync($"/v1/claims/{claim}/near-duplicates");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await response.JsonAsync()).GetProperty("items").EnumerateArray().ToArray();
    }
}
