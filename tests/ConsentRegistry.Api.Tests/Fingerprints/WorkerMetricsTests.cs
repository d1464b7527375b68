using System.Diagnostics.Metrics;
using System.Net;
using ConsentRegistry.Api.Fingerprints;
using ConsentRegistry.Api.Observability;
using ConsentRegistry.Api.Tests.Images;
using ConsentRegistry.Api.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using static ConsentRegistry.Api.Tests.Infrastructure.TestHttp;

namespace ConsentRegistry.Api.Tests.Fingerprints;

/// <summary>The worker's series (docs/metrics.md) say what happened: what the store took, how long requests took.</summary>
public sealed class WorkerMetricsTests : IAsyncLifetime
{
    private readonly byte[] _image = TestImages.ReadPdqData("bridge-mods/aaa-orig.jpg");
    private ImageServer _images = null!;

    public async Task InitializeAsync() => _images = await ImageServer.StartAsync();

    public async Task DisposeAsync() => await _images.DisposeAsync();

    /// <summary>
    /// Two images on one host fetched one at a time: the second waits a second and a half for the
    /// host's turn, and its fetch, which then takes milliseconds, is not recorded as that long.
    /// </summary>
    [Fact]
    public async Task The_fetch_duration_leaves_out_the_wait_for_the_hosts_turn()
    {
        _images.Paths["/slow.jpg"] = async context =>
        {
            await Task.Delay(1500);
            await Serve(context);
        };
        _images.Paths["/fast.jpg"] = Serve;
        await using var app = await RegistryApp.StartAsync(Settings(("Registry:Fetch:PerHostConcurrency", "1")));
        using var fetches = new MetricCollector<double>(app.Services.GetRequiredService<IMeterFactory>(), RegistryMetrics.MeterName, "registry.worker.fetch.duration");
        using var client = app.CreateClient();
        using var artist = new TestSigner();

        var claim = await client.ClaimAsync(artist.Sign(TestSigner.Claim(
            [TestSigner.Url(_images.Url("/slow.jpg")), TestSigner.Url(_images.Url("/fast.jpg"))], new System.Text.Json.Nodes.JsonObject { ["train-ai"] = "n" })));
        Assert.All(await client.SettledFingerprintsAsync(claim), item => Assert.Equal("done", item.GetProperty("status").GetString()));

        // Whichever went first, one fetch took 1.5 s and the other waited that long for its turn.
        var seconds = fetches.GetMeasurementSnapshot().Select(m => m.Value).Order().ToArray();
        Assert.Equal(2, seconds.Length);
        Assert.True(seconds[0] < 1, $"A fetch recorded as {seconds[0]:0.###} s: its wait for the host's turn was counted.");
        Assert.True(seconds[1] >= 1.4, $"The slow fetch recorded as {seconds[1]:0.###} s.");
    }

    /// <summary>
    /// A result the store drops (its claim was revoked during the fetch) is not counted as derived:
    /// the count is what the store's write took, counted after it committed.
    /// </summary>
    [Fact]
    public async Task Jobs_derived_counts_what_the_store_wrote_not_results_it_dropped()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _images.Paths["/revoked.jpg"] = async context =>
        {
            await release.Task;
            await Serve(context);
        };
        _images.Paths["/kept.jpg"] = Serve;
        await using var app = await RegistryApp.StartAsync(Settings());
        var meters = app.Services.GetRequiredService<IMeterFactory>();
        using var jobs = new MetricCollector<long>(meters, RegistryMetrics.MeterName, "registry.worker.jobs");
        using var fingerprinted = new MetricCollector<double>(meters, RegistryMetrics.MeterName, "registry.worker.fingerprint.duration");
        using var client = app.CreateClient();
        using var artist = new TestSigner();
        var revoked = await client.ClaimAsync(artist.OptOut(_images.Url("/revoked.jpg")));
        await Eventually.HoldsAsync(() => _images.RequestsFor("/revoked.jpg") == 1, "the worker asks for the image");
        Assert.Equal(HttpStatusCode.Created, (await client.PostAsync($"/v1/claims/{revoked}/revocation", Jose(artist.Revocation(revoked)))).StatusCode);
        await Eventually.HoldsAsync(
            async () => await app.Database.CountAsync("SELECT COUNT(*) FROM fingerprint_jobs WHERE claim_id = @revoked", new { revoked }) == 0,
            "the revocation pass drops the job being fetched");
        release.SetResult();

        // The dropped result is finished before the next job is even queued, so it is written (and
        // skipped) no later than that job's result.
        await Eventually.HoldsAsync(() => fingerprinted.GetMeasurementSnapshot().Count == 1, "the revoked claim's image is fingerprinted");
        var kept = await client.ClaimAsync(artist.OptOut(_images.Url("/kept.jpg")));
        Assert.Equal("done", Assert.Single(await client.SettledFingerprintsAsync(kept)).GetProperty("status").GetString());
        var worker = app.Services.GetRequiredService<FingerprintWorker>();
        await Eventually.HoldsAsync(() => worker.Progress.Derived == 1, "the worker has counted the kept claim's write");

        var derived = jobs.GetMeasurementSnapshot().Where(m => $"{m.Tags["outcome"]}" == "derived").Sum(m => m.Value);
        Assert.Equal(1, derived);
        Assert.Equal(1, await app.Database.CountAsync("SELECT COUNT(*) FROM derived_fingerprints"));
    }

    private Task Serve(Microsoft.AspNetCore.Http.HttpContext context)
    {
        context.Response.ContentType = "image/jpeg";
        return context.Response.Body.WriteAsync(_image).AsTask();
    }

    private static Dictionary<string, string?> Settings(params (string Key, string Value)[] changes)
    {
        var settings = new Dictionary<string, string?>(WorkerFixture.Settings);
        foreach (var (key, value) in changes)
        {
            settings[key] = value;
        }

        return settings;
    }
}
