using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using ConsentRegistry.Api.Tests.Infrastructure;
using static ConsentRegistry.Api.Tests.Infrastructure.TestSigner;
using static ConsentRegistry.Api.Tests.Policy.PolicyClaims;
using static ConsentRegistry.Api.Tests.Infrastructure.TestHttp;

namespace ConsentRegistry.Api.Tests.Policy;

public sealed partial class PolicyDocumentTests(RegistryFixture registry) : IClassFixture<RegistryFixture>
{
    private readonly HttpClient _client = registry.Client;

    /// <summary>A registry that answers keyed callers only: no shared cache may pass one caller's document on to others.</summary>
    [Fact]
    public async Task Where_lookups_need_a_key_the_host_documents_may_be_kept_by_the_caller_only()
    {
        await using var app = await RegistryApp.StartAsync(new Dictionary<string, string?> { ["Registry:Lookup:AllowAnonymous"] = "false" });
        using var admin = app.CreateAdminClient();
        var key = (await (await admin.PostAsJsonAsync("/v1/admin/api-keys", new { name = "crawler" })).JsonAsync()).GetProperty("key").GetString();
        using var client = app.CreateClient();
        client.DefaultRequestHeaders.TryAddWithoutValidation("Authorization", $"API {key}");
        using var artist = new TestSigner();
        await SubmitAsync(client, artist, new() { ["train-ai"] = "n" }, Url("https://keyed.policy.example/a.jpg"));

        foreach (var document in new[] { "robots.txt", "tdmrep.json" })
        {
            var response = await client.GetAsync($"/v1/hosts/keyed.policy.example/{document}");

            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var cache = response.Headers.CacheControl!;
            Assert.True(cache.Private && !cache.Public, cache.ToString());
            Assert.Equal(TimeSpan.FromHours(1), cache.MaxAge);
        }
    }

    [Fact]
    public async Task A_url_policy_carries_the_decision_as_Content_Usage_X_Robots_Tag_and_tdm_reservation_headers()
    {
        using var artist = new TestSigner();
        var id = await SubmitAsync(_client, artist, new() { ["tdm"] = "n", ["search"] = "y", ["ai-use"] = "n" }, Url("https://headers.policy.example/a.jpg"));

        var response = await _client.GetAsync("/v1/policy?url=HTTPS://Headers.Policy.Example:443/a.jpg#frag");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var usage = Assert.Single(response.Headers.GetValues("Content-Usage"));
        Assert.Matches(StructuredDictionary(), usage);
        Assert.Equal("tdm=n, train-ai=n, train-genai=n, ai-use=n", usage); // search=y is signed only: it does not count
        Assert.Equal("noai, noimageai", Assert.Single(response.Headers.GetValues("X-Robots-Tag")));
        Assert.Equal("1", Assert.Single(response.Headers.GetValues("tdm-reservation")));
        var body = await response.JsonAsync();
        Assert.Equal("https://headers.policy.example/a.jpg", body.GetProperty("url").GetString());
        Assert.True(body.GetProperty("seq").GetInt64() > 0);
        Assert.Equal("disallow", body.GetProperty("decision").GetProperty("train-ai").GetString());
        Assert.Equal("unknown", body.GetProperty("decision").GetProperty("search").GetString());
        Assert.Equal(id, body.GetProperty("matches")[0].GetProperty("claim").GetString());
    }

    [Fact]
    public async Task A_url_nobody_claimed_gets_no_policy_headers()
    {
        var response = await _client.GetAsync("/v1/policy?url=" + Uri.EscapeDataString("https://unclaimed.policy.example/x.jpg"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.False(response.Headers.Contains("Content-Usage"));
        Assert.False(response.Headers.Contains("X-Robots-Tag"));
        Assert.False(response.Headers.Contains("tdm-reservation"));
        Assert.Empty((await response.JsonAsync()).GetProperty("matches").EnumerateArray());
    }

    [Theory]
    [InlineData("/v1/policy", "url", "invalid-url")]
    [InlineData("/v1/policy?url=ftp://files.example/a.jpg", "url", "invalid-url")]
    [InlineData("/v1/policy?url=not%20a%20url", "url", "invalid-url")]
    [InlineData("/v1/hosts/user@host.example/robots.txt", "host", "invalid-host")]
    [InlineData("/v1/hosts/host.example:8080/robots.txt", "host", "invalid-host")]
    [InlineData("/v1/hosts/host.example%2Fpath/robots.txt", "host", "invalid-host")]
    [InlineData("/v1/hosts/bad%20host.example/tdmrep.json", "host", "invalid-host")]
    [InlineData("/v1/hosts/a%0AUser-agent:%20x/robots.txt", "host", "invalid-host")]
    public async Task Bad_input_gets_400_problem_json_naming_the_field(string path, string field, string code)
    {
        var response = await _client.GetAsync(path);

        var problem = await AssertProblemAsync(response, HttpStatusCode.BadRequest, code);
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _));
    }

    [Fact]
    public async Task A_url_whose_own_query_string_was_not_percent_encoded_is_refused_not_decided_cut_short()
    {
        var cut = await _client.GetAsync("/v1/policy?url=https://query.policy.example/a.jpg?w=1&h=2");
        var encoded = await _client.GetAsync("/v1/policy?url=" + Uri.EscapeDataString("https://query.policy.example/a.jpg?w=1&h=2"));

        var problem = await AssertProblemAsync(cut, HttpStatusCode.BadRequest, "invalid-query");
        Assert.True(problem.GetProperty("errors").TryGetProperty("h", out _));
        Assert.Contains("percent-encode", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, encoded.StatusCode);
        Assert.Equal("https://query.policy.example/a.jpg?w=1&h=2", (await encoded.JsonAsync()).GetProperty("url").GetString());
    }

    [Fact]
    public async Task Robots_txt_is_cached_by_ETag_and_changes_at_once_with_a_claim_a_revocation_or_a_trust_change()
    {
        const string host = "cache.policy.example";
        using var artist = new TestSigner();
        await SubmitAsync(_client, artist, TrainAiNo, Subject("url-prefix", $"https://{host}/a/"));
        var first = await _client.GetAsync($"/v1/hosts/{host}/robots.txt");
        var etag = first.Headers.ETag!;

        var again = await GetIfNoneMatchAsync($"/v1/hosts/{host}/robots.txt", etag);
        var consent = await SubmitAsync(_client, artist, new() { ["search"] = "y" }, Subject("url-prefix", $"https://{host}/b/"), Subject("url-prefix", $"http://{host}/b/"));
        var afterClaim = await GetIfNoneMatchAsync($"/v1/hosts/{host}/robots.txt", etag);
        using var admin = registry.App.CreateAdminClient();
        Assert.Equal(HttpStatusCode.OK, (await admin.PostAsync($"/v1/admin/claims/{consent}/review", null)).StatusCode);
        var afterReview = await GetIfNoneMatchAsync($"/v1/hosts/{host}/robots.txt", afterClaim.Headers.ETag!);
        await RevokeAsync(_client, artist, consent);
        var afterRevocation = await GetIfNoneMatchAsync($"/v1/hosts/{host}/robots.txt", afterReview.Headers.ETag!);

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.False(etag.IsWeak);
        Assert.Equal("public, max-age=3600", first.Headers.CacheControl?.ToString());
        Assert.Equal(HttpStatusCode.NotModified, again.StatusCode);
        Assert.Equal(etag, again.Headers.ETag);
        Assert.Equal(HttpStatusCode.OK, afterClaim.StatusCode);
        Assert.DoesNotContain("/b/", await afterClaim.Content.ReadAsStringAsync()); // a signed consent does not count
        Assert.Equal(HttpStatusCode.OK, afterReview.StatusCode);
        Assert.Contains("Content-Usage: /b/ search=y\n", await afterReview.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.OK, afterRevocation.StatusCode);
        Assert.DoesNotContain("/b/", await afterRevocation.Content.ReadAsStringAsync());
        Assert.Equal(4, new[] { etag, afterClaim.Headers.ETag, afterReview.Headers.ETag, afterRevocation.Headers.ETag }.Distinct().Count());
    }

    [Fact]
    public async Task TDMRep_lists_reservations_most_specific_first_with_the_claims_policy_url()
    {
        const string host = "tdmrep.policy.example";
        using var artist = new TestSigner();
        await SubmitWithTermsAsync(_client, artist, new() { ["tdm"] = "n" }, new() { ["license"] = "https://artist.example/licence" },
            Subject("url-prefix", $"https://{host}/portfolio/"));
        await SubmitAsync(_client, artist, new() { ["tdm"] = "n" }, Url($"https://{host}/one*star$.jpg"));
        await SubmitAsync(_client, artist, TrainAiNo, Subject("url-prefix", $"https://{host}/training-only/"));

        var response = await _client.GetAsync($"/v1/hosts/{host}/tdmrep.json");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        Assert.NotNull(response.Headers.ETag);
        var entries = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.EnumerateArray().ToList();
        // An exact URL ends in "$" (TDMRep's end anchor); its * and $ are written encoded and, as it is reserved, literally too.
        Assert.Equal(["/one%2Astar%24.jpg$", "/one*star$.jpg$", "/portfolio/*"], entries.Select(e => e.GetProperty("location").GetString()));
        Assert.All(entries, e => Assert.Equal(1, e.GetProperty("tdm-reservation").GetInt32()));
        Assert.Equal("https://artist.example/licence", entries[2].GetProperty("tdm-policy").GetString());
        Assert.False(entries[0].TryGetProperty("tdm-policy", out _));
    }

    [Theory]
    [InlineData("/v1/policy?url=https://head.policy.example/a.jpg", false)]
    [InlineData("/v1/hosts/head.policy.example/robots.txt", true)]
    [InlineData("/v1/hosts/head.policy.example/tdmrep.json", true)]
    public async Task HEAD_answers_with_the_headers_of_GET_and_no_body_and_304_on_a_matching_ETag(string path, bool cached)
    {
        using var artist = new TestSigner();
        await SubmitAsync(_client, artist, new() { ["tdm"] = "n", ["train-ai"] = "n" }, Url("https://head.policy.example/a.jpg"));
        var get = await _client.GetAsync(path);

        using var head = await _client.SendAsync(new HttpRequestMessage(HttpMethod.Head, path));

        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
        Assert.Empty(await head.Content.ReadAsByteArrayAsync());
        Assert.Equal(get.Content.Headers.ContentType, head.Content.Headers.ContentType);
        foreach (var header in new[] { "Content-Usage", "X-Robots-Tag", "tdm-reservation", "ETag", "Cache-Control" })
        {
            Assert.Equal(get.Headers.TryGetValues(header, out var expected) ? expected : null, head.Headers.TryGetValues(header, out var actual) ? actual : null);
        }

        if (cached)
        {
            Assert.NotNull(head.Headers.ETag);
            using var conditional = new HttpRequestMessage(HttpMethod.Head, path);
            conditional.Headers.IfNoneMatch.Add(head.Headers.ETag!);
            Assert.Equal(HttpStatusCode.NotModified, (await _client.SendAsync(conditional)).StatusCode);
        }
        else
        {
            Assert.Equal("noai, noimageai", Assert.Single(head.Headers.GetValues("X-Robots-Tag")));
        }
    }

    [Fact]
    public async Task An_IDN_host_is_served_under_its_punycode_form()
    {
        using var artist = new TestSigner();
        await SubmitAsync(_client, artist, TrainAiNo, Subject("url-prefix", "https://bücher.policy.example/scans/"));

        var unicode = await RobotsAsync(_client, Uri.EscapeDataString("BÜCHER.policy.example"));
        var punycode = await RobotsAsync(_client, "xn--bcher-kva.policy.example");

        Assert.Contains("Disallow: /scans/\n", unicode);
        Assert.Equal(punycode, unicode);
    }

    private async Task<HttpResponseMessage> GetIfNoneMatchAsync(string path, EntityTagHeaderValue etag)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.IfNoneMatch.Add(etag);
        return await _client.SendAsync(request);
    }

    // RFC 8941 dictionary: key "=" token, members joined by ", "; our values are the tokens y and n.
    [GeneratedRegex(@"^[a-z*][a-z0-9_\-.*]*=[yn](, [a-z*][a-z0-9_\-.*]*=[yn])*$")]
    private static partial Regex StructuredDictionary();
}
