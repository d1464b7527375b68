namespace ConsentRegistry.Api.Tests.Infrastructure;

/// <summary>One running registry, on its own fresh database, shared by the tests of a class.</summary>
public sealed class RegistryFixture : IAsyncLifetime
{
    public RegistryApp App { get; private set; } = null!;

    public HttpClient Client { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        App = await RegistryApp.StartAsync();
        Client = App.CreateClient();
    }

    public async Task DisposeAsync()
    {
        Client.Dispose();
        await App.DisposeAsync();
    }
}
