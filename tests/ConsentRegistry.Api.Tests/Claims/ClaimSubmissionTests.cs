using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ConsentRegistry.Api.Tests.Infrastructure;
using static ConsentRegistry.Api.Tests.Infrastructure.TestHttp;

namespace ConsentRegistry.Api.Tests.Claims;

public sealed class ClaimSubmissionTests(RegistryFixture registry) : IClassFixture<RegistryFixture>
{
    private readonly HttpClient _client = registry.Client;

    [Fact]
    public async Task A_signed_opt_out_is_accepted_with_201_and_its_subjects_in_canonical_form()
    {
        using var signer = new TestSigner();
        var jws = signer.Sign(TestSigner.Claim(
            [
                TestSigner.Url("HTTPS://Artist.Example:443/img/%7esteampunk.jpg#top"),
                TestSigner.Subject("url-prefix", "https://artist.example/portfolio/"),
                new JsonObject { ["kind"] = "host", ["value"] = "Artist.Example.", ["include_subdomains"] = true },
                TestSigner.Subject("sha256", new string('A', 64)),
                TestSigner.Subject("pdq", "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"),
            ],
            new JsonObject { ["train-ai"] = "n", ["search"] = "y" }));

        var response = await _client.PostAsync("/v1/claims", Jose(jws));

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var body = await response.JsonAsync();
        Assert.Equal(TestSigner.IdOf(jws), body.GetProperty("id").GetString());
        Assert.Equal($"/v1/claims/{TestSigner.IdOf(jws)}", response.Headers.Location?.OriginalString);
        Assert.Equal(signer.Party, body.GetProperty("party").GetString());
        Assert.Equal("signed", body.GetProperty("trust").GetString());
        Assert.True(body.GetProperty("seq").GetInt64() >= 1);
        var subjects = body.GetProperty("subjects").EnumerateArray().ToList();
        Assert.Equal("https://artist.example/img/~steampunk.jpg", subjects[0].GetProperty("value").GetString());
        Assert.Equal("https://artist.example/portfolio/", subjects[1].GetProperty("value").GetString());
        Assert.Equal("artist.example", subjects[2].GetProperty("value").GetString());
        Assert.True(subjects[2].GetProperty("include_subdomains").GetBoolean());
        Assert.False(subjects[0].TryGetProperty("include_subdomains", out _));
        Assert.Equal(new string('a', 64), subjects[3].GetProperty("value").GetString());
        Assert.Equal("pdq", subjects[4].GetProperty("kind").GetString());
    }

    [Fact]
    public async Task Categories_left_out_take_their_parents_value_from_the_same_claim()
    {
        using var signer = new TestSigner();
        var jws = signer.Sign(TestSigner.Claim([TestSigner.Url("https://a.example/1.png")], new JsonObject { ["tdm"] = "n", ["search"] = "y" }));

        var usage = (await (await _client.PostAsync("/v1/claims", Jose(jws))).JsonAsync()).GetProperty("usage");

        Assert.Equal("n", usage.GetProperty("tdm").GetString());
        Assert.Equal("n", usage.GetProperty("train-ai").GetString());
        Assert.Equal("n", usage.GetProperty("train-genai").GetString());
        Assert.Equal(JsonValueKind.Null, usage.GetProperty("ai-use").ValueKind);
        Assert.Equal("y", usage.GetProperty("search").GetString());
    }

    [Fact]
    public async Task Resubmitting_the_same_jws_returns_200_with_the_same_id_and_seq()
    {
        using var signer = new TestSigner();
        var jws = signer.OptOut("https://a.example/again.jpg");

        var first = await (await _client.PostAsync("/v1/claims", Jose(jws))).JsonAsync();
        var again = await _client.PostAsync("/v1/claims", Jose(jws));

        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        var second = await again.JsonAsync();
        Assert.Equal(first.GetProperty("id").GetString(), second.GetProperty("id").GetString());
        Assert.Equal(first.GetProperty("seq").GetInt64(), second.GetProperty("seq").GetInt64());
    }

    [Fact]
    public async Task The_jws_may_come_wrapped_in_a_json_object()
    {
        using var signer = new TestSigner();
        var jws = signer.OptOut("https://a.example/wrapped.jpg");

        var response = await _client.PostAsJsonAsync("/v1/claims", new { jws });

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
    }

    [Fact]
    public async Task A_jws_with_one_signature_byte_changed_is_refused_with_problem_json()
    {
        using var signer = new TestSigner();
        var jws = signer.OptOut("https://a.example/tampered.jpg");
        var parts = jws.Split('.');
        var signature = Convert.FromBase64String(parts[2].Replace('-', '+').Replace('_', '/') + "==="[..((4 - parts[2].Length % 4) % 4)]);
        signature[10] ^= 0x01;
        var tampered = $"{parts[0]}.{parts[1]}.{TestSigner.Encode(signature)}";

        var response = await _client.PostAsync("/v1/claims", Jose(tampered));

        var problem = await AssertProblemAsync(response, HttpStatusCode.BadRequest, "bad-signature");
        Assert.True(problem.GetProperty("errors").TryGetProperty("jws.signature", out _));
        Assert.Equal(HttpStatusCode.NotFound, (await _client.GetAsync($"/v1/claims/{TestSigner.IdOf(tampered)}")).StatusCode);
    }

    [Fact]
    public async Task A_payload_signed_by_one_key_but_presenting_another_is_refused()
    {
        using var signer = new TestSigner();
        using var impostor = new TestSigner();
        var header = new JsonObject { ["alg"] = "ES256", ["typ"] = "consent-claim", ["jwk"] = signer.Jwk() };
        var jws = impostor.Sign(TestSigner.Claim([TestSigner.Url("https://a.example/stolen.jpg")], new JsonObject { ["train-ai"] = "y" }), header);

        var response = await _client.PostAsync("/v1/claims", Jose(jws));

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, "bad-signature");
    }

    [Fact]
    public async Task Every_failing_payload_field_is_named_in_one_answer()
    {
        using var signer = new TestSigner();
        var payload = new JsonObject
        {
            ["v"] = 2,
            ["iat"] = TestSigner.Now + 3600,
            ["subjects"] = new JsonArray(
                TestSigner.Url("ftp://a.example/x"),
                TestSigner.Subject("sha256", "xyz"),
                TestSigner.Subject("colour", "red"),
                new JsonObject { ["kind"] = "url", ["value"] = "https://a.example/", ["include_subdomains"] = true },
                TestSigner.Url("https://a.example/fine.jpg")),
            ["usage"] = new JsonObject { ["train-ai"] = "maybe", ["paint"] = "n" },
            ["terms"] = new JsonObject { ["license"] = "javascript:alert(1)", ["contact"] = "not a contact" },
            ["title"] = new string('t', 301),
        };

        var response = await _client.PostAsync("/v1/claims", Jose(signer.Sign(payload)));

        var problem = await AssertProblemAsync(response, HttpStatusCode.BadRequest, "invalid-payload");
        var fields = problem.GetProperty("errors").EnumerateObject().Select(p => p.Name).ToHashSet();
        Assert.Equal(
            new HashSet<string>
            {
                "v", "iat", "subjects[0].value", "subjects[1].value", "subjects[2].kind", "subjects[3].include_subdomains",
                "usage.train-ai", "usage.paint", "terms.license", "terms.contact", "title",
            },
            fields);
    }

    [Theory]
    [InlineData("""{"v":1,"iat":1700000000,"subjects":[{"kind":"url","value":"https://a.example/"}],"usage":{"train-ai":"n"},"revokes":"x"}""", "revokes")]
    [InlineData("""{"v":1,"iat":"yesterday","subjects":[],"usage":{}}""", "iat")]
    [InlineData("""{"v":1,"iat":1700000000,"subjects":{"kind":"url"},"usage":{"train-ai":"n"}}""", "subjects")]
    [InlineData("""[1,2,3]""", "payload")]
    [InlineData("""{"v":1,"iat":1700000000,"subjects":[{"kind":"host","value":"a.example","includeSubdomains":true}],"usage":{"train-ai":"n"}}""", "subjects[0].includeSubdomains")]
    public async Task Payloads_of_the_wrong_shape_are_refused_naming_the_member(string payload, string field)
    {
        using var signer = new TestSigner();

        var response = await _client.PostAsync("/v1/claims", Jose(signer.Sign(JsonNode.Parse(payload)!)));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var errors = (await response.JsonAsync()).GetProperty("errors");
        Assert.Contains(errors.EnumerateObject(), e => e.Name == field);
    }

    [Fact]
    public async Task A_claim_issued_more_than_five_minutes_in_the_future_is_refused_but_a_small_skew_is_accepted()
    {
        using var signer = new TestSigner();

        var future = await _client.PostAsync("/v1/claims", Jose(signer.OptOut("https://a.example/future.jpg", TestSigner.Now + 6 * 60)));
        var skewed = await _client.PostAsync("/v1/claims", Jose(signer.OptOut("https://a.example/skewed.jpg", TestSigner.Now + 60)));

        Assert.Equal(HttpStatusCode.BadRequest, future.StatusCode);
        Assert.True((await future.JsonAsync()).GetProperty("errors").TryGetProperty("iat", out _));
        Assert.Equal(HttpStatusCode.Created, skewed.StatusCode);
    }

    public static TheoryData<string, string> BadHeaders => new()
    {
        // "JWK" stands for the signer's real public key, so that only the named defect is wrong.
        { """{"alg":"none","typ":"consent-claim","jwk":JWK}""", "unsupported-algorithm" },
        { """{"alg":"HS256","typ":"consent-claim","jwk":JWK}""", "unsupported-algorithm" },
        { """{"alg":"ES256","typ":"JWT","jwk":JWK}""", "invalid-jws-header" },
        { """{"alg":"ES256","typ":"con\u017Fent-cla\u0131m","jwk":JWK}""", "invalid-jws-header" }, // long s and dotless i: equal to "consent-claim" only ignoring Unicode case
        { """{"alg":"ES256","typ":"consent-claim"}""", "invalid-jws-header" },
        { """{"alg":"ES256","typ":"consent-claim","jwk":{"kty":"RSA","n":"AQAB","e":"AQAB"}}""", "invalid-jws-header" },
        { """{"alg":"ES256","typ":"consent-claim","crit":["b64"],"b64":false,"jwk":JWK}""", "invalid-jws-header" },
        { """{"alg":"ES256","typ":"consent-claim","typ":"consent-claim","jwk":JWK}""", "invalid-jws-header" },
        { """{"alg":"ES256","typ":"\ud800","jwk":JWK}""", "invalid-jws-header" },
        { """{"alg":"ES256","\ud800":0,"typ":"consent-claim","jwk":JWK}""", "invalid-jws-header" }, // a lone surrogate in a member's name
    };

    [Theory]
    [MemberData(nameof(BadHeaders))]
    public async Task Headers_without_an_es256_public_key_are_refused(string header, string code)
    {
        using var signer = new TestSigner();
        var headerJson = header.Replace("JWK", signer.Jwk().ToJsonString(), StringComparison.Ordinal);
        var jws = signer.SignRaw(headerJson, TestSigner.Claim([TestSigner.Url("https://a.example/h.jpg")], new JsonObject { ["train-ai"] = "n" }).ToJsonString());

        var response = await _client.PostAsync("/v1/claims", Jose(jws));

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, code);
    }

    [Fact]
    public async Task A_header_that_is_not_utf8_is_refused_with_problem_json()
    {
        using var signer = new TestSigner();
        var header = TestSigner.Encode([.. "{\"alg\":\""u8.ToArray(), 0xFF, .. "\"}"u8.ToArray()]);
        var payload = TestSigner.Encode("{}"u8.ToArray());

        var response = await _client.PostAsync("/v1/claims", Jose($"{header}.{payload}.{TestSigner.Encode(new byte[64])}"));

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, "invalid-jws-header");
    }

    [Theory]
    [InlineData("""{}""")]
    [InlineData("""{"v":1,"iat":1700000000,"usage":{"train-ai":"n"}}""")]
    [InlineData("""{"v":1,"iat":1700000000,"subjects":null,"usage":null}""")]
    [InlineData("""{"v":1,"iat":1700000000,"subjects":[{"kind":"url","value":"https://a.example/"}],"usage":{"train-ai":"n"},"usage":{"train-ai":"y"}}""")]
    [InlineData("""{"v":1,"iat":1700000000,"subjects":[{"kind":"url","value":"https://a.example/"}],"usage":{"a":"n","b":"n","c":"n","d":"n","e":"n","f":"n"}}""")]
    public async Task Payloads_missing_members_or_repeating_them_get_400_not_500(string payload)
    {
        using var signer = new TestSigner();

        var response = await _client.PostAsync("/v1/claims", Jose(signer.SignRaw(null, payload)));

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, "invalid-payload");
    }

    [Theory]
    [InlineData("""{"iat":1700000000,"subjects":[{"kind":"url","value":"https://a.example/"}],"usage":{"train-ai":"n"}}""", "v", "v (the format version, 1) is required.")]
    [InlineData("""{"v":1,"iat":1700000000,"subjects":[{"kind":"url","value":"https://a.example/"}],"usage":{"train-ai":"n"},"title":"TITLE"}""", "title", "title is at most 300 characters.")]
    [InlineData("""{"v":1,"iat":1700000000,"subjects":[{"kind":"url","value":"https://a.example/"}],"usage":{"train-ai":"n"},"terms":{"contact":"mailto:CONTACT@a.example"}}""", "terms.contact", "contact is at most 512 characters.")]
    public async Task A_missing_version_or_an_over_long_text_is_refused_in_the_registrys_words(string payload, string field, string message)
    {
        using var signer = new TestSigner();
        payload = payload.Replace("TITLE", new string('t', 301), StringComparison.Ordinal).Replace("CONTACT", new string('c', 520), StringComparison.Ordinal);

        var response = await _client.PostAsync("/v1/claims", Jose(signer.SignRaw(null, payload)));

        var problem = await AssertProblemAsync(response, HttpStatusCode.BadRequest, "invalid-payload");
        Assert.Equal([message], problem.GetProperty("errors").GetProperty(field).EnumerateArray().Select(e => e.GetString()));
    }

    [Fact]
    public async Task The_same_signed_content_with_a_re_encoded_signature_is_the_same_claim()
    {
        using var signer = new TestSigner();
        var jws = signer.OptOut("https://a.example/malleable.jpg");
        var first = await (await _client.PostAsync("/v1/claims", Jose(jws))).JsonAsync();

        var twin = TestSigner.ReEncodeSignature(jws);
        Assert.NotEqual(jws, twin);

        var again = await _client.PostAsync("/v1/claims", Jose(twin));

        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        var second = await again.JsonAsync();
        Assert.Equal(first.GetProperty("id").GetString(), second.GetProperty("id").GetString());
        Assert.Equal(first.GetProperty("seq").GetInt64(), second.GetProperty("seq").GetInt64());
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(false, true)]
    [InlineData(true, false)] // b64 true changes nothing but the header: the same claim would be stored again under another id
    public async Task A_header_with_b64_is_refused_with_or_without_crit(bool b64, bool listedInCrit)
    {
        using var signer = new TestSigner();
        var header = new JsonObject { ["alg"] = "ES256", ["typ"] = "consent-claim", ["jwk"] = signer.Jwk(), ["b64"] = b64 };
        if (listedInCrit)
        {
            header["crit"] = new JsonArray("b64");
        }

        var jws = signer.Sign(TestSigner.Claim([TestSigner.Url("https://a.example/b64.jpg")], new JsonObject { ["train-ai"] = "n" }), header);

        var response = await _client.PostAsync("/v1/claims", Jose(jws));

        var problem = await AssertProblemAsync(response, HttpStatusCode.BadRequest, "invalid-jws-header");
        Assert.Contains("RFC 7797", problem.GetProperty("errors").GetProperty("jws.header.b64")[0].GetString());
    }

    [Theory]
    [InlineData(1_577_836_799, false)]
    [InlineData(1, false)]
    [InlineData(1_577_836_800, true)]
    public async Task An_iat_before_2020_is_refused_as_implausible_naming_iat(long iat, bool accepted)
    {
        using var signer = new TestSigner();

        var response = await _client.PostAsync("/v1/claims", Jose(signer.OptOut($"https://a.example/iat-{iat}.jpg", iat)));

        if (accepted)
        {
            Assert.Equal(HttpStatusCode.Created, response.StatusCode);
            return;
        }

        var problem = await AssertProblemAsync(response, HttpStatusCode.BadRequest, "invalid-payload");
        Assert.Contains("2020", problem.GetProperty("errors").GetProperty("iat")[0].GetString());
    }

    [Fact]
    public async Task A_header_that_carries_the_private_key_is_refused()
    {
        using var signer = new TestSigner();
        var jwk = signer.Jwk();
        jwk["d"] = TestSigner.Encode(new byte[32]);
        var jws = signer.Sign(TestSigner.Claim([TestSigner.Url("https://a.example/d.jpg")], new JsonObject { ["train-ai"] = "n" }),
            new JsonObject { ["alg"] = "ES256", ["typ"] = "consent-claim", ["jwk"] = jwk });

        var response = await _client.PostAsync("/v1/claims", Jose(jws));

        var problem = await AssertProblemAsync(response, HttpStatusCode.BadRequest, "invalid-jws-header");
        Assert.True(problem.GetProperty("errors").TryGetProperty("jws.header.jwk.d", out _));
    }

    [Theory]
    [InlineData("")]
    [InlineData("not-a-jws")]
    [InlineData("a.b")]
    [InlineData("a.b.c.d")]
    [InlineData("eyJhbGciOiJFUzI1NiJ9=.e30.AAAA")]
    [InlineData("e30.e30.%%%")]
    [InlineData("e30.e31.AB")]
    [InlineData("\u00e9t\u00e9.e30.e30")]
    public async Task Malformed_jws_strings_are_refused_with_problem_json(string jws)
    {
        var response = await _client.PostAsync("/v1/claims", Jose(jws, Encoding.UTF8));

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, "malformed-jws");
    }

    /// <summary>
    /// A payload member name escaping a lone UTF-16 surrogate: the subject count taken before the
    /// signature is checked could not compare it and answered 500; now the payload is refused.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_payload_whose_member_name_escapes_a_lone_surrogate_gets_400(bool signed)
    {
        using var signer = new TestSigner();
        var payload = "{\"\\udc00\\udc00\":1,\"subjects\":[{\"kind\":\"url\",\"value\":\"https://a.example/x.jpg\"}],\"usage\":{\"train-ai\":\"n\"},\"iat\":" + TestSigner.Now + "}";
        var jws = signed ? signer.SignRaw(null, payload) : "e30." + TestSigner.Encode(Encoding.UTF8.GetBytes(payload)) + ".AA";

        var response = await _client.PostAsync("/v1/claims", Jose(jws));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Ten_thousand_subjects_are_accepted_and_ten_thousand_and_one_are_refused()
    {
        using var signer = new TestSigner();
        JsonObject Many(int n) => TestSigner.Claim(
            Enumerable.Range(0, n).Select(i => TestSigner.Url($"https://catalogue.example/works/{i}.jpg")),
            new JsonObject { ["train-ai"] = "n" });

        var accepted = await _client.PostAsync("/v1/claims", Jose(signer.Sign(Many(10_000))));
        var refused = await _client.PostAsync("/v1/claims", Jose(signer.Sign(Many(10_001))));
        var empty = await _client.PostAsync("/v1/claims", Jose(signer.Sign(Many(0))));

        Assert.Equal(HttpStatusCode.Created, accepted.StatusCode);
        Assert.Equal(10_000, (await accepted.JsonAsync()).GetProperty("subjects").GetArrayLength());
        Assert.True((await AssertProblemAsync(refused, HttpStatusCode.BadRequest, "invalid-payload")).GetProperty("errors").TryGetProperty("subjects", out _));
        await AssertProblemAsync(empty, HttpStatusCode.BadRequest, "invalid-payload");
    }

    /// <summary>
    /// Over a raw socket, so that nothing sends the body behind the test's back (HttpClient sends it
    /// anyway once its Expect: 100-continue wait times out): the request's head only, declaring a
    /// 9 MiB body and asking to be told before sending it. The answer is a 413, with no
    /// 100 Continue before it, while not one byte of the body has been sent.
    /// </summary>
    [Fact]
    public async Task A_body_declared_over_the_limit_gets_413_problem_json_before_it_is_sent()
    {
        var server = registry.App.ClientOptions.BaseAddress;
        using var socket = new TcpClient();
        await socket.ConnectAsync(server.Host, server.Port);
        await using var stream = socket.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(
            $"POST /v1/claims HTTP/1.1\r\nHost: {server.Authority}\r\nContent-Type: application/jose\r\n"
            + $"Content-Length: {9 * 1024 * 1024}\r\nExpect: 100-continue\r\n\r\n"));

        // One response, head and body (Content-Length or chunked), read without sending anything more.
        var received = new List<byte>();
        var buffer = new byte[4096];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        byte[]? body;
        while ((body = Body(Encoding.Latin1.GetString([.. received]), out _)) is null)
        {
            var read = await stream.ReadAsync(buffer, timeout.Token);
            Assert.True(read > 0, $"The connection closed after: {Encoding.Latin1.GetString([.. received])}");
            received.AddRange(buffer.AsSpan(0, read));
        }

        Body(Encoding.Latin1.GetString([.. received]), out var head);
        Assert.Matches("(?im)^Content-Type: application/problem\\+json", head);
        Assert.Equal("payload-too-large", JsonDocument.Parse(body).RootElement.GetProperty("code").GetString());

        // The response's body, once it has all come (null before); head is what precedes it.
        static byte[]? Body(string text, out string head)
        {
            var end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            head = end < 0 ? text : text[..(end + 4)];
            if (end < 0)
            {
                return null;
            }

            // The first response the server sent: a 100 Continue before the 413 would have asked for the body.
            Assert.StartsWith("HTTP/1.1 413 ", head);
            var rest = text[(end + 4)..];
            var length = System.Text.RegularExpressions.Regex.Match(head, "(?im)^Content-Length: (\\d+)");
            if (length.Success)
            {
                var count = int.Parse(length.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
                return rest.Length >= count ? Encoding.Latin1.GetBytes(rest[..count]) : null;
            }

            Assert.Matches("(?im)^Transfer-Encoding: chunked", head);
            var decoded = new StringBuilder();
            var at = 0;
            while (true)
            {
                var lineEnd = rest.IndexOf("\r\n", at, StringComparison.Ordinal);
                if (lineEnd < 0)
                {
                    return null;
                }

                var size = Convert.ToInt32(rest[at..lineEnd].Split(';')[0], 16);
                if (size == 0)
                {
                    return rest.IndexOf("\r\n\r\n", lineEnd, StringComparison.Ordinal) == lineEnd ? Encoding.Latin1.GetBytes(decoded.ToString()) : null;
                }

                if (rest.Length < lineEnd + 2 + size + 2)
                {
                    return null;
                }

                decoded.Append(rest, lineEnd + 2, size);
                at = lineEnd + 2 + size + 2;
            }
        }
    }

    [Fact]
    public async Task A_chunked_body_that_grows_over_the_limit_gets_413_problem_json()
    {
        // A body of unknown length, just over the limit, that the server must cut off by itself.
        using var request = await ChunkedRequest.StartAsync(registry.App.ClientOptions.BaseAddress, "/v1/claims", "application/jose");
        var chunk = new byte[64 * 1024];
        chunk.AsSpan().Fill((byte)'a');
        for (var sent = 0; sent <= 8 * 1024 * 1024 + 64 * 1024; sent += chunk.Length)
        {
            await request.SendAsync(chunk);
        }

        await request.EndAsync();
        var (statusLine, headers) = await request.ReadHeadAsync();

        Assert.StartsWith("HTTP/1.1 413", statusLine);
        Assert.Contains(headers, h => h.StartsWith("Content-Type: application/problem+json", StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public async Task A_revocation_body_past_16_KiB_gets_413_saying_what_a_revocation_holds()
    {
        using var signer = new TestSigner();
        var stored = signer.OptOut("https://a.example/revoked-large.jpg");
        Assert.Equal(HttpStatusCode.Created, (await _client.PostAsync("/v1/claims", Jose(stored))).StatusCode);
        var id = TestSigner.IdOf(stored);
        var padded = signer.SignRaw(null, $"{{\"v\":1,\"iat\":{TestSigner.Now},\"revokes\":\"{id}\"{new string(' ', 20_000)}}}");

        var response = await _client.PostAsync($"/v1/claims/{id}/revocation", Jose(padded));

        var problem = await AssertProblemAsync(response, HttpStatusCode.RequestEntityTooLarge, "payload-too-large");
        Assert.Contains("revocation", problem.GetProperty("detail").GetString());
        Assert.Equal(HttpStatusCode.Created, (await _client.PostAsync($"/v1/claims/{id}/revocation", Jose(signer.Revocation(id)))).StatusCode);
    }

    [Theory]
    [InlineData("text/plain")]
    [InlineData("application/x-www-form-urlencoded")]
    [InlineData(null)]
    public async Task Other_content_types_get_415_problem_json(string? contentType)
    {
        using var signer = new TestSigner();
        var content = new ByteArrayContent(Encoding.ASCII.GetBytes(signer.OptOut("https://a.example/ct.jpg")));
        if (contentType is not null)
        {
            content.Headers.ContentType = new MediaTypeHeaderValue(contentType);
        }

        var response = await _client.PostAsync("/v1/claims", content);

        await AssertProblemAsync(response, HttpStatusCode.UnsupportedMediaType, "unsupported-media-type");
    }

    [Theory]
    [InlineData("""{"jws": 5}""")]
    [InlineData("{\"jws\": \"a.b.c\"")]
    [InlineData("""{"token": "a.b.c"}""")]
    [InlineData("\"a.b.c\"")]
    public async Task A_bad_json_envelope_is_refused_with_problem_json(string body)
    {
        var response = await _client.PostAsync("/v1/claims", new StringContent(body, Encoding.UTF8, "application/json"));

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, "malformed-jws");
    }

    [Fact]
    public async Task An_envelope_with_two_jws_members_is_refused_even_when_each_holds_a_good_claim()
    {
        using var signer = new TestSigner();
        var first = signer.Sign(TestSigner.Claim([TestSigner.Url("https://a.example/first.jpg")], new JsonObject { ["train-ai"] = "n" }));
        var second = signer.Sign(TestSigner.Claim([TestSigner.Url("https://a.example/second.jpg")], new JsonObject { ["train-ai"] = "y" }));

        var response = await _client.PostAsync("/v1/claims", new StringContent($$"""{"jws":"{{first}}","jws":"{{second}}"}""", Encoding.UTF8, "application/json"));

        await AssertProblemAsync(response, HttpStatusCode.BadRequest, "malformed-jws");
        Assert.Equal(HttpStatusCode.NotFound, (await _client.GetAsync($"/v1/claims/{TestSigner.IdOf(second)}")).StatusCode);
    }

    [Fact]
    public async Task A_stored_claim_is_returned_with_its_jws_payload_details_and_revocation_state()
    {
        using var signer = new TestSigner();
        var payload = TestSigner.Claim([TestSigner.Url("https://a.example/get.jpg")], new JsonObject { ["train-ai"] = "y" });
        payload["title"] = "Steampunk gentleman";
        payload["terms"] = new JsonObject { ["license"] = "https://licence.example/ai", ["contact"] = "mailto:artist@a.example" };
        var jws = signer.Sign(payload);
        var created = await (await _client.PostAsync("/v1/claims", Jose(jws))).JsonAsync();

        var response = await _client.GetAsync($"/v1/claims/{TestSigner.IdOf(jws)}");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var claim = await response.JsonAsync();
        Assert.Equal(jws, claim.GetProperty("jws").GetString());
        Assert.False(claim.GetProperty("revoked").GetBoolean());
        Assert.Equal(created.GetProperty("seq").GetInt64(), claim.GetProperty("seq").GetInt64());
        Assert.Equal("Steampunk gentleman", claim.GetProperty("title").GetString());
        Assert.Equal("https://licence.example/ai", claim.GetProperty("terms").GetProperty("license").GetString());
        Assert.Equal("y", claim.GetProperty("usage").GetProperty("train-genai").GetString());
        Assert.Equal("https://a.example/get.jpg", claim.GetProperty("subjects")[0].GetProperty("value").GetString());
    }

    [Theory]
    [InlineData("0000000000000000000000000000000000000000000000000000000000000000", HttpStatusCode.NotFound, "claim-not-found")]
    [InlineData("ABC", HttpStatusCode.BadRequest, "invalid-claim-id")]
    [InlineData("..%2F..%2Fetc", HttpStatusCode.BadRequest, "invalid-claim-id")]
    public async Task Unknown_or_malformed_claim_ids_get_problem_json(string id, HttpStatusCode status, string code)
    {
        var response = await _client.GetAsync($"/v1/claims/{id}");

        await AssertProblemAsync(response, status, code);
    }

    [Fact]
    public async Task A_partys_claims_are_listed_in_seq_order_page_by_page()
    {
        using var signer = new TestSigner();
        var ids = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            var jws = signer.OptOut($"https://a.example/list/{i}.jpg");
            ids.Add(TestSigner.IdOf(jws));
            await _client.PostAsync("/v1/claims", Jose(jws));
        }

        var seen = new List<string>();
        long? after = 0;
        var pages = 0;
        while (after is not null)
        {
            var page = await (await _client.GetAsync($"/v1/parties/{signer.Party}/claims?limit=2&after={after}")).JsonAsync();
            seen.AddRange(page.GetProperty("claims").EnumerateArray().Select(c => c.GetProperty("id").GetString()!));
            after = page.GetProperty("next_after").ValueKind == JsonValueKind.Null ? null : page.GetProperty("next_after").GetInt64();
            pages++;
        }

        Assert.Equal(ids, seen);
        Assert.Equal(3, pages);
    }

    [Theory]
    [InlineData("not-a-party", "", "invalid-query")]
    [InlineData("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "?limit=0", "invalid-query")]
    [InlineData("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "?limit=abc", "invalid-query")]
    [InlineData("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "?limit=9999999999", "invalid-query")]
    [InlineData("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "?after=abc", "invalid-query")]
    [InlineData("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "?after=-1", "invalid-query")]
    public async Task Bad_party_list_queries_get_problem_json(string party, string query, string code)
    {
        var response = await _client.GetAsync($"/v1/parties/{party}/claims{query}");

        var problem = await AssertProblemAsync(response, HttpStatusCode.BadRequest, code);
        Assert.DoesNotContain("Failed to bind", problem.GetRawText());
        if (query.Length > 0)
        {
            Assert.True(problem.GetProperty("errors").TryGetProperty(query[1..query.IndexOf('=')], out _), "The problem names the parameter.");
        }
    }
}
