namespace ConsentRegistry.Api.Health;

/// <summary>
/// <c>dotnet ConsentRegistry.Api.dll --healthcheck [url]</c>: asks a running instance's
/// /health/ready (or the URL given) and exits 0 when it answers 2xx. Container images have no curl;
/// this is their healthcheck: the Dockerfile's asks /health/live (an index build of minutes must not
/// get the container replaced), docker-compose.yml's asks /health/ready.
/// </summary>
public static class HealthProbe
{
    public const string Argument = "--healthcheck";

    public static async Task<int> RunAsync(string[] args)
    {
        var url = args.Length > 1 ? args[1] : "http://127.0.0.1:8080/health/ready";
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(3) };
        try
        {
            using var response = await client.GetAsync(url);
            Console.WriteLine($"{url}: {(int)response.StatusCode}");
            return response.IsSuccessStatusCode ? 0 : 1;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            Console.Error.WriteLine($"{url}: {e.Message}");
            return 1;
        }
    }
}
