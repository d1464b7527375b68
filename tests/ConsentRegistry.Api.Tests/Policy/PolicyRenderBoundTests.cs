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

/// <summary>
/// A host's crawler documents cost what their answer costs: a claim flood on the host re-renders
/// them at most once per interval (the last one is served meanwhile), and a render holds a
/// bounded number of entries however many subjects the host has.
/// </summary>
public sealed class PolicyRenderBoundTests
{
    private static readonly KeyValuePair<string, object?> FromStore = new("source", "store");

    [Fact]
    public async Task A_claim_flood_on_a_host_gets_the_last_document_and_no_new_render_within_the_interval()
    {
        const string host = "flood.policy.example";
        await using var app = await RegistryApp.StartAsync(new Dictionary<string, string?> { ["Registry:Policy:MinRenderInterval"] = "01:00:00" });
        using var client = app.CreateClient();
        using var renders = Metric(app, "registry.policy.renders");
        using var stale = Metric(app, "registry.policy.stale_served");
        using var artist = new TestSigner();
        await SubmitAsync(client, artist, TrainAiNo, Url($"https://{host}/first.jpg"));
        var first = await client.GetAsync($"/v1/hosts/{host}/robots.txt");
        var firstBody = await first.Content.ReadAsStringAsync();

        for (var i = 0; i < 20; i++)
        {
            await SubmitAsync(client, artist, TrainAiNo, Url($"https://{host}/flood/{i}.jpg"));
            var during = await client.GetAsync($"/v1/hosts/{host}/robots.txt");
            Assert.Equal(HttpStatusCode.OK, during.StatusCode);
            Assert.Equal(first.Headers.ETag, during.Headers.ETag); // the document still served, with its own validator
            Assert.Equal(firstBody, await during.Content.ReadAsStringAsync());
        }

        using var conditional = new HttpRequestMessage(HttpMethod.Get, $"/v1/hosts/{host}/robots.txt");
        conditional.Headers.IfNoneMatch.Add(first.Headers.ETag!);
        Assert.Equal(HttpStatusCode.NotModified, (await client.SendAsync(conditional)).StatusCode);
        Assert.Equal(1, renders.GetMeasurementSnapshot().Where(m => m.ContainsTags(FromStore)).Sum(m => m.Value));
        Assert.True(stale.GetMeasurementSnapshot().Sum(m => m.Value) >= 20);
    }

    [Fact]
    public async Task Once_the_interval_has_passed_the_next_request_gets_a_fresh_render()
    {
        const string host = "interval.policy.example";
        await using var app = await RegistryApp.StartAsync(new Dictionary<string, string?> { ["Registry:Policy:MinRenderInterval"] = "00:00:01" });
        using var client = app.CreateClient();
        using var renders = Metric(app, "registry.policy.renders");
        using var artist = new TestSigner();
        await SubmitAsync(client, artist, TrainAiNo, Url($"https://{host}/first.jpg"));
        var first = await client.GetAsync($"/v1/hosts/{host}/robots.txt");
        await SubmitAsync(client, artist, TrainAiNo, Url($"https://{host}/second.jpg"));

        await Task.Delay(TimeSpan.FromSeconds(1.2));
        var fresh = await client.GetAsync($"/v1/hosts/{host}/robots.txt");

        Assert.NotEqual(first.Headers.ETag, fresh.Headers.ETag);
        Assert.Contains("/second.jpg", await fresh.Content.ReadAsStringAsync());
        Assert.Equal(2, renders.GetMeasurementSnapshot().Where(m => m.ContainsTags(FromStore)).Sum(m => m.Value));
    }

    [Fact]
    public async Task By_default_a_request_after_a_change_gets_the_last_document_at_once_and_the_render_goes_on_behind_it()
    {
        const string host = "behind.policy.example";
        await using var app = await RegistryApp.StartAsync(new Dictionary<string, string?>
        {
            ["Registry:Policy:MinRenderInterval"] = "00:00:00",
            ["Registry:Policy:RevalidateWait"] = "00:00:00",
        });
        using var client = app.CreateClient();
        using var artist = new TestSigner();
        await SubmitAsync(client, artist, TrainAiNo, Url($"https://{host}/one.jpg"));
        var first = await client.GetAsync($"/v1/hosts/{host}/robots.txt");
        await SubmitAsync(client, artist, TrainAiNo, Enumerable.Range(0, 5_000).Select(i => Url($"https://{host}/two/{i}.jpg")).ToArray());

        var rightAfter = await client.GetAsync($"/v1/hosts/{host}/robots.txt");

        Assert.Equal(first.Headers.ETag, rightAfter.Headers.ETag);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        string body;
        do
        {
            await Task.Delay(50);
            body = await client.GetStringAsync($"/v1/hosts/{host}/robots.txt");
        }
        while (!body.Contains("/two/4999.jpg", StringComparison.Ordinal) && DateTime.UtcNow < deadline);

        Assert.Contains("/two/4999.jpg", body);
    }

    [Fact]
    public async Task A_first_request_that_would_wait_too_long_gets_503_with_retry_after_and_the_render_goes_on()
    {
        const string host = "slow.policy.example";
        await using var app = await RegistryApp.StartAsync(new Dictionary<string, string?> { ["Registry:Policy:FirstRenderWait"] = "00:00:00" });
        using var client = app.CreateClient();
        using var artist = new TestSigner();
        await SubmitAsync(client, artist, TrainAiNo, Enumerable.Range(0, 5_000).Select(i => Url($"https://{host}/{i % 50}/{i}.jpg")).ToArray());

        var first = await client.GetAsync($"/v1/hosts/{host}/robots.txt");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, first.StatusCode);
        Assert.Equal("application/problem+json", first.Content.Headers.ContentType?.MediaType);
        Assert.Equal(TimeSpan.FromSeconds(5), first.Headers.RetryAfter?.Delta);
        Assert.Equal("policy-rendering", (await first.JsonAsync()).GetProperty("code").GetString());
        var deadline = DateTime.UtcNow.AddSeconds(30);
        HttpResponseMessage later;
        do
        {
            await Task.Delay(50);
            later = await client.GetAsync($"/v1/hosts/{host}/robots.txt");
        }
        while (later.StatusCode != HttpStatusCode.OK && DateTime.UtcNow < deadline);

        Assert.Equal(HttpStatusCode.OK, later.StatusCode);
        Assert.Contains("Disallow: /49/4999.jpg$", await later.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task A_host_with_more_subjects_than_a_render_may_hold_gets_a_merged_document_built_within_the_bound()
    {
        const string host = "huge.policy.example";
        await using var app = await RegistryApp.StartAsync(new Dictionary<string, string?> { ["Registry:Policy:MaxRenderEntries"] = "1000" });
        using var client = app.CreateClient();
        using var artist = new TestSigner();
        for (var claim = 0; claim < 3; claim++)
        {
            await SubmitAsync(client, artist, TrainAiNo,
                Enumerable.Range(0, 2_000).Select(i => Url($"https://{host}/gallery{claim}/{i % 40}/{i}.jpg")).ToArray());
        }

        var robots = await client.GetAsync($"/v1/hosts/{host}/robots.txt");
        var body = await robots.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, robots.StatusCode);
        var documents = app.Services.GetRequiredService<HostPolicyDocuments>();
        Assert.InRange(documents.LastRenderPeakEntries, 1, 1001); // 6,000 subjects, never more than the bound held at once
        Assert.Contains("Disallow: /gallery0/", body); // merged to shorter paths: covers at least what was opted out
        Assert.Contains("Disallow: /gallery2/", body);
        Assert.DoesNotContain(".jpg$", body);
    }

    [Fact]
    public async Task A_merged_document_grants_no_path_that_was_cut_but_keeps_its_opt_outs()
    {
        const string host = "granted.policy.example";
        await using var app = await RegistryApp.StartAsync(new Dictionary<string, string?> { ["Registry:Policy:MaxRenderEntries"] = "1000" });
        using var client = app.CreateClient();
        using var artist = new TestSigner();
        var consent = await SubmitAsync(client, artist, new() { ["tdm"] = "y", ["train-ai"] = "y" },
            Enumerable.Range(0, 2_000).SelectMany(i => new[] { Url($"https://{host}/gallery/{i}.jpg"), Url($"http://{host}/gallery/{i}.jpg") }).ToArray()); // a host's documents grant what both schemes grant
        using var admin = app.CreateAdminClient();
        Assert.Equal(HttpStatusCode.OK, (await admin.PostAsync($"/v1/admin/claims/{consent}/review", null)).StatusCode); // so that its consents count
        await SubmitAsync(client, artist, TrainAiNo, Enumerable.Range(0, 2_000).Select(i => Url($"https://{host}/private/{i}.jpg")).ToArray());

        var robots = await (await client.GetAsync($"/v1/hosts/{host}/robots.txt")).Content.ReadAsStringAsync();
        var tdmrep = await (await client.GetAsync($"/v1/hosts/{host}/tdmrep.json")).Content.ReadAsStringAsync();
        var unclaimed = (await (await client.GetAsync($"/v1/policy?url=https://{host}/gallery/unclaimed.jpg")).JsonAsync()).GetProperty("decision");

        Assert.Equal("unknown", unclaimed.GetProperty("train-ai").GetString());
        Assert.DoesNotContain("=y", robots); // "/gallery/ train-ai=y" would grant the unclaimed file too
        Assert.DoesNotContain("\"tdm-reservation\":0", tdmrep.Replace(" ", "", StringComparison.Ordinal));
        Assert.Contains("Disallow: /private/", robots); // the opt-outs, merged, still cover every file
    }

    private static MetricCollector<long> Metric(RegistryApp app, string name) =>
        new(app.Services.GetRequiredService<IMeterFactory>(), RegistryMetrics.MeterName, name);
}
