using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using ConsentRegistry.Api.Tests.Infrastructure;
using ConsentRegistry.Core.Snapshots;
using System.IO.Pipelines;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using static ConsentRegistry.Api.Tests.Infrastructure.TestHttp;

namespace ConsentRegistry.Api.Tests.Snapshots;

/// <summary>One registry with one snapshot written, whose file the tests ask for in parts.</summary>
public sealed class SnapshotFileFixture : IAsyncLifetime
{
    public RegistryApp App { get; private set; } = null!;

    /// <summary>The file's path under /v1/snapshots, its size and its ETag.</summary>
    public (string Url, long Size, string ETag) File { get; private set; }

    public async Task InitializeAsync()
    {
        App = await RegistryApp.StartAsync(
            new Dictionary<string, string?>
            {
                ["Registry:Snapshots:EveryLogEntries"] = "1",
                ["Registry:Snapshots:CheckInterval"] = "00:00:00.1",
            },
            services => services.AddSingleton<IStartupFilter, RemovedBeforeSend>());
        using var client = App.CreateClient();
        using var signer = new TestSigner();
        Assert.Equal(HttpStatusCode.Created, (await client.PostAsync("/v1/claims", Jose(signer.OptOut("https://range.example/a.jpg")))).StatusCode);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        HttpResponseMessage latest;
        while ((latest = await client.GetAsync("/v1/snapshots/latest")).StatusCode != HttpStatusCode.OK)
        {
            Assert.True(DateTime.UtcNow < deadline, "No snapshot within 30 s.");
            await Task.Delay(50);
        }

        var manifest = await latest.Content.ReadFromJsonAsync<JsonElement>();
        var file = manifest.GetProperty("files")[0];
        File = ($"/v1/snapshots/{manifest.GetProperty("id").GetString()}/{file.GetProperty("name").GetString()}",
            file.GetProperty("size").GetInt64(), $"\"{file.GetProperty("sha256").GetString()}\"");
    }

    public async Task DisposeAsync() => await App.DisposeAsync();

    /// <summary>
    /// For a request with the header <see cref="Header"/>: the file is moved away as the response
    /// is asked to send it, and back after. That is a snapshot pruned between the file result's look
    /// at the file (its length, range and validators set) and its send, made to happen every time.
    /// </summary>
    public sealed class RemovedBeforeSend : IStartupFilter
    {
        public const string Header = "X-Test-Removed-Before-Send";

        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use(async (context, nextMiddleware) =>
            {
                var body = context.Features.Get<IHttpResponseBodyFeature>()!;
                if (context.Request.Headers.ContainsKey(Header))
                {
                    context.Features.Set<IHttpResponseBodyFeature>(new MovingBody(body));
                }

                try
                {
                    await nextMiddleware(context);
                }
                finally
                {
                    context.Features.Set(body);
                }
            });
            next(app);
        };

        private sealed class MovingBody(IHttpResponseBodyFeature inner) : IHttpResponseBodyFeature
        {
            public Stream Stream => inner.Stream;

            public PipeWriter Writer => inner.Writer;

            public void DisableBuffering() => inner.DisableBuffering();

            public Task StartAsync(CancellationToken cancellationToken = default) => inner.StartAsync(cancellationToken);

            public Task CompleteAsync() => inner.CompleteAsync();

            public async Task SendFileAsync(string path, long offset, long? count, CancellationToken cancellationToken = default)
            {
                var away = $"{path}.away";
                System.IO.File.Move(path, away);
                try
                {
                    await inner.SendFileAsync(path, offset, count, cancellationToken);
                }
                finally
                {
                    System.IO.File.Move(away, path);
                }
            }
        }
    }
}

/// <summary>
/// The edges of HTTP Range on snapshot files (RFC 9110 14): what no byte of the file can satisfy
/// is a 416 problem naming the length, a Range the server does not understand is ignored, and a
/// failed precondition is a 412 problem; HEAD answers as GET does.
/// </summary>
public sealed class SnapshotFileRangeTests(SnapshotFileFixture snapshot) : IClassFixture<SnapshotFileFixture>
{
    private readonly HttpClient _client = snapshot.App.CreateClient();

    [Theory]
    [InlineData("GET", "from-the-length")]
    [InlineData("GET", "empty-suffix")]
    [InlineData("HEAD", "from-the-length")]
    [InlineData("HEAD", "empty-suffix")]
    public async Task A_range_that_asks_for_no_byte_of_the_file_is_a_416_problem_that_says_the_files_length(string method, string range)
    {
        var (url, size, _) = snapshot.File;

        using var response = await SendAsync(method, url, ("Range", range == "empty-suffix" ? "bytes=-0" : $"bytes={size}-"));

        Assert.Equal(HttpStatusCode.RequestedRangeNotSatisfiable, response.StatusCode);
        Assert.Equal($"bytes */{size}", response.Content.Headers.ContentRange?.ToString());
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Null(response.Headers.CacheControl);
        if (method == "GET")
        {
            var problem = await AssertProblemAsync(response, HttpStatusCode.RequestedRangeNotSatisfiable, "range-not-satisfiable");
            Assert.Contains($"{size} bytes long", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }
    }

    /// <summary>
    /// A snapshot past the ones kept is deleted after its file was found and before the file result
    /// looks at it: the answer is the same 404 problem as for a file not found, not a 500.
    /// </summary>
    [Fact]
    public async Task A_snapshot_file_removed_before_it_is_sent_is_a_404_problem()
    {
        var context = new DefaultHttpContext { RequestServices = snapshot.App.Services };
        context.Request.Method = "GET";
        context.Response.Body = new MemoryStream();
        var removed = new ConsentRegistry.Api.Snapshots.SnapshotFileResult(
            Path.Combine(Path.GetTempPath(), $"removed-{Guid.NewGuid():N}", "index.snap"), new SnapshotFileEntry("index.snap", 1_000, new string('a', 64)));

        await removed.ExecuteAsync(context);

        Assert.Equal(StatusCodes.Status404NotFound, context.Response.StatusCode);
        Assert.Equal("application/problem+json", context.Response.ContentType?.Split(';')[0]);
        context.Response.Body.Position = 0;
        var problem = await JsonSerializer.DeserializeAsync<JsonElement>(context.Response.Body);
        Assert.Equal("snapshot-not-found", problem.GetProperty("code").GetString());
    }

    /// <summary>
    /// Deleted later still, once the file result has set the file's length, range and validators and
    /// only the send is left: the answer is the 404 problem with none of them, where the file's
    /// Content-Length made a range's answer a 500 and cut the whole file's connection.
    /// </summary>
    [Theory]
    [InlineData(null)]
    [InlineData("bytes=10-99")]
    public async Task A_snapshot_file_removed_between_its_headers_and_its_send_is_a_404_problem_with_none_of_the_files_headers(string? range)
    {
        var (url, size, _) = snapshot.File;
        (string, string)[] headers = range is null
            ? [(SnapshotFileFixture.RemovedBeforeSend.Header, "1")]
            : [(SnapshotFileFixture.RemovedBeforeSend.Header, "1"), ("Range", range)];

        using var response = await SendAsync("GET", url, headers);

        var problem = await AssertProblemAsync(response, HttpStatusCode.NotFound, "snapshot-not-found");
        Assert.Contains("removed with its snapshot just now", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Null(response.Content.Headers.ContentRange);
        Assert.Null(response.Content.Headers.LastModified);
        Assert.Null(response.Headers.ETag);
        Assert.Empty(response.Headers.AcceptRanges);
        Assert.Null(response.Headers.CacheControl);
        Assert.Equal(size, (await _client.GetByteArrayAsync(url)).Length); // moved back: the file is served again
    }

    [Theory]
    [InlineData("items=0-9", null)] // another unit (RFC 9110 14.2)
    [InlineData("Bytes=0-9", "0-9")] // the unit is case-insensitive
    [InlineData("bytes=9-3", null)] // last before first: not a valid range
    [InlineData("bytes=0-1,4-5", null)] // several ranges: served whole rather than as multipart
    [InlineData("bytes=-16", "last-16")]
    [InlineData("bytes=5-999999999", "5-last")] // past the end: up to the last byte
    public async Task A_range_is_served_as_asked_or_ignored_for_the_whole_file_as_RFC_9110_says(string range, string? served)
    {
        var (url, size, _) = snapshot.File;
        var whole = await _client.GetByteArrayAsync(url);

        using var response = await SendAsync("GET", url, ("Range", range));
        var body = await response.Content.ReadAsByteArrayAsync();

        if (served is null)
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Null(response.Content.Headers.ContentRange);
            Assert.Equal(whole, body);
            return;
        }

        var (first, last) = served switch
        {
            "0-9" => (0L, 9L),
            "last-16" => (size - 16, size - 1),
            _ => (5L, size - 1),
        };
        Assert.Equal(HttpStatusCode.PartialContent, response.StatusCode);
        Assert.Equal($"bytes {first}-{last}/{size}", response.Content.Headers.ContentRange?.ToString());
        Assert.Equal(whole[(int)first..(int)(last + 1)], body);
    }

    [Fact]
    public async Task If_range_serves_the_part_only_for_the_files_own_strong_etag()
    {
        var (url, size, etag) = snapshot.File;

        using var same = await SendAsync("GET", url, ("Range", "bytes=0-9"), ("If-Range", etag));
        using var weak = await SendAsync("GET", url, ("Range", "bytes=0-9"), ("If-Range", $"W/{etag}"));
        using var other = await SendAsync("GET", url, ("Range", "bytes=0-9"), ("If-Range", "\"another\""));

        Assert.Equal(HttpStatusCode.PartialContent, same.StatusCode);
        Assert.Equal(10, (await same.Content.ReadAsByteArrayAsync()).Length);
        Assert.Equal(HttpStatusCode.OK, weak.StatusCode);
        Assert.Equal(HttpStatusCode.OK, other.StatusCode);
        Assert.Equal(size, (await other.Content.ReadAsByteArrayAsync()).Length);
    }

    [Theory]
    [InlineData("GET")]
    [InlineData("HEAD")]
    public async Task If_match_with_another_etag_is_a_412_problem_in_the_registrys_words(string method)
    {
        var (url, _, etag) = snapshot.File;

        using var response = await SendAsync(method, url, ("If-Match", "\"another\""));

        Assert.Equal(HttpStatusCode.PreconditionFailed, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        if (method == "GET")
        {
            var problem = await AssertProblemAsync(response, HttpStatusCode.PreconditionFailed, "precondition-failed");
            Assert.Contains(etag, problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }
    }

    private async Task<HttpResponseMessage> SendAsync(string method, string url, params (string Name, string Value)[] headers)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), url);
        foreach (var (name, value) in headers)
        {
            Assert.True(request.Headers.TryAddWithoutValidation(name, value));
        }

        return await _client.SendAsync(request);
    }
}
