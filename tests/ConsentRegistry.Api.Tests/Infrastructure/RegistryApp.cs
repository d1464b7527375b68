using System.Collections.Concurrent;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ConsentRegistry.Api.Tests.Infrastructure;

/// <summary>
/// The real service on Kestrel, on a free loopback port, over a <see cref="TestDatabase"/>.
/// Every log message is kept in <see cref="Logs"/> so tests can check what the service writes.
/// </summary>
public sealed class RegistryApp : WebApplicationFactory<Program>
{
    public const string AdminKey = "test-bootstrap-admin-key-0f1e2d3c4b5a";

    private readonly Dictionary<string, string?> _settings;
    private readonly Action<IServiceCollection>? _services;

    private readonly string _ownKeyPath = Path.Combine(Path.GetTempPath(), "consent-registry-tests", $"registry-key-{Guid.NewGuid():N}.jwk");

    private readonly string _ownSnapshots = Path.Combine(Path.GetTempPath(), "consent-registry-tests", $"snapshots-{Guid.NewGuid():N}");

    private bool _ownsDatabase;

    public RegistryApp(TestDatabase database, IDictionary<string, string?>? settings = null, Action<IServiceCollection>? services = null)
    {
        Database = database;
        _services = services;
        _settings = new Dictionary<string, string?>
        {
            ["Registry:Database:Provider"] = database.Provider,
            ["Registry:Database:ConnectionString"] = database.ConnectionString,
            ["Registry:Auth:AdminKey"] = AdminKey,
            // Tests write thousands of claims from one loopback address in seconds: budgets far
            // beyond that keep the budget code on every write without refusing any. The budget
            // tests set their own, small ones.
            ["Registry:WriteBudgets:Address:ClaimsPerHour"] = "100000000",
            ["Registry:WriteBudgets:Address:SubjectsPerHour"] = "100000000000",
            ["Registry:WriteBudgets:NewParty:ClaimsPerHour"] = "100000000",
            ["Registry:WriteBudgets:NewParty:SubjectsPerHour"] = "100000000000",
            ["Registry:WriteBudgets:ReadsPerSecondPerAddress"] = "100000",
            ["Registry:WriteBudgets:WritesPerSecondPerAddress"] = "100000",
            ["Registry:WriteBudgets:WritesPerSecondPerKey"] = "100000",
            // The same for the PDQ and embedding searches of lookups; the pacing tests set their own.
            ["Registry:Lookup:ImageSearchesPerSecondPerAddress"] = "10000000",
            ["Registry:Lookup:ImageSearchesPerSecondPerKey"] = "10000000",
            // Most test apps never see an image: the model loads at the first one (ImageEmbeddingTests
            // checks the default, loading at start).
            ["Registry:Embedding:LoadAtStart"] = "false",
            // Claims in tests name URLs on hosts that do not exist: the worker would only queue
            // failing fetches. The worker tests turn it on, with images served on loopback.
            ["Registry:Worker:Enabled"] = "false",
            // Tests read a host's documents right after writing to it and expect the change: every
            // change re-renders, and a request waits for it. The render-bound tests set their own.
            ["Registry:Policy:MinRenderInterval"] = "00:00:00",
            ["Registry:Policy:FirstRenderWait"] = "00:01:00",
            ["Registry:Policy:RevalidateWait"] = "00:01:00",
            // Each app its own signing key, in the temporary folder (deleted with the app); the key tests set their own path.
            ["Registry:Signing:KeyPath"] = _ownKeyPath,
            ["Registry:Snapshots:Path"] = _ownSnapshots,
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            _settings[key] = value;
        }

        UseKestrel(0);
    }

    public TestDatabase Database { get; }

    public ConcurrentQueue<string> Logs { get; } = new();

    /// <summary>Starts the app on a fresh database of its own, dropped when the app is disposed.</summary>
    public static async Task<RegistryApp> StartAsync(IDictionary<string, string?>? settings = null, Action<IServiceCollection>? services = null)
    {
        var app = new RegistryApp(await TestDatabase.CreateAsync(), settings, services) { _ownsDatabase = true };
        app.StartServer();
        await app.WaitUntilReadyAsync();
        return app;
    }

    /// <summary>Waits for /health/ready: the store migrated and the matching index built.</summary>
    public async Task WaitUntilReadyAsync()
    {
        using var client = CreateClient();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!(await client.GetAsync("/health/ready")).IsSuccessStatusCode)
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("The registry did not become ready within 30 s.");
            }

            await Task.Delay(10);
        }
    }

    public HttpClient CreateAdminClient()
    {
        var client = CreateClient();
        client.DefaultRequestHeaders.TryAddWithoutValidation("Authorization", $"API {AdminKey}");
        return client;
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        foreach (var (key, value) in _settings)
        {
            builder.UseSetting(key, value);
        }

        builder.ConfigureAppConfiguration(config => config.AddInMemoryCollection(_settings));
        builder.ConfigureLogging(logging => logging
            .ClearProviders()
            .AddProvider(new CapturingLoggerProvider(Logs))
            .AddFilter<CapturingLoggerProvider>(null, LogLevel.Trace));
        if (_services is not null)
        {
            builder.ConfigureServices(_services);
        }
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        if (_ownsDatabase)
        {
            await Database.DisposeAsync();
        }

        if (File.Exists(_ownKeyPath))
        {
            File.Delete(_ownKeyPath);
        }

        if (Directory.Exists(_ownSnapshots))
        {
            Directory.Delete(_ownSnapshots, recursive: true);
        }

        GC.SuppressFinalize(this);
    }

    private sealed class CapturingLoggerProvider(ConcurrentQueue<string> sink) : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => new CapturingLogger(categoryName, sink);

        public void Dispose()
        {
        }
    }

    private sealed class CapturingLogger(string category, ConcurrentQueue<string> sink) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            sink.Enqueue($"{logLevel} {category}: {formatter(state, exception)} {exception}");
    }
}
