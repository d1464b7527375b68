using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using ConsentRegistry.Api.Tests.Images;
using ConsentRegistry.Api.Tests.Infrastructure;
using static ConsentRegistry.Api.Tests.Infrastructure.TestHttp;
using ConsentRegistry.Core.Claims;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Exporter;
using SkiaSharp;
using static ConsentRegistry.Api.Tests.Claims.ClaimSubmissionTests;

namespace ConsentRegistry.Api.Tests.Observability;

/// <summary>/metrics (DESIGN.md 7): the registry's series move with what clients do, and only the allowed see them.</summary>
[Collection(MetricsCollection.Name)]
public sealed class MetricsTests
{
    private const string Artist = "https://metrics-artist.example";

    [Fact]
    public async Task Claims_lookups_and_image_hashing_move_their_series_by_exactly_what_was_done()
    {
        await using var app = await StartAsync();
        using var client = app.CreateClient();
        using var signer = new TestSigner();
        var pdq = new string('5', 64);
        var before = await ScrapeAsync(client);

        var claim = signer.Sign(TestSigner.Claim(
            [TestSigner.Url($"{Artist}/cat.jpg"), TestSigner.Url($"{Artist}/dog.jpg"), TestSigner.Subject("pdq", pdq)],
            new JsonObject { ["train-ai"] = "n" }));
        var accepted = await client.PostAsync("/v1/claims", Jose(claim));
        Assert.Equal(HttpStatusCode.Created, accepted.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync("/v1/claims", Jose(claim))).StatusCode); // stored already: not counted again
        Assert.Equal(HttpStatusCode.BadRequest, (await client.PostAsync("/v1/claims", Jose("not-a-jws"))).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await client.PostAsync("/v1/claims", Jose(claim[..^4] + "AAAA"))).StatusCode);
        var noSubjects = signer.Sign(TestSigner.Claim([], new JsonObject { ["tdm"] = "n" }));
        Assert.Equal(HttpStatusCode.BadRequest, (await client.PostAsync("/v1/claims", Jose(noSubjects))).StatusCode);

        await LookupAsync(client, "/v1/lookup", "application/json",
            $$"""{"items":[{"url":"{{Artist}}/cat.jpg"},{"pdq":"{{pdq}}"},{"url":"https://nobody.example/x.jpg"},{"url":"ftp://nope"}]}""");
        await LookupAsync(client, "/v1/lookup/stream", "application/x-ndjson",
            $$"""{"url":"{{Artist}}/dog.jpg"}""" + "\n" + """{"url":"https://nobody.example/"}""" + "\nnot json\n");
        await LookupAsync(client, "/api/v2/query/urls", "text/plain", $"{Artist}/cat.jpg\nhttps://nobody.example/y.jpg\nftp://nope\n");
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync($"/v1/policy?url={Uri.EscapeDataString(Artist + "/cat.jpg")}")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await client.GetAsync("/v1/policy?url=nonsense")).StatusCode);

        using var bitmap = TestImages.Bitmap(64, 64);
        await client.HashImageAsync(TestImages.Encode(bitmap, SKEncodedImageFormat.Png));
        using var garbage = ImageUploads.Form("this is no image"u8.ToArray());
        await TestHttp.AssertProblemAsync(await client.PostAsync("/v1/images", garbage), HttpStatusCode.UnsupportedMediaType, "unsupported-image-format");

        var after = await ScrapeAsync(client);
        double Moved(string name, params (string, string)[] labels) => after.Sum(name, labels) - before.Sum(name, labels);

        Assert.Equal(1, Moved("registry_claims_accepted_total"));
        Assert.Equal(3, Moved("registry_subjects_accepted_total"));
        Assert.Equal(1, Moved("registry_claims_refused_total", ("reason", ClaimErrorCodes.MalformedJws)));
        Assert.Equal(1, Moved("registry_claims_refused_total", ("reason", ClaimErrorCodes.BadSignature)));
        Assert.Equal(1, Moved("registry_claims_refused_total", ("reason", ClaimErrorCodes.InvalidPayload)));
        Assert.Equal(3, Moved("registry_claims_refused_total"));

        Assert.Equal(2, Moved("registry_lookup_items_total", ("endpoint", "/v1/lookup"), ("outcome", "matched")));
        Assert.Equal(1, Moved("registry_lookup_items_total", ("endpoint", "/v1/lookup"), ("outcome", "unmatched")));
        Assert.Equal(1, Moved("registry_lookup_items_total", ("endpoint", "/v1/lookup"), ("outcome", "error")));
        foreach (var endpoint in new[] { "/v1/lookup/stream", "/api/v2/query/urls" })
        {
            Assert.Equal(1, Moved("registry_lookup_items_total", ("endpoint", endpoint), ("outcome", "matched")));
            Assert.Equal(1, Moved("registry_lookup_items_total", ("endpoint", endpoint), ("outcome", "unmatched")));
            Assert.Equal(1, Moved("registry_lookup_items_total", ("endpoint", endpoint), ("outcome", "error")));
        }

        Assert.Equal(1, Moved("registry_lookup_items_total", ("endpoint", "/v1/policy"), ("outcome", "matched")));
        Assert.Equal(1, Moved("registry_lookup_items_total", ("endpoint", "/v1/policy"), ("outcome", "error")));
        Assert.Equal(1, Moved("registry_pdq_search_duration_seconds_count"));
        Assert.True(Moved("registry_pdq_search_duration_seconds_sum") > 0);
        Assert.Equal(1, Moved("registry_pdq_search_duration_seconds_bucket", ("le", "+Inf")));
        Assert.Equal(1, Moved("registry_images_embedding_duration_seconds_count", ("model", "resnet18-gem-v2"), ("provider", "cpu")));

        Assert.Equal(1, Moved("registry_images_decodes_total", ("outcome", "hashed")));
        Assert.Equal(1, Moved("registry_images_decodes_total", ("outcome", "unsupported-image-format")));
        Assert.Equal(0, after.Single("registry_images_decode_queue"));

        var seq = (await accepted.JsonAsync()).GetProperty("seq").GetInt64();
        Assert.Equal(seq, after.Single("registry_log_seq"));
        Assert.Equal(seq, after.Single("registry_index_seq"));
        Assert.Equal(0, after.Single("registry_index_lag"));
        Assert.Equal(1, after.Single("registry_index_ready"));
        Assert.Equal(1, after.Single("registry_index_claims"));
        Assert.Equal(2, after.Single("registry_index_subjects", ("kind", "url")));
        Assert.Equal(1, after.Single("registry_index_subjects", ("kind", "pdq")));
        Assert.Equal(0, after.Single("registry_index_subjects", ("kind", "host")));
        Assert.True(after.Single("registry_index_memory_bytes") > before.Single("registry_index_memory_bytes"));

        // ASP.NET Core's and the runtime's instruments are there too.
        Assert.True(Moved("http_server_request_duration_seconds_count", ("http_route", "/v1/lookup"), ("http_response_status_code", "200")) >= 1);
        Assert.True(after.Has("dotnet_gc_heap_total_allocated_bytes_total"), "the runtime's series are missing");
    }

    [Fact]
    public async Task Loopback_scrapes_without_credentials_and_gets_prometheus_text()
    {
        await using var app = await StartAsync();
        using var client = app.CreateClient();

        var response = await client.GetAsync("/metrics");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("# TYPE registry_index_seq gauge", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task A_caller_outside_the_allowed_networks_needs_the_admin_key_and_a_forwarded_for_header_does_not_help()
    {
        await using var app = await StartAsync(new() { ["Registry:Metrics:AllowedNetworks:0"] = "10.0.0.0/8" });
        using var anonymous = app.CreateClient();
        using var forwarded = app.CreateClient();
        forwarded.DefaultRequestHeaders.Add("X-Forwarded-For", "10.1.2.3");
        forwarded.DefaultRequestHeaders.Add("X-Real-IP", "10.1.2.3");
        using var admin = app.CreateAdminClient();
        var clientKey = (await (await admin.PostAsJsonAsync("/v1/admin/api-keys", new { name = "dataset builder" })).JsonAsync()).GetProperty("key").GetString();
        using var withClientKey = app.CreateClient();
        withClientKey.DefaultRequestHeaders.TryAddWithoutValidation("Authorization", $"API {clientKey}");
        using var withWrongKey = app.CreateClient();
        withWrongKey.DefaultRequestHeaders.TryAddWithoutValidation("Authorization", "API not-a-key-of-this-registry");

        await TestHttp.AssertProblemAsync(await anonymous.GetAsync("/metrics"), HttpStatusCode.Unauthorized, "unauthorized");
        await TestHttp.AssertProblemAsync(await forwarded.GetAsync("/metrics"), HttpStatusCode.Unauthorized, "unauthorized");
        await TestHttp.AssertProblemAsync(await withWrongKey.GetAsync("/metrics"), HttpStatusCode.Unauthorized, "unauthorized");
        await TestHttp.AssertProblemAsync(await withClientKey.GetAsync("/metrics"), HttpStatusCode.Forbidden, "forbidden");
        var scraped = await admin.GetAsync("/metrics");
        Assert.Equal(HttpStatusCode.OK, scraped.StatusCode);
        Assert.True(PrometheusText.Parse(await scraped.Content.ReadAsStringAsync()).Has("registry_index_seq"));
    }

    [Fact]
    public async Task An_empty_list_of_networks_leaves_only_the_admin_key()
    {
        // As a JSON file writes it: "AllowedNetworks": [] binds to an empty list, not to the default.
        await using var app = await StartAsync(new() { ["Registry:Metrics:AllowedNetworks"] = "" });
        using var anonymous = app.CreateClient();
        using var admin = app.CreateAdminClient();

        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/metrics")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync("/metrics")).StatusCode);
    }

    [Fact]
    public async Task No_label_carries_a_key_a_url_a_host_or_a_party_id_and_the_registrys_labels_come_from_closed_sets()
    {
        await using var app = await StartAsync(new() { ["Registry:Lookup:RequestsPerSecondPerKey"] = "1" });
        using var admin = app.CreateAdminClient();
        var clientKey = (await (await admin.PostAsJsonAsync("/v1/admin/api-keys", new { name = "secret-name-of-a-key" })).JsonAsync()).GetProperty("key").GetString()!;
        using var keyed = app.CreateClient();
        keyed.DefaultRequestHeaders.TryAddWithoutValidation("Authorization", $"API {clientKey}");
        using var signer = new TestSigner();
        var url = $"{Artist}/private/sunset.jpg";
        var jws = signer.Sign(TestSigner.Claim([TestSigner.Url(url), TestSigner.Subject("host", "private-host.example")], new JsonObject { ["tdm"] = "n" }));
        Assert.Equal(HttpStatusCode.Created, (await keyed.PostAsync("/v1/claims", Jose(jws))).StatusCode);
        for (var i = 0; i < 4; i++)
        {
            // Beyond the key's burst of 2, some of these get 429: the rejections are counted too.
            await keyed.PostAsync("/v1/lookup", JsonContent.Create(new { items = new[] { new { url }, new { url = "https://private-host.example/a?token=s3cr3t" } } }));
        }

        await keyed.GetAsync($"/v1/hosts/private-host.example/robots.txt");
        await keyed.GetAsync("/no/such/path/private-host.example");

        var scrape = await ScrapeAsync(admin);

        string[] secrets = [RegistryApp.AdminKey, clientKey, signer.Party, TestSigner.IdOf(jws), "metrics-artist", "private-host", "s3cr3t", "secret-name-of-a-key", "sunset"];
        foreach (var secret in secrets)
        {
            Assert.DoesNotContain(secret, scrape.Text, StringComparison.OrdinalIgnoreCase);
        }

        Assert.True(scrape.Sum("registry_rate_limit_rejections_total", ("policy", "lookup")) >= 1, "no lookup was refused: the test proves less than it says");
        var allowed = new Dictionary<string, string[]>
        {
            ["otel_scope_name"] = ["ConsentRegistry"],
            ["reason"] = [ClaimErrorCodes.MalformedJws, ClaimErrorCodes.UnsupportedAlgorithm, ClaimErrorCodes.InvalidHeader, ClaimErrorCodes.BadSignature, ClaimErrorCodes.InvalidPayload, "unsupported-media-type", "payload-too-large"],
            ["endpoint"] = ["/v1/lookup", "/v1/lookup/stream", "/api/v2/query/urls", "/v1/policy"],
            ["outcome"] = ["matched", "unmatched", "error", "hashed", "busy", "empty-file", "unsupported-image-format", "too-many-pixels", "truncated-image", "corrupt-image"],
            ["kind"] = [.. SubjectKinds.All],
            ["policy"] = ["lookup", "domain-verification", "global"],
            ["result"] = ["verified", "key-not-listed", "fetch-failed", "timeout", "too-large", "invalid-document", "insecure-scheme", "address-refused", "redirect-refused", "too-many-hosts"],
            ["le"] = [],
        };
        foreach (var sample in scrape.Samples.Where(s => s.Name.StartsWith("registry_", StringComparison.Ordinal)))
        {
            foreach (var (label, value) in sample.Labels)
            {
                Assert.True(allowed.ContainsKey(label), $"{sample.Name} has an unexpected label {label}");
                Assert.True(label == "le" || allowed[label].Contains(value), $"{sample.Name}{{{label}=\"{value}\"}}: not a value from a closed set");
            }
        }

        // Routes are templates, never the path a client sent.
        var routes = scrape.Samples.Where(s => s.Labels.ContainsKey("http_route")).Select(s => s.Labels["http_route"]).Distinct().ToList();
        Assert.Contains("/v1/hosts/{host}/robots.txt", routes);
    }

    [Fact]
    public async Task Rate_limit_rejections_and_domain_verifications_are_counted_by_policy_and_result()
    {
        await using var app = await StartAsync(new()
        {
            ["Registry:Lookup:RequestsPerSecondPerAddress"] = "1",
            ["Registry:Verification:RequestsPerMinutePerAddress"] = "2",
        });
        using var client = app.CreateClient();
        using var signer = new TestSigner();
        var before = await ScrapeAsync(client);

        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 6; i++)
        {
            statuses.Add((await client.GetAsync($"/v1/policy?url={Uri.EscapeDataString(Artist + "/a.jpg")}")).StatusCode);
        }

        var notAParty = await client.PostAsync("/v1/parties/not-a-party/domains/artist.test/verify", null); // 400: not a verification
        var refused = await client.PostAsync($"/v1/parties/{signer.Party}/domains/127.0.0.1/verify", null);
        var limited = await client.PostAsync($"/v1/parties/{signer.Party}/domains/127.0.0.1/verify", null);
        var after = await ScrapeAsync(client);
        double Moved(string name, params (string, string)[] labels) => after.Sum(name, labels) - before.Sum(name, labels);

        Assert.Equal(HttpStatusCode.BadRequest, notAParty.StatusCode);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, refused.StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
        var code = (await refused.JsonAsync()).GetProperty("code").GetString()!;
        Assert.Equal(1, Moved("registry_domain_verifications_total", ("result", code)));
        Assert.Equal(1, Moved("registry_domain_verifications_total"));
        Assert.Equal(1, Moved("registry_rate_limit_rejections_total", ("policy", "domain-verification")));
        var tooMany = statuses.Count(s => s == HttpStatusCode.TooManyRequests);
        Assert.True(tooMany > 0, string.Join(", ", statuses));
        Assert.Equal(tooMany, Moved("registry_rate_limit_rejections_total", ("policy", "lookup")));
    }

    [Fact]
    public async Task Metrics_switched_off_leave_no_endpoint()
    {
        await using var app = await StartAsync(new() { ["Registry:Metrics:Enabled"] = "false" });
        using var client = app.CreateClient();

        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/metrics")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health/ready")).StatusCode);
    }

    [Theory]
    [InlineData("10.0.0.7/8")]
    [InlineData("10.0.0.7")]
    [InlineData("intranet")]
    public async Task A_network_that_is_not_cidr_stops_the_start_with_a_message_saying_how_to_write_it(string network)
    {
        await using var database = await TestDatabase.CreateAsync();
        await using var app = new RegistryApp(database, new Dictionary<string, string?> { ["Registry:Metrics:AllowedNetworks:0"] = network });

        var error = Assert.ThrowsAny<Exception>(app.StartServer);

        Assert.Contains($"Registry:Metrics:AllowedNetworks:0 is '{network}', not a network in CIDR form", error.ToString());
        Assert.Contains("10.0.0.7/32", error.ToString());
    }

    [Fact]
    public async Task An_index_that_cannot_read_the_log_shows_in_its_last_update_age_and_makes_ready_degraded()
    {
        await using var app = await StartAsync();
        using var client = app.CreateClient();
        var updater = app.Services.GetRequiredService<ConsentRegistry.Api.Matching.IndexUpdater>();
        updater.StaleAfter = TimeSpan.FromSeconds(1); // 60 s in production
        Assert.True((await ScrapeAsync(client)).Single("registry_index_last_update_age_seconds") < 1);

        await using (await app.Database.TakeAwayAsync())
        {
            await Eventually.HoldsAsync(
                async () => (await ScrapeAsync(client)).Single("registry_index_last_update_age_seconds") > 1.5,
                "the last update ages while the store is out of reach");

            var ready = await client.GetAsync("/health/ready");
            Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
            var index = (await ready.JsonAsync()).GetProperty("checks").GetProperty("matching-index");
            Assert.Equal("Degraded", index.GetProperty("status").GetString());
            Assert.Contains("not updated from the store", index.GetProperty("description").GetString());
        }

        await Eventually.HoldsAsync(
            async () => (await ScrapeAsync(client)).Single("registry_index_last_update_age_seconds") < 1,
            "the index reads the log again once the store is back");
    }

    /// <summary>A registry whose scrapes are never served from the exporter's cache (300 ms by default).</summary>
    private static Task<RegistryApp> StartAsync(Dictionary<string, string?>? settings = null) =>
        RegistryApp.StartAsync(settings, services => services.Configure<PrometheusAspNetCoreOptions>(options => options.ScrapeResponseCacheDurationMilliseconds = 0));

    private static async Task<PrometheusText> ScrapeAsync(HttpClient client)
    {
        var response = await client.GetAsync("/metrics");
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode}: {text}");
        return PrometheusText.Parse(text);
    }

    private static async Task LookupAsync(HttpClient client, string path, string mediaType, string body)
    {
        var response = await client.PostAsync(path, new StringContent(body, Encoding.UTF8, mediaType));
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }
}

/// <summary>
/// OpenTelemetry listens to instruments by meter name across the whole process, so a registry's
/// /metrics would also count what another registry started by a concurrent test does (one process
/// serves one registry in production). These tests compare exact counts, so they run alone.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MetricsCollection
{
    public const string Name = "Metrics";
}
