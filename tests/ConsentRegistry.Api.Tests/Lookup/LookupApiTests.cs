using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ConsentRegistry.Api.Tests.Infrastructure;
using static ConsentRegistry.Api.Tests.Infrastructure.TestHttp;

namespace ConsentRegistry.Api.Tests.Lookup;

public sealed class LookupApiTests(RegistryFixture registry) : IClassFixture<RegistryFixture>
{
    private readonly HttpClient _client = registry.Client;

    private async Task<long> OptOutAsync(params JsonObject[] subjects)
    {
        using var signer = new TestSigner();
        var response = await _client.PostAsync("/v1/claims", Jose(signer.Sign(TestSigner.Claim(subjects, new JsonObject { ["train-ai"] = "n" }))));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (await response.JsonAsync()).GetProperty("seq").GetInt64();
    }

    [Fact]
    public async Task A_lookup_right_after_a_claim_reflects_it_and_reports_the_seq()
    {
        var seq = await OptOutAsync(TestSigner.Url("https://now.example/painting.jpg"));

        var response = await _client.PostAsJsonAsync("/v1/lookup", new { items = new[] { new { url = "HTTPS://NOW.example:443/painting.jpg#frag" } } });

        var body = await response.JsonAsync();
        Assert.True(body.GetProperty("seq").GetInt64() >= seq);
        var result = body.GetProperty("results")[0];
        Assert.Equal("disallow", result.GetProperty("decision").GetProperty("train-ai").GetString());
        Assert.Equal("url", result.GetProperty("matches")[0].GetProperty("by").GetString());
    }

    [Fact]
    public async Task A_client_written_like_spawnings_gets_optout_for_every_url_in_order()
    {
        var optedOut = Enumerable.Range(0, 3000).Select(i => $"https://spawning{i % 7}.example/u/{i}/art.png?size=large").ToList();
        foreach (var chunk in optedOut.Chunk(1000))
        {
            await OptOutAsync(chunk.Select(TestSigner.Url).ToArray());
        }

        await OptOutAsync(TestSigner.Subject("url-prefix", "https://spawning-prefix.example/gallery/"));
        var opted = optedOut.ToHashSet();
        var random = new Random(7);
        var requests = Enumerable.Range(0, 4).Select(r => Enumerable.Range(0, 10_000).Select(i =>
            random.Next(4) switch
            {
                0 => optedOut[random.Next(optedOut.Count)],
                1 => $"https://spawning-prefix.example/gallery/{r}/{i}.jpg",
                _ => $"https://spawning{i % 7}.example/u/{r}-{i}/other.png",
            }).ToList()).ToList();

        // Several requests in flight, each 10,000 newline-separated URLs with Authorization: API <key>.
        using var admin = registry.App.CreateAdminClient();
        var key = (await (await admin.PostAsJsonAsync("/v1/admin/api-keys", new { name = "spawning-style client" })).JsonAsync()).GetProperty("key").GetString();
        using var client = registry.App.CreateClient();
        client.DefaultRequestHeaders.TryAddWithoutValidation("Authorization", $"API {key}");
        var answers = await Task.WhenAll(requests.Select(async urls =>
        {
            var response = await client.PostAsync("/api/v2/query/urls/", new StringContent(string.Join('\n', urls), Encoding.UTF8, "text/plain"));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            return (Urls: urls, Body: await response.JsonAsync());
        }));

        foreach (var (urls, body) in answers)
        {
            var results = body.GetProperty("urls");
            Assert.Equal(urls.Count, results.GetArrayLength());
            for (var i = 0; i < urls.Count; i++)
            {
                Assert.Equal(urls[i], results[i].GetProperty("url").GetString());
                var expected = opted.Contains(urls[i]) || urls[i].StartsWith("https://spawning-prefix.example/gallery/", StringComparison.Ordinal);
                Assert.Equal(expected, results[i].GetProperty("optOut").GetBoolean());
                Assert.False(results[i].GetProperty("optIn").GetBoolean());
            }
        }
    }

    [Fact]
    public async Task A_spawning_style_query_answers_every_line_in_its_place_as_sent_blank_and_crlf_lines_included()
    {
        // Clients pair the answers with the URLs they joined by position: a dropped blank line would
        // shift every answer after it, and an opted-out URL would take its neighbour's "optOut": false.
        await OptOutAsync(TestSigner.Url("https://spawning-lines.example/a.png"), TestSigner.Url("https://spawning-lines.example/c.png"));
        var body = "\r\n  https://spawning-lines.example/a.png  \r\n\nhttps://spawning-lines.example/b.png\r\nhttps://spawning-lines.example/c.png";

        var answered = await _client.PostAsync("/api/v2/query/urls", new StringContent(body, Encoding.UTF8, "text/plain"));

        Assert.Equal(HttpStatusCode.OK, answered.StatusCode);
        var urls = (await answered.JsonAsync()).GetProperty("urls").EnumerateArray().ToList();
        Assert.Equal(["", "  https://spawning-lines.example/a.png  ", "", "https://spawning-lines.example/b.png", "https://spawning-lines.example/c.png"],
            urls.Select(u => u.GetProperty("url").GetString()));
        Assert.Equal([false, true, false, false, true], urls.Select(u => u.GetProperty("optOut").GetBoolean()));
        Assert.All(urls, u => Assert.False(u.GetProperty("optIn").GetBoolean()));
    }

    [Fact]
    public async Task A_lone_url_sent_with_a_blank_second_line_gets_two_answers_as_spawning_clients_read_them()
    {
        // Hugging Face's dataset viewer sends one URL as "\n".join([url, ""]) and reads two answers.
        await OptOutAsync(TestSigner.Url("https://spawning-lone.example/a.png"));

        var answered = await _client.PostAsync("/api/v2/query/urls", new StringContent("https://spawning-lone.example/a.png\n", Encoding.UTF8, "text/plain"));

        var urls = (await answered.JsonAsync()).GetProperty("urls").EnumerateArray().ToList();
        Assert.Equal(["https://spawning-lone.example/a.png", ""], urls.Select(u => u.GetProperty("url").GetString()));
        Assert.Equal([true, false], urls.Select(u => u.GetProperty("optOut").GetBoolean()));
    }

    [Fact]
    public async Task A_spawning_style_query_takes_ten_thousand_urls_with_a_final_newline_and_refuses_more_lines_or_none()
    {
        var tenThousand = string.Join('\n', Enumerable.Range(0, 10_000).Select(i => $"https://spawning-limit.example/{i}.png"));
        var bodies = new[]
        {
            tenThousand + "\n", // a text file's final newline is no line of its own toward the 10,000
            tenThousand + "\nhttps://spawning-limit.example/10000.png",
            tenThousand + "\n\n",
            new string('\n', 100_000) + "https://spawning-limit.example/x.png",
            "\n\r\n  \n",
        };

        var answers = new List<HttpResponseMessage>();
        foreach (var body in bodies)
        {
            answers.Add(await _client.PostAsync("/api/v2/query/urls", new StringContent(body, Encoding.UTF8, "text/plain")));
        }

        Assert.Equal(HttpStatusCode.OK, answers[0].StatusCode);
        Assert.Equal(10_001, (await answers[0].JsonAsync()).GetProperty("urls").GetArrayLength());
        foreach (var refused in answers.Skip(1))
        {
            var problem = await AssertProblemAsync(refused, HttpStatusCode.BadRequest, "invalid-batch");
            Assert.True(problem.GetProperty("errors").TryGetProperty("urls", out _));
        }
    }

    [Theory]
    [InlineData(null, HttpStatusCode.OK)] // Python's requests with a string body sends no Content-Type
    [InlineData("text/plain; charset=utf-8", HttpStatusCode.OK)]
    [InlineData("application/octet-stream", HttpStatusCode.OK)] // aiohttp with a bytes body
    [InlineData("application/json", HttpStatusCode.UnsupportedMediaType)]
    [InlineData("application/x-www-form-urlencoded", HttpStatusCode.UnsupportedMediaType)]
    [InlineData("multipart/form-data; boundary=x", HttpStatusCode.UnsupportedMediaType)]
    public async Task A_spawning_style_query_takes_the_bodies_spawning_clients_send_and_refuses_json_and_forms(string? contentType, HttpStatusCode expected)
    {
        await OptOutAsync(TestSigner.Url("https://spawning-types.example/a.png"));
        var content = new ByteArrayContent(Encoding.UTF8.GetBytes("https://spawning-types.example/a.png\nhttps://spawning-types.example/b.png"));
        if (contentType is not null)
        {
            content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        }

        var response = await _client.PostAsync("/api/v2/query/urls", content);

        if (expected == HttpStatusCode.OK)
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var urls = (await response.JsonAsync()).GetProperty("urls");
            Assert.Equal([true, false], urls.EnumerateArray().Select(u => u.GetProperty("optOut").GetBoolean()));
        }
        else
        {
            await AssertProblemAsync(response, expected, "unsupported-media-type");
        }
    }

    [Theory]
    [InlineData("""{"items":[]}""")]
    [InlineData("""{"items":"https://a.example/"}""")]
    [InlineData("""{"items":{"url":"https://a.example/"}}""")]
    [InlineData("""{"url":"https://a.example/"}""")]
    [InlineData("""[{"url":"https://a.example/"}]""")]
    [InlineData("""{"items":[{"url":"https://a.example/"}""")]
    [InlineData("""{"items":[{"url":"https://a.example/"}]} trailing""")]
    [InlineData("""not json""")]
    [InlineData("")]
    public async Task A_body_that_is_not_an_object_with_an_items_array_gets_400_naming_items(string body)
    {
        var response = await _client.PostAsync("/v1/lookup", new StringContent(body, Encoding.UTF8, "application/json"));

        var problem = await AssertProblemAsync(response, HttpStatusCode.BadRequest, "invalid-batch");
        Assert.True(problem.GetProperty("errors").TryGetProperty("items", out _));
        Assert.DoesNotContain("LookupRequest", problem.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Wrong_typed_items_get_their_own_error_naming_the_field_and_the_rest_are_answered()
    {
        await OptOutAsync(TestSigner.Url("https://typed.example/ok.jpg"));
        const string body = """
            {"items": [
              {"url": ["https://typed.example/ok.jpg"]},
              {"url": 5},
              {"sha256": {"hex": "00"}},
              {"pdq": true},
              {"pdq": "0000000000000000000000000000000000000000000000000000000000000000", "quality": "abc"},
              {"pdq": "0000000000000000000000000000000000000000000000000000000000000000", "max_distance": 1.5},
              "https://typed.example/ok.jpg",
              {"url": "https://typed.example/ok.jpg", "extra": {"nested": [1, 2]}}
            ]}
            """;

        var response = await _client.PostAsync("/v1/lookup", new StringContent(body, Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var results = (await response.JsonAsync()).GetProperty("results");
        Assert.Equal(8, results.GetArrayLength());
        var errors = Enumerable.Range(0, 7).Select(i => results[i].GetProperty("error")).ToList();
        Assert.Equal(["invalid-url", "invalid-url", "invalid-sha256", "invalid-pdq", "invalid-quality", "invalid-max-distance", "invalid-item"],
            errors.Select(e => e.GetProperty("code").GetString()));
        Assert.Equal(["url", "url", "sha256", "pdq", "quality", "max_distance"], errors.Take(6).Select(e => e.GetProperty("field").GetString()));
        Assert.Equal("disallow", results[7].GetProperty("decision").GetProperty("train-ai").GetString());
    }

    [Fact]
    public async Task A_stream_line_with_anything_after_its_object_or_a_wrong_typed_member_is_that_lines_error()
    {
        await OptOutAsync(TestSigner.Url("https://trailing.example/a.jpg"));
        var body = "{\"url\":\"https://trailing.example/a.jpg\"} garbage\n{\"url\":\"https://trailing.example/a.jpg\"}{}\n{\"quality\":\"abc\",\"url\":\"https://trailing.example/a.jpg\"}\n{\"url\":\"https://trailing.example/a.jpg\"}\r\n";

        var response = await _client.PostAsync("/v1/lookup/stream", new StringContent(body, Encoding.UTF8, "application/x-ndjson"));

        var lines = (await response.Content.ReadAsStringAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal([0, 1, 2, 3], lines.Select(l => l.GetProperty("i").GetInt32()));
        Assert.Equal("invalid-json", lines[0].GetProperty("error").GetProperty("code").GetString());
        Assert.Equal("invalid-json", lines[1].GetProperty("error").GetProperty("code").GetString());
        Assert.Equal("quality", lines[2].GetProperty("error").GetProperty("field").GetString());
        Assert.Equal("disallow", lines[3].GetProperty("decision").GetProperty("train-ai").GetString());
    }

    /// <summary>
    /// JSON lets a string escape half of a UTF-16 surrogate pair ("\ud800"); such a string is no text.
    /// The item holding it, as a value or as a member's name, is that item's error, in a batch and in
    /// the stream, and the items around it are answered.
    /// </summary>
    [Fact]
    public async Task An_item_escaping_a_lone_surrogate_is_that_items_error_in_a_batch_and_in_the_stream()
    {
        await OptOutAsync(TestSigner.Url("https://surrogate.example/a.jpg"));
        string[] items =
        [
            "{\"url\":\"https://surrogate.example/a.jpg\"}",
            "{\"url\":\"https://surrogate.example/\\ud800.jpg\"}",
            "{\"\\udc00\\udc00\":1,\"url\":\"https://surrogate.example/a.jpg\"}",
            "{\"embeddings\":[{\"model\":\"\\udfff\",\"value\":\"AA\"}]}",
            "{\"url\":\"https://surrogate.example/a.jpg\"}",
        ];

        var batch = await _client.PostAsync("/v1/lookup", new StringContent("{\"items\":[" + string.Join(',', items) + "]}", Encoding.UTF8, "application/json"));
        var stream = await _client.PostAsync("/v1/lookup/stream", new StringContent(string.Join('\n', items) + "\n", Encoding.UTF8, "application/x-ndjson"));

        Assert.Equal(HttpStatusCode.OK, batch.StatusCode);
        var batchResults = (await batch.JsonAsync()).GetProperty("results").EnumerateArray().ToList();
        var streamResults = (await stream.Content.ReadAsStringAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        foreach (var results in new[] { batchResults, streamResults })
        {
            Assert.Equal(5, results.Count);
            Assert.Equal("disallow", results[0].GetProperty("decision").GetProperty("train-ai").GetString());
            Assert.All(results[1..4], r => Assert.Equal("invalid-item", r.GetProperty("error").GetProperty("code").GetString()));
            Assert.Equal("disallow", results[4].GetProperty("decision").GetProperty("train-ai").GetString());
        }
    }

    [Fact]
    public async Task A_batch_whose_own_member_name_escapes_a_lone_surrogate_gets_400_in_the_services_words()
    {
        var response = await _client.PostAsync("/v1/lookup", new StringContent("{\"\\ud800\":1,\"items\":[{\"url\":\"https://a.example/\"}]}", Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("surrogate", (await response.JsonAsync()).GetProperty("detail").GetString());
    }

    [Theory]
    [InlineData("application/x-ndjson")]
    [InlineData("application/jsonl")]
    public async Task The_stream_takes_ndjson_and_jsonl(string mediaType)
    {
        var response = await _client.PostAsync("/v1/lookup/stream", new StringContent("{\"url\":\"https://a.example/\"}\n", Encoding.UTF8, mediaType));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(0, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("i").GetInt32());
    }

    [Theory]
    [InlineData("application/json")]
    [InlineData("text/plain")]
    public async Task The_stream_refuses_a_body_that_is_not_ndjson_with_415(string mediaType)
    {
        var response = await _client.PostAsync("/v1/lookup/stream", new StringContent("{\"url\":\"https://a.example/\"}\n", Encoding.UTF8, mediaType));

        await AssertProblemAsync(response, HttpStatusCode.UnsupportedMediaType, "unsupported-media-type");
    }

    [Fact]
    public async Task More_items_than_max_batch_get_400_naming_items()
    {
        var items = Enumerable.Range(0, 10_001).Select(i => new { url = $"https://a.example/{i}" }).ToArray();

        var response = await _client.PostAsJsonAsync("/v1/lookup", new { items });

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.True((await response.JsonAsync()).GetProperty("errors").TryGetProperty("items", out _));
    }

    [Fact]
    public async Task A_batch_of_long_dataset_urls_larger_than_the_servers_read_buffer_is_answered()
    {
        // 10,000 LAION-like URLs of about 170 characters: a body of about 1.9 MB, past Kestrel's 1 MiB request buffer.
        await OptOutAsync(TestSigner.Url("https://large-batch.example/" + new string('p', 140) + "/9999.jpg"));
        var items = Enumerable.Range(0, 10_000).Select(i => new { url = $"https://large-batch.example/{new string('p', 140)}/{i}.jpg" }).ToArray();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));

        var response = await _client.PostAsJsonAsync("/v1/lookup", new { items }, timeout.Token);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var results = (await response.JsonAsync()).GetProperty("results");
        Assert.Equal(10_000, results.GetArrayLength());
        Assert.Equal("disallow", results[9_999].GetProperty("decision").GetProperty("train-ai").GetString());
        Assert.Equal("unknown", results[0].GetProperty("decision").GetProperty("train-ai").GetString());
    }

    [Fact]
    public async Task Bad_items_get_their_own_error_and_the_rest_of_the_batch_is_answered()
    {
        await OptOutAsync(TestSigner.Url("https://batch.example/ok.jpg"));
        var items = new JsonArray(
            new JsonObject { ["url"] = "ftp://batch.example/x" },
            new JsonObject { ["url"] = "https://batch.example/" + new string('a', 9000) },
            new JsonObject { ["sha256"] = "xyz" },
            new JsonObject(),
            null,
            new JsonObject { ["url"] = "https://batch.example/ok.jpg" });

        var response = await _client.PostAsync("/v1/lookup", new StringContent(new JsonObject { ["items"] = items }.ToJsonString(), Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var results = (await response.JsonAsync()).GetProperty("results");
        Assert.Equal(["invalid-url", "invalid-url", "invalid-sha256", "invalid-item", "invalid-item"],
            Enumerable.Range(0, 5).Select(i => results[i].GetProperty("error").GetProperty("code").GetString()));
        Assert.Equal("disallow", results[5].GetProperty("decision").GetProperty("train-ai").GetString());
    }

    [Fact]
    public async Task A_stream_line_over_256_KiB_is_that_lines_error_whether_it_arrives_in_one_read_or_many()
    {
        await OptOutAsync(TestSigner.Url("https://long-line.example/a.jpg"));
        var item = "{\"url\":\"https://long-line.example/a.jpg\"}";
        var padded = "{\"url\":\"https://long-line.example/a.jpg\",\"pad\":\"" + new string('x', 300_000) + "\"}";
        var body = Encoding.UTF8.GetBytes($"{item}\n{padded}\n{item}\n{padded}");

        foreach (var chunk in new[] { body.Length, 4096 })
        {
            using var content = new ChunkedContent(body, chunk, "application/x-ndjson");
            var response = await _client.PostAsync("/v1/lookup/stream", content);

            var lines = (await response.Content.ReadAsStringAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
            Assert.Equal([0, 1, 2, 3], lines.Select(l => l.GetProperty("i").GetInt32()));
            Assert.Equal("disallow", lines[0].GetProperty("decision").GetProperty("train-ai").GetString());
            Assert.Equal("line-too-long", lines[1].GetProperty("error").GetProperty("code").GetString());
            Assert.Equal("disallow", lines[2].GetProperty("decision").GetProperty("train-ai").GetString());
            Assert.Equal("line-too-long", lines[3].GetProperty("error").GetProperty("code").GetString()); // the last line, without a newline
        }
    }

    [Fact]
    public async Task A_stream_line_as_long_as_the_largest_item_the_batch_takes_is_answered_and_a_byte_order_mark_is_skipped()
    {
        // 16 vectors of a 4,096-dimension model are about 175 KB of base64url: such a line is an item, not an error.
        await OptOutAsync(TestSigner.Url("https://long-item.example/a.jpg"));
        var item = "{\"url\":\"https://long-item.example/a.jpg\"}";
        var longItem = "{\"url\":\"https://long-item.example/a.jpg\",\"pad\":\"" + new string('x', 200_000) + "\"}";
        byte[] body = [0xEF, 0xBB, 0xBF, .. Encoding.UTF8.GetBytes($"{item}\n{longItem}\n")];

        var stream = await _client.PostAsync("/v1/lookup/stream", new ByteArrayContent(body) { Headers = { ContentType = new MediaTypeHeaderValue("application/x-ndjson") } });
        var batch = await _client.PostAsync("/v1/lookup", new ByteArrayContent([0xEF, 0xBB, 0xBF, .. Encoding.UTF8.GetBytes($"{{\"items\":[{item}]}}")])
        {
            Headers = { ContentType = new MediaTypeHeaderValue("application/json") },
        });

        var lines = (await stream.Content.ReadAsStringAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(["disallow", "disallow"], lines.Select(l => l.GetProperty("decision").GetProperty("train-ai").GetString()));
        Assert.Equal(HttpStatusCode.OK, batch.StatusCode);
        Assert.Equal("disallow", (await batch.JsonAsync()).GetProperty("results")[0].GetProperty("decision").GetProperty("train-ai").GetString());
    }

    [Fact]
    public async Task A_stream_answers_a_line_over_256_KiB_before_the_client_sends_the_rest_of_it()
    {
        // A client that waits for the answers so far before it sends more: the long line's error (and
        // the answers before it) must go out while the server skips the rest of that line. A raw
        // connection, so that the test, not an HTTP client, decides when each part is sent.
        await OptOutAsync(TestSigner.Url("https://long-wait.example/a.jpg"));
        var item = "{\"url\":\"https://long-wait.example/a.jpg\"}";
        var first = Encoding.UTF8.GetBytes($"{item}\n{{\"url\":\"https://long-wait.example/a.jpg\",\"pad\":\"{new string('x', 300_000)}");
        var rest = Encoding.UTF8.GetBytes($"\"}}\n{item}\n");
        var server = registry.App.ClientOptions.BaseAddress;
        using var socket = new System.Net.Sockets.TcpClient();
        await socket.ConnectAsync(server.Host, server.Port);
        var stream = socket.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(
            $"POST /v1/lookup/stream HTTP/1.1\r\nHost: {server.Authority}\r\nContent-Type: application/x-ndjson\r\nContent-Length: {first.Length + rest.Length}\r\n\r\n"));
        await stream.WriteAsync(first);

        var received = new StringBuilder();
        async Task ReadUntilAsync(string what)
        {
            var buffer = new byte[8192];
            using var waiting = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            while (!received.ToString().Contains(what, StringComparison.Ordinal))
            {
                var read = await stream.ReadAsync(buffer, waiting.Token);
                Assert.NotEqual(0, read);
                received.Append(Encoding.UTF8.GetString(buffer, 0, read));
            }
        }

        await ReadUntilAsync("\"line-too-long\"");
        Assert.Contains("\"i\":0", received.ToString());
        Assert.Contains("\"train-ai\":\"disallow\"", received.ToString());
        await stream.WriteAsync(rest);
        await ReadUntilAsync("\"i\":2");
    }

    /// <summary>A body written <paramref name="chunk"/> bytes at a time, each flushed, so that the server reads it in pieces.</summary>
    private sealed class ChunkedContent : HttpContent
    {
        private readonly byte[] _body;
        private readonly int _chunk;

        public ChunkedContent(byte[] body, int chunk, string mediaType)
        {
            (_body, _chunk) = (body, chunk);
            Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue(mediaType);
        }

        protected override async Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context)
        {
            for (var at = 0; at < _body.Length; at += _chunk)
            {
                await stream.WriteAsync(_body.AsMemory(at, Math.Min(_chunk, _body.Length - at)));
                await stream.FlushAsync();
            }
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }

    [Fact]
    public async Task The_stream_answers_each_line_in_order_with_errors_on_their_own_lines()
    {
        await OptOutAsync(TestSigner.Url("https://stream.example/a.jpg"));
        var body = "{\"url\":\"https://stream.example/a.jpg\"}\ngarbage\n{\"url\":\"javascript:alert(1)\"}\n\n{\"url\":\"https://stream.example/b.jpg\"}";

        var response = await _client.PostAsync("/v1/lookup/stream", new StringContent(body, Encoding.UTF8, "application/x-ndjson"));

        var lines = (await response.Content.ReadAsStringAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal([0, 1, 2, 3, 4], lines.Select(l => l.GetProperty("i").GetInt32()));
        Assert.Equal("disallow", lines[0].GetProperty("decision").GetProperty("train-ai").GetString());
        Assert.True(lines[1].TryGetProperty("error", out _));
        Assert.True(lines[2].TryGetProperty("error", out _));
        Assert.True(lines[3].TryGetProperty("error", out _));
        Assert.Equal("unknown", lines[4].GetProperty("decision").GetProperty("train-ai").GetString());
    }

    [Fact]
    public async Task Batches_and_streams_longer_than_a_run_of_lookups_are_answered_item_by_item_in_order()
    {
        var registered = Enumerable.Range(0, 40).Select(i => $"https://runs.example/w/{i}.jpg").ToArray();
        await OptOutAsync(registered.Select(TestSigner.Url).ToArray());
        var items = new List<JsonObject>();
        var expected = new List<string>(); // the train-ai decision, or the error's code
        for (var i = 0; i < (3 * Api.Lookup.LookupEngine.RunLength) + 5; i++)
        {
            var (item, outcome) = (i % 5) switch
            {
                0 => (new JsonObject { ["url"] = registered[i % 40] }, "disallow"),
                1 => (new JsonObject { ["url"] = $"https://runs.example/other/{i}.jpg" }, "unknown"),
                2 => (new JsonObject { ["url"] = $"ftp://runs.example/{i}" }, "invalid-url"),
                3 => (new JsonObject { ["sha256"] = $"{i:x64}" }, "unknown"),
                _ => (new JsonObject { ["url"] = registered[i % 40].Replace("runs.example", "RUNS.example:443") }, "disallow"),
            };
            items.Add(item);
            expected.Add(outcome);
        }

        var batch = await _client.PostAsync("/v1/lookup", new StringContent(new JsonObject { ["items"] = new JsonArray([.. items]) }.ToJsonString(), Encoding.UTF8, "application/json"));
        var stream = await _client.PostAsync("/v1/lookup/stream", new StringContent(string.Join('\n', items.Select(i => i.ToJsonString())), Encoding.UTF8, "application/x-ndjson"));

        var batchResults = (await batch.JsonAsync()).GetProperty("results").EnumerateArray().ToList();
        var streamResults = (await stream.Content.ReadAsStringAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(Enumerable.Range(0, items.Count), streamResults.Select(r => r.GetProperty("i").GetInt32()));
        Assert.Equal(expected, batchResults.Select(Outcome));
        Assert.Equal(expected, streamResults.Select(Outcome));

        static string Outcome(JsonElement result) => result.TryGetProperty("error", out var error)
            ? error.GetProperty("code").GetString()!
            : result.GetProperty("decision").GetProperty("train-ai").GetString()!;
    }

    [Fact]
    public async Task The_stream_answers_early_lines_before_the_request_body_ends()
    {
        await OptOutAsync(TestSigner.Url("https://duplex.example/first.jpg"));
        using var request = await ChunkedRequest.StartAsync(registry.App.ClientOptions.BaseAddress, "/v1/lookup/stream", "application/x-ndjson");
        await request.SendAsync("{\"url\":\"https://duplex.example/first.jpg\"}\n");

        // The request body is still open; the first result must already be on its way back.
        var reader = request.Response;
        var received = new StringBuilder();
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!received.ToString().Contains("\"i\":0", StringComparison.Ordinal))
        {
            var line = await reader.ReadLineAsync().WaitAsync(deadline - DateTime.UtcNow);
            Assert.NotNull(line);
            received.AppendLine(line);
        }

        Assert.StartsWith("HTTP/1.1 200", received.ToString());
        Assert.Contains("\"train-ai\":\"disallow\"", received.ToString());
        await request.SendAsync("{\"url\":\"https://duplex.example/second.jpg\"}\n");
        await request.EndAsync();
        var rest = await reader.ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Contains("\"i\":1", rest);
    }

    [Fact]
    public async Task A_client_that_disconnects_mid_stream_leaves_the_service_answering()
    {
        using (var request = await ChunkedRequest.StartAsync(registry.App.ClientOptions.BaseAddress, "/v1/lookup/stream", "application/x-ndjson"))
        {
            await request.SendAsync(string.Concat(Enumerable.Repeat("{\"url\":\"https://gone.example/x.jpg\"}\n", 200)));
            request.Abort();
        }

        Assert.Equal(HttpStatusCode.OK, (await _client.GetAsync("/health/ready")).StatusCode);
        var after = await _client.PostAsJsonAsync("/v1/lookup", new { items = new[] { new { url = "https://gone.example/x.jpg" } } });
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
    }

    [Fact]
    public async Task A_revocation_is_reflected_by_the_next_lookup()
    {
        using var signer = new TestSigner();
        var jws = signer.OptOut("https://revoked.example/x.jpg");
        var id = (await (await _client.PostAsync("/v1/claims", Jose(jws))).JsonAsync()).GetProperty("id").GetString()!;
        await _client.PostAsync($"/v1/claims/{id}/revocation", Jose(signer.Revocation(id)));

        var result = (await (await _client.PostAsJsonAsync("/v1/lookup", new { items = new[] { new { url = "https://revoked.example/x.jpg" } } })).JsonAsync())
            .GetProperty("results")[0];

        Assert.Equal("unknown", result.GetProperty("decision").GetProperty("train-ai").GetString());
        Assert.Equal(0, result.GetProperty("matches").GetArrayLength());
    }
}
