using System.Text.Json.Nodes;
using ConsentRegistry.Api.Fingerprints;
using ConsentRegistry.Api.Tests.Images;
using ConsentRegistry.Api.Tests.Infrastructure;

namespace ConsentRegistry.Api.Tests.Fingerprints;

/// <summary>
/// The fetcher's SSRF guards (DESIGN.md 7) as the registry ships them: private addresses and
/// plain http are refused before any connection, and a size limit stops a large body.
/// </summary>
public sealed class FetchGuardTests : IAsyncLifetime
{
    private ImageServer _images = null!;

    public async Task InitializeAsync() => _images = await ImageServer.StartAsync();

    public async Task DisposeAsync() => await _images.DisposeAsync();

    [Fact]
    public async Task With_the_default_guards_loopback_addresses_and_plain_http_are_refused_without_a_request()
    {
        _images.Serve("/a.jpg", TestImages.ReadPdqData("bridge-mods/aaa-orig.jpg"));
        await using var app = await RegistryApp.StartAsync(Settings(new()
        {
            ["Registry:Fetch:AllowPrivateAddresses"] = "false",
            ["Registry:Fetch:AllowInsecureHttp"] = "true",
        }));
        using var client = app.CreateClient();
        using var artist = new TestSigner();
        var claim = await client.ClaimAsync(artist.Sign(TestSigner.Claim(
            [TestSigner.Url(_images.Url("/a.jpg")), TestSigner.Url($"http://localhost:{_images.Port}/a.jpg"), TestSigner.Url($"http://[::1]:{_images.Port}/a.jpg")],
            new JsonObject { ["train-ai"] = "n" })));

        var items = await client.SettledFingerprintsAsync(claim);

        Assert.Equal(3, items.Length);
        Assert.All(items, item =>
        {
            Assert.Equal("failed", item.GetProperty("status").GetString());
            Assert.StartsWith("address-refused: ", item.GetProperty("error").GetString());
        });
        Assert.Equal(0, _images.RequestsFor("/a.jpg"));

        await using var strict = await RegistryApp.StartAsync(Settings(new() { ["Registry:Fetch:AllowPrivateAddresses"] = "true" }));
        using var strictClient = strict.CreateClient();
        var insecure = await strictClient.ClaimAsync(artist.OptOut(_images.Url("/a.jpg")));
        var refused = Assert.Single(await strictClient.SettledFingerprintsAsync(insecure));
        Assert.StartsWith("insecure-scheme: ", refused.GetProperty("error").GetString());
        Assert.Equal(0, _images.RequestsFor("/a.jpg"));
    }

    /// <summary>
    /// A fetch's error is public: a fetcher that went to any port would tell anyone which ports of
    /// a host are open. Only the web's ports are fetched from (80, 443, 8080, 8443 unless set).
    /// </summary>
    [Fact]
    public async Task A_url_on_a_port_outside_the_allowed_ones_is_refused_without_a_request()
    {
        _images.Serve("/port.jpg", TestImages.ReadPdqData("bridge-mods/aaa-orig.jpg"));
        await using var app = await RegistryApp.StartAsync(Settings(new()
        {
            ["Registry:Fetch:AllowPrivateAddresses"] = "true",
            ["Registry:Fetch:AllowInsecureHttp"] = "true",
            ["Registry:Fetch:AllowAnyPort"] = "false",
        }));
        using var client = app.CreateClient();
        using var artist = new TestSigner();
        var claim = await client.ClaimAsync(artist.OptOut(_images.Url("/port.jpg")));

        var refused = Assert.Single(await client.SettledFingerprintsAsync(claim));

        Assert.Equal("failed", refused.GetProperty("status").GetString());
        Assert.Equal($"port-refused: The registry fetches from the web's ports (80, 443, 8080, 8443); the URL names port {_images.Port}.", refused.GetProperty("error").GetString());
        Assert.Equal(0, _images.RequestsFor("/port.jpg"));
        var options = new FetchOptions { AllowedPorts = [443, _images.Port] };
        Assert.True(options.AllowsPort(_images.Port));
        Assert.False(options.AllowsPort(80)); // a configured list replaces the defaults
    }

    [Fact]
    public async Task A_body_over_the_size_limit_is_refused_whether_or_not_its_length_is_announced()
    {
        var image = TestImages.ReadPdqData("bridge-mods/aaa-orig.jpg");
        _images.Serve("/announced.jpg", image);
        _images.Paths["/chunked.jpg"] = async context =>
        {
            context.Response.ContentType = "image/jpeg";
            foreach (var chunk in image.Chunk(1000))
            {
                await context.Response.Body.WriteAsync(chunk);
                await context.Response.Body.FlushAsync();
            }
        };
        await using var app = await RegistryApp.StartAsync(Settings(new()
        {
            ["Registry:Fetch:AllowPrivateAddresses"] = "true",
            ["Registry:Fetch:AllowInsecureHttp"] = "true",
            ["Registry:Fetch:MaxBytes"] = "4096",
        }));
        using var client = app.CreateClient();
        using var artist = new TestSigner();
        var claim = await client.ClaimAsync(artist.Sign(TestSigner.Claim(
            [TestSigner.Url(_images.Url("/announced.jpg")), TestSigner.Url(_images.Url("/chunked.jpg"))], new JsonObject { ["train-ai"] = "n" })));

        var items = await client.SettledFingerprintsAsync(claim);

        Assert.True(image.Length > 4096);
        Assert.All(items, item => Assert.StartsWith("too-large: The image is larger than", item.GetProperty("error").GetString()));
    }

    /// <summary>The worker tests' settings with the fetch guards at their defaults, then <paramref name="fetch"/>.</summary>
    private static Dictionary<string, string?> Settings(Dictionary<string, string?> fetch)
    {
        var settings = WorkerFixture.Settings.Where(s => !s.Key.StartsWith("Registry:Fetch:", StringComparison.Ordinal)).ToDictionary();
        settings["Registry:Fetch:AllowAnyPort"] = "true"; // the image server's port is of the moment; the port guard's own test sets it false
        foreach (var (key, value) in fetch)
        {
            settings[key] = value;
        }

        return settings;
    }
}
