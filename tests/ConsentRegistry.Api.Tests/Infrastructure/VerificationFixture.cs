using System.Net.Http.Json;
using System.Text.Json.Nodes;
using ConsentRegistry.Api.Verification;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using static ConsentRegistry.Api.Tests.Infrastructure.TestHttp;

namespace ConsentRegistry.Api.Tests.Infrastructure;

/// <summary>
/// A registry whose verifier sees a <see cref="FakeNetwork"/>, plus the test servers standing in
/// for artists' sites: <see cref="Plain"/> (http) and <see cref="Tls"/> (https, self-signed).
/// Subclasses choose the Registry:Verification switches.
/// </summary>
public abstract class VerificationFixture : IAsyncLifetime, IAsyncDisposable
{
    public FakeNetwork Network { get; } = new();

    public WellKnownServer Plain { get; private set; } = null!;

    public WellKnownServer Tls { get; private set; } = null!;

    public RegistryApp App { get; private set; } = null!;

    public HttpClient Client { get; private set; } = null!;

    protected abstract bool AllowInsecureHttp { get; }

    protected abstract bool AllowPrivateAddresses { get; }

    protected virtual TimeSpan FetchTimeout => TimeSpan.FromSeconds(5);

    /// <summary>True: production's certificate validation (the system's trust store) instead of trusting the test certificate.</summary>
    protected virtual bool SystemCertificateValidation => false;

    /// <summary>More Registry settings for a subclass.</summary>
    protected virtual void AddSettings(IDictionary<string, string?> settings)
    {
    }

    /// <summary>A registry of its own (its own database), for tests whose assertions cover every row, such as re-check passes.</summary>
    public static async Task<T> StartAsync<T>()
        where T : VerificationFixture, new()
    {
        var fixture = new T();
        await fixture.InitializeAsync();
        return fixture;
    }

    public async Task InitializeAsync()
    {
        Plain = await WellKnownServer.StartAsync();
        Network.TrustedCertificate = WellKnownServer.CreateCertificate();
        Tls = await WellKnownServer.StartAsync(Network.TrustedCertificate);
        var settings = new Dictionary<string, string?>
        {
            ["Registry:Verification:AllowInsecureHttp"] = AllowInsecureHttp ? "true" : "false",
            ["Registry:Verification:AllowPrivateAddresses"] = AllowPrivateAddresses ? "true" : "false",
            ["Registry:Verification:RequestsPerMinutePerAddress"] = "10000",
        };
        AddSettings(settings);
        App = await RegistryApp.StartAsync(settings, services => services.Configure<DomainFetchOptions>(options =>
        {
            Network.Configure(options);
            options.Timeout = FetchTimeout;
            if (SystemCertificateValidation)
            {
                options.CertificateValidation = null;
            }
        }));
        Client = App.CreateClient();
    }

    /// <summary>Makes <paramref name="host"/> resolve to loopback and its site on <see cref="Plain"/> list <paramref name="keys"/>.</summary>
    public void Publish(string host, params string[] keys) => Network.Publish(Plain, host, keys);

    /// <summary>
    /// Makes <paramref name="host"/> resolve to <paramref name="address"/> (made up: the fake network routes it to
    /// <see cref="Plain"/> on loopback), where <paramref name="site"/> answers its requests.
    /// </summary>
    public void Site(string host, string address, RequestDelegate site)
    {
        Network.Route(host, address, Plain.Port);
        Plain.Serve(host, site);
    }

    public Task<HttpResponseMessage> VerifyAsync(string party, string host) =>
        Client.PostAsync($"/v1/parties/{party}/domains/{host}/verify", null);

    /// <summary>Submits a claim and returns its id and the trust the submission answer reports.</summary>
    public async Task<(string Id, string Trust)> SubmitAsync(TestSigner signer, JsonObject usage, params JsonObject[] subjects)
    {
        var response = await Client.PostAsync("/v1/claims", Jose(signer.Sign(TestSigner.Claim(subjects, usage))));
        response.EnsureSuccessStatusCode();
        var body = await response.JsonAsync();
        return (body.GetProperty("id").GetString()!, body.GetProperty("trust").GetString()!);
    }

    public async Task<string> TrustOfAsync(string claimId) =>
        (await (await Client.GetAsync($"/v1/claims/{claimId}")).JsonAsync()).GetProperty("trust").GetString()!;

    public async Task<long> SeqOfAsync(string claimId) =>
        (await (await Client.GetAsync($"/v1/claims/{claimId}")).JsonAsync()).GetProperty("seq").GetInt64();

    /// <summary>The train-ai decision a dataset builder gets for <paramref name="url"/>.</summary>
    public async Task<string> TrainAiDecisionAsync(string url)
    {
        var response = await Client.PostAsJsonAsync("/v1/lookup", new { items = new[] { new { url } } });
        var body = await response.JsonAsync();
        return body.GetProperty("results")[0].GetProperty("decision").GetProperty("train-ai").GetString()!;
    }

    /// <summary>The train-ai decision a dataset builder gets for an image with this SHA-256.</summary>
    public async Task<string> TrainAiDecisionForHashAsync(string sha256)
    {
        var response = await Client.PostAsJsonAsync("/v1/lookup", new { items = new[] { new { sha256 } } });
        var body = await response.JsonAsync();
        return body.GetProperty("results")[0].GetProperty("decision").GetProperty("train-ai").GetString()!;
    }

    internal DomainVerificationStore Store => App.Services.GetRequiredService<DomainVerificationStore>();

    internal DomainRechecks Rechecks => App.Services.GetRequiredService<DomainRechecks>();

    internal Task<RecheckSummary> RecheckAllAsync() =>
        App.Services.GetRequiredService<DomainRechecks>().RecheckAsync(TimeSpan.Zero, CancellationToken.None);

    public async Task DisposeAsync()
    {
        Client.Dispose();
        await App.DisposeAsync();
        await Plain.DisposeAsync();
        await Tls.DisposeAsync();
        Network.TrustedCertificate?.Dispose();
    }

    ValueTask IAsyncDisposable.DisposeAsync() => new(DisposeAsync());
}

/// <summary>Development settings: http allowed and loopback reachable, as the docs tell testers to set.</summary>
public sealed class LoopbackVerificationFixture : VerificationFixture
{
    protected override bool AllowInsecureHttp => true;

    protected override bool AllowPrivateAddresses => true;
}

/// <summary>http allowed (so tests need no TLS) but production's address guard on; a short timeout.</summary>
public sealed class GuardedVerificationFixture : VerificationFixture
{
    protected override bool AllowInsecureHttp => true;

    protected override bool AllowPrivateAddresses => false;

    protected override TimeSpan FetchTimeout => TimeSpan.FromSeconds(2);
}

/// <summary>Production settings: https only, public addresses only.</summary>
public sealed class ProductionVerificationFixture : VerificationFixture
{
    protected override bool AllowInsecureHttp => false;

    protected override bool AllowPrivateAddresses => false;
}

/// <summary>Production settings with the system's certificate validation: the self-signed test certificate is not trusted.</summary>
public sealed class SystemTrustVerificationFixture : VerificationFixture
{
    protected override bool AllowInsecureHttp => false;

    protected override bool AllowPrivateAddresses => false;

    protected override bool SystemCertificateValidation => true;
}

/// <summary>Loopback settings, and a party may hold at most two verified hosts.</summary>
public sealed class HostCapVerificationFixture : VerificationFixture
{
    protected override bool AllowInsecureHttp => true;

    protected override bool AllowPrivateAddresses => true;

    protected override void AddSettings(IDictionary<string, string?> settings) =>
        settings["Registry:Verification:MaxHostsPerParty"] = "2";
}

/// <summary>Loopback settings, <see cref="Fetches"/> fetches at a time on the instance, and a long timeout: a test holds fetches open while it asks again.</summary>
public abstract class FetchLimitVerificationFixture : VerificationFixture
{
    protected abstract int Fetches { get; }

    protected override bool AllowInsecureHttp => true;

    protected override bool AllowPrivateAddresses => true;

    protected override TimeSpan FetchTimeout => TimeSpan.FromSeconds(30);

    protected override void AddSettings(IDictionary<string, string?> settings) =>
        settings["Registry:Verification:MaxConcurrentFetches"] = Fetches.ToString(System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>One fetch at a time.</summary>
public sealed class OneFetchVerificationFixture : FetchLimitVerificationFixture
{
    protected override int Fetches => 1;
}

/// <summary>Two fetches at a time (re-checks hold at most one).</summary>
public sealed class TwoFetchVerificationFixture : FetchLimitVerificationFixture
{
    protected override int Fetches => 2;
}
