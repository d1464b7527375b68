using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using ConsentRegistry.Api.Tests.Infrastructure;
using static ConsentRegistry.Api.Tests.Infrastructure.TestHttp;

namespace ConsentRegistry.Api.Tests.Platform;

/// <summary>The service as its own process, killed with SIGKILL right after acknowledging claims.</summary>
public sealed class CrashTests
{
    [Fact]
    public async Task Claims_acknowledged_with_201_survive_a_kill_9_right_after()
    {
        await using var database = await TestDatabase.CreateAsync();
        using var signer = new TestSigner();
        var acknowledged = new List<(string Id, long Seq)>();

        using (var service = await ServiceProcess.StartAsync(database))
        {
            var posts = Enumerable.Range(0, 40).Select(async i =>
            {
                var jws = signer.OptOut($"https://crash.example/{i}.jpg");
                var response = await service.Client.PostAsync("/v1/claims", Jose(jws));
                Assert.Equal(HttpStatusCode.Created, response.StatusCode);
                return (TestSigner.IdOf(jws), (await response.JsonAsync()).GetProperty("seq").GetInt64());
            });
            acknowledged.AddRange(await Task.WhenAll(posts));
            service.Kill();
        }

        using var restarted = await ServiceProcess.StartAsync(database);
        foreach (var (id, seq) in acknowledged)
        {
            var response = await restarted.Client.GetAsync($"/v1/claims/{id}");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(seq, (await response.JsonAsync()).GetProperty("seq").GetInt64());
        }
    }

    private sealed class ServiceProcess : IDisposable
    {
        private readonly Process _process;

        private ServiceProcess(Process process, HttpClient client)
        {
            _process = process;
            Client = client;
        }

        public HttpClient Client { get; }

        public static async Task<ServiceProcess> StartAsync(TestDatabase database)
        {
            var port = FreePort();
            var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
            start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "ConsentRegistry.Api.dll"));
            start.ArgumentList.Add("--urls");
            start.ArgumentList.Add($"http://127.0.0.1:{port}");
            start.Environment["Registry__Database__Provider"] = database.Provider;
            start.Environment["Registry__Database__ConnectionString"] = database.ConnectionString;
            start.Environment["Logging__LogLevel__Default"] = "Warning";
            // This test writes claims as fast as one client can, far past the write rate and budgets
            // (tested in WriteBudgetTests): what it checks is durability.
            start.Environment["Registry__WriteBudgets__Enabled"] = "false";
            var process = Process.Start(start)!;
            process.OutputDataReceived += (_, _) => { };
            process.ErrorDataReceived += (_, _) => { };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();

            var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (true)
            {
                try
                {
                    if ((await client.GetAsync("/health/ready")).IsSuccessStatusCode)
                    {
                        return new ServiceProcess(process, client);
                    }
                }
                catch (HttpRequestException) when (DateTime.UtcNow < deadline && !process.HasExited)
                {
                }

                Assert.True(DateTime.UtcNow < deadline && !process.HasExited, "The service did not become ready.");
                await Task.Delay(100);
            }
        }

        /// <summary>SIGKILL: no shutdown hooks, no flushing.</summary>
        public void Kill()
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
        }

        public void Dispose()
        {
            if (!_process.HasExited)
            {
                Kill();
            }

            _process.Dispose();
            Client.Dispose();
        }

        private static int FreePort()
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            return ((IPEndPoint)listener.LocalEndpoint).Port;
        }
    }
}
