using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Http.Headers;
using ConsentRegistry.Api.Observability;
using ConsentRegistry.Api.Policy;
using ConsentRegistry.Api.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using static ConsentRegistry.Api.Tests.Infrastructure.TestSigner;
using static ConsentRegistry.Api.Tests.Policy.PolicyClaims;

namespace ConsentRegistry.Api.Tests.Policy;

/// <summary>Which changes move a host's ETag, and how the rendered documents are cached.</summary>
public sealed class HostDocumentCacheTests(RegistryFixture registry) : IClassFixture<RegistryFixture>
{
    private readonly HttpClient _client = registry.Client;

    [Fact]
    public async Task A_subdomain_with_a_claim_that_also_covers_its_parent_with_subdomains_gets_both_documents()
    {
        using var artist = new TestSigner();
        await SubmitAsync(_client, artist, TrainAiNo, Host("both.policy.example", includeSubdomains: true), Url("https://www.both.policy.example/x.jpg"));

        var robots = await _client.GetAsync("/v1/hosts/www.both.policy.example/robots.txt");
        var tdmRep = await _client.GetAsync("/v1/hosts/www.both.policy.example/tdmrep.json");

        Assert.Equal(HttpStatusCode.OK, robots.StatusCode);
        Assert.Contains("Disallow: /\n", await robots.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.OK, tdmRep.StatusCode);
    }

    [Fact]
    public async Task A_subdomains_ETag_moves_with_a_host_claim_with_subdomains_on_its_parent_and_not_with_the_parents_url_claims()
    {
        const string parent = "etag-parent.policy.example";
        using var artist = new TestSigner();
        await SubmitAsync(_client, artist, TrainAiNo, Url($"https://www.{parent}/own.jpg"));
        var first = (await _client.GetAsync($"/v1/hosts/www.{parent}/robots.txt")).Headers.ETag;

        await SubmitAsync(_client, artist, TrainAiNo, Url($"https://{parent}/a.jpg"), Subject("url-prefix", $"https://{parent}/p/"));
        await SubmitAsync(_client, artist, TrainAiNo, Host(parent, includeSubdomains: false));
        var afterParentClaims = await _client.GetAsync($"/v1/hosts/www.{parent}/robots.txt");
        await SubmitAsync(_client, artist, TrainAiNo, Host(parent, includeSubdomains: true));
        var afterSubdomainClaim = await _client.GetAsync($"/v1/hosts/www.{parent}/robots.txt");

        Assert.Equal(first, afterParentClaims.Headers.ETag);
        Assert.DoesNotContain("/p/", await afterParentClaims.Content.ReadAsStringAsync());
        Assert.NotEqual(first, afterSubdomainClaim.Headers.ETag);
        Assert.Contains("Disallow: /\n", await afterSubdomainClaim.Content.ReadAsStringAsync());
    }

    [Theory]
    [InlineData("weak")]
    [InlineData("list")]
    [InlineData("star")]
    public async Task If_None_Match_answers_304_for_a_weak_tag_a_tag_in_a_list_or_a_star(string form)
    {
        var host = $"inm-{form}.policy.example";
        using var artist = new TestSigner();
        await SubmitAsync(_client, artist, TrainAiNo, Subject("url-prefix", $"https://{host}/a/"));
        var etag = (await _client.GetAsync($"/v1/hosts/{host}/tdmrep.json")).Headers.ETag!.Tag;
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/v1/hosts/{host}/tdmrep.json");
        var value = form switch
        {
            "weak" => "W/" + etag,
            "list" => $"\"other\", W/\"another\", {etag}",
            _ => "*",
        };
        Assert.True(request.Headers.TryAddWithoutValidation("If-None-Match", value));

        var response = await _client.SendAsync(request);
        using var stale = new HttpRequestMessage(HttpMethod.Get, $"/v1/hosts/{host}/tdmrep.json");
        stale.Headers.IfNoneMatch.Add(new EntityTagHeaderValue("\"1-signed-00000000\"", isWeak: true));
        var changed = await _client.SendAsync(stale);

        Assert.Equal(HttpStatusCode.NotModified, response.StatusCode);
        Assert.Equal(etag, response.Headers.ETag?.Tag);
        Assert.Equal(HttpStatusCode.OK, changed.StatusCode);
    }

    [Fact]
    public async Task Concurrent_first_requests_share_one_render_and_hosts_nobody_claimed_are_not_cached()
    {
        const string host = "concurrent.policy.example";
        using var artist = new TestSigner();
        await SubmitAsync(_client, artist, TrainAiNo, Enumerable.Range(0, 2_000).Select(i => Subject("url-prefix", $"https://{host}/{i}/")).ToArray());
        // This host's own meter (by its IMeterFactory): other registries in the test process do not count.
        using var renders = new MetricCollector<long>(registry.App.Services.GetRequiredService<IMeterFactory>(), RegistryMetrics.MeterName, "registry.policy.renders");

        var bodies = await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => RobotsAsync(_client, host)));
        var again = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => RobotsAsync(_client, host)));
        var unclaimed = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => RobotsAsync(_client, "nobody.policy.example")));

        Assert.Single(bodies.Concat(again).Distinct());
        Assert.Contains("Disallow: /1999/\n", bodies[0]);
        Assert.All(unclaimed, robots => Assert.Contains("Disallow:\n", robots));
        var measurements = renders.GetMeasurementSnapshot();
        Assert.Equal(1, measurements.Where(m => m.ContainsTags(new KeyValuePair<string, object?>("source", "store"))).Sum(m => m.Value));
        // Rendered afresh each time, never kept: made-up host names cannot fill the cache.
        Assert.Equal(20, measurements.Where(m => m.ContainsTags(new KeyValuePair<string, object?>("source", "unclaimed"))).Sum(m => m.Value));
    }
}
