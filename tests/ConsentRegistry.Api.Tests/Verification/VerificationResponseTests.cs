using System.IO.Compression;
using System.Net;
using System.Text;
using ConsentRegistry.Api.Tests.Infrastructure;
using Microsoft.AspNetCore.Http;
using static ConsentRegistry.Api.Tests.Infrastructure.TestHttp;

namespace ConsentRegistry.Api.Tests.Verification;

/// <summary>What a hostile or broken site can answer: cut-off bodies, announced sizes, encodings, other ports.</summary>
public sealed class VerificationResponseTests(GuardedVerificationFixture registry) : IClassFixture<GuardedVerificationFixture>
{
    private static readonly string Party = new TestSigner().Party;

    /// <summary>Verifying <paramref name="host"/> fails with a 422 problem of code <paramref name="code"/>.</summary>
    private async Task AssertFailureAsync(string host, string code) =>
        await AssertProblemAsync(await registry.VerifyAsync(Party, host), HttpStatusCode.UnprocessableEntity, code);

    [Fact]
    public async Task A_connection_broken_mid_body_is_fetch_failed_not_a_server_error()
    {
        await using var breaking = RawHttpServer.BreaksMidBody();
        registry.Network.Route("breaks-mid-body.test", "151.101.0.10", breaking.Port);

        await AssertFailureAsync("breaks-mid-body.test", "fetch-failed");
    }

    [Fact]
    public async Task A_redirect_to_another_port_of_the_same_host_is_refused_without_connecting_to_it()
    {
        registry.Site("port-hop.test", "151.101.0.11", WellKnownServer.Redirect("http://port-hop.test:8081" + WellKnownServer.DocumentPath));

        await AssertFailureAsync("port-hop.test", "redirect-refused");
        Assert.DoesNotContain(registry.Network.Connections, endpoint => endpoint.Port == 8081);
    }

    [Fact]
    public async Task A_content_length_over_64_kb_is_too_large_without_reading_the_body()
    {
        // The body never comes: reading it would end in a timeout, not too-large.
        registry.Site("announces-big.test", "151.101.0.12", async context =>
        {
            context.Response.ContentLength = 1_000_000;
            await context.Response.Body.WriteAsync(new byte[] { (byte)'{' }, context.RequestAborted);
            await context.Response.Body.FlushAsync(context.RequestAborted);
            await Task.Delay(TimeSpan.FromSeconds(10), context.RequestAborted);
        });

        await AssertFailureAsync("announces-big.test", "too-large");
    }

    [Fact]
    public async Task A_gzip_encoded_file_is_not_decompressed_so_the_limit_holds_for_the_bytes_received()
    {
        // Decompressed it would be a valid 200 KB document listing the key; as received it is not JSON.
        var document = Encoding.UTF8.GetBytes($"{{\"keys\": [\"{Party}\"]}}" + new string(' ', 200 * 1024));
        using var compressed = new MemoryStream();
        using (var gzip = new GZipStream(compressed, CompressionLevel.Optimal, leaveOpen: true))
        {
            gzip.Write(document);
        }

        var body = compressed.ToArray();
        Assert.True(body.Length < 64 * 1024);
        registry.Site("gzipped.test", "151.101.0.13", async context =>
        {
            context.Response.Headers.ContentEncoding = "gzip";
            context.Response.ContentType = "application/json";
            await context.Response.Body.WriteAsync(body, context.RequestAborted);
        });

        await AssertFailureAsync("gzipped.test", "invalid-document");
    }
}
