using System.Buffers;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using ConsentRegistry.Core.Matching;

namespace ConsentRegistry.Cli.Deciding;

/// <summary>
/// Decides rows against a running registry over <c>POST /v1/lookup/stream</c> (NDJSON): rows go
/// in chunks, several chunks in flight at once; a chunk answered 429 or 503 is sent again after
/// the server's Retry-After, and one cut off by the network after a backoff. Results are matched
/// to rows by their line number (<c>"i"</c>), and a chunk counts only when every line came back.
/// </summary>
public sealed class RegistrySource : IRegistrySource
{
    private const int MaxAttempts = 8;
    private static readonly TimeSpan MaxWait = TimeSpan.FromSeconds(60);
    private static readonly MediaTypeHeaderValue Ndjson = new("application/x-ndjson");

    private readonly HttpClient _http;
    private readonly int _chunkRows;
    private readonly int _inFlight;
    private readonly Action<string> _note;

    private RegistrySource(HttpClient http, SourceDescription description, int chunkRows, int inFlight, Action<string> note)
    {
        _http = http;
        Description = description;
        _chunkRows = chunkRows;
        _inFlight = inFlight;
        _note = note;
    }

    public SourceDescription Description { get; }

    /// <summary>
    /// Connects to the registry at <paramref name="registry"/>: one small lookup checks that it
    /// answers and accepts the API key, and gives the seq the decisions start from.
    /// </summary>
    public static async Task<RegistrySource> ConnectAsync(
        Uri registry, string? apiKey, int chunkRows, int inFlight, Action<string> note, CancellationToken cancellationToken, HttpMessageHandler? handler = null)
    {
        var http = new HttpClient(handler ?? new SocketsHttpHandler { MaxConnectionsPerServer = inFlight + 1, AutomaticDecompression = DecompressionMethods.All })
        {
            BaseAddress = registry,
            Timeout = Timeout.InfiniteTimeSpan,
        };
        http.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("consent-registry", CliVersion.Current));
        if (!string.IsNullOrEmpty(apiKey))
        {
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("API", apiKey);
        }

        try
        {
            var source = new RegistrySource(http, new SourceDescription("registry", registry.ToString(), null, 0), chunkRows, inFlight, note);
            var seq = await source.ProbeAsync(cancellationToken);
            return new RegistrySource(http, source.Description with { Seq = seq }, chunkRows, inFlight, note);
        }
        catch
        {
            http.Dispose();
            throw;
        }
    }

    private async Task<long> ProbeAsync(CancellationToken cancellationToken)
    {
        using var response = await SendWithRetriesAsync(
            () => new HttpRequestMessage(HttpMethod.Post, "v1/lookup")
            {
                Content = new StringContent("""{"items":[{"url":"https://consent-registry.invalid/"}]}""", Encoding.UTF8, "application/json"),
            },
            cancellationToken);
        var body = await response.Content.ReadAsByteArrayAsync(cancellationToken);
        try
        {
            using var json = JsonDocument.Parse(body);
            return json.RootElement.GetProperty("seq").GetInt64();
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw CliException.Registry($"{_http.BaseAddress} answered its lookup API with something that is not a registry's answer.");
        }
    }

    public async Task DecideAsync(ReadOnlyMemory<LookupKey> keys, Memory<Verdict> verdicts, CancellationToken cancellationToken)
    {
        var chunks = (keys.Length + _chunkRows - 1) / _chunkRows;
        await Parallel.ForAsync(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = _inFlight, CancellationToken = cancellationToken }, async (chunk, token) =>
        {
            var start = chunk * _chunkRows;
            var length = Math.Min(_chunkRows, keys.Length - start);
            await DecideChunkAsync(keys.Slice(start, length), verdicts.Slice(start, length), token);
        });
    }

    private async Task DecideChunkAsync(ReadOnlyMemory<LookupKey> keys, Memory<Verdict> verdicts, CancellationToken cancellationToken)
    {
        var body = WriteItems(keys.Span);
        for (var attempt = 1; ; attempt++)
        {
            using var response = await SendWithRetriesAsync(
                () => new HttpRequestMessage(HttpMethod.Post, "v1/lookup/stream") { Content = new ByteArrayContent(body) { Headers = { ContentType = Ndjson } } },
                cancellationToken);
            try
            {
                var answer = await response.Content.ReadAsByteArrayAsync(cancellationToken);
                if (ReadResults(answer, verdicts.Span))
                {
                    return;
                }

                if (attempt >= MaxAttempts)
                {
                    throw CliException.Registry($"{_http.BaseAddress} kept answering fewer lines than it was sent ({keys.Length}).");
                }
            }
            catch (Exception e) when (e is HttpRequestException or IOException && attempt < MaxAttempts)
            {
                _note($"the registry's answer was cut off ({e.Message}); sending {keys.Length:N0} rows again");
            }

            await Task.Delay(Backoff(attempt), cancellationToken);
        }
    }

    /// <summary>Sends the request made by <paramref name="request"/>, again after 429/503 (Retry-After) or a failed connection, until it is answered otherwise.</summary>
    private async Task<HttpResponseMessage> SendWithRetriesAsync(Func<HttpRequestMessage> request, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            HttpResponseMessage response;
            try
            {
                using var message = request();
                response = await _http.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            }
            catch (HttpRequestException e)
            {
                if (attempt >= MaxAttempts || e.HttpRequestError is HttpRequestError.NameResolutionError or HttpRequestError.SecureConnectionError)
                {
                    throw CliException.Registry($"cannot reach the registry at {_http.BaseAddress}: {e.Message}", e);
                }

                await Task.Delay(Backoff(attempt), cancellationToken);
                continue;
            }

            if (response.IsSuccessStatusCode)
            {
                return response;
            }

            using (response)
            {
                var status = (int)response.StatusCode;
                if (status is 429 or 503 or 502 or 504 && attempt < MaxAttempts)
                {
                    var wait = RetryAfter(response) ?? Backoff(attempt);
                    _note($"the registry answered {status}; retrying in {wait.TotalSeconds:F1} s");
                    await Task.Delay(wait, cancellationToken);
                    continue;
                }

                var detail = await ProblemDetailAsync(response, cancellationToken);
                throw CliException.Registry(status is 401 or 403
                    ? $"the registry at {_http.BaseAddress} refused the request ({status}): {detail} Pass an API key it accepts with --api-key."
                    : $"the registry at {_http.BaseAddress} answered {status}: {detail}");
            }
        }
    }

    private static TimeSpan? RetryAfter(HttpResponseMessage response)
    {
        var header = response.Headers.RetryAfter;
        var wait = header?.Delta ?? (header?.Date is { } date ? date - DateTimeOffset.UtcNow : null);
        return wait is { } w ? TimeSpan.FromTicks(Math.Clamp(w.Ticks, TimeSpan.FromMilliseconds(100).Ticks, MaxWait.Ticks)) : null;
    }

    private static TimeSpan Backoff(int attempt) => TimeSpan.FromMilliseconds(Math.Min(250 * (1 << Math.Min(attempt, 8)), MaxWait.TotalMilliseconds));

    private static async Task<string> ProblemDetailAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        try
        {
            var text = await response.Content.ReadAsStringAsync(cancellationToken);
            using var json = JsonDocument.Parse(text);
            return json.RootElement.TryGetProperty("detail", out var detail) ? detail.GetString() ?? "" : json.RootElement.GetProperty("title").GetString() ?? "";
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or HttpRequestException)
        {
            return response.ReasonPhrase ?? "";
        }
    }

    /// <summary>One JSON object per line: <c>{"url":…}</c>, with <c>"sha256"</c> and <c>"pdq"</c> (and its <c>"max_distance"</c>) when the row has them.</summary>
    private static byte[] WriteItems(ReadOnlySpan<LookupKey> keys)
    {
        var buffer = new ArrayBufferWriter<byte>(keys.Length * 96);
        using var json = new Utf8JsonWriter(buffer);
        foreach (ref readonly var key in keys)
        {
            json.WriteStartObject();
            if (!key.Url.IsEmpty)
            {
                json.WriteString("url"u8, key.Url.Span);
            }

            if (key.Sha256 is not null)
            {
                json.WriteString("sha256"u8, key.Sha256);
            }

            if (key.Pdq is not null)
            {
                json.WriteString("pdq"u8, key.Pdq);
                if (key.PdqMaxDistance is { } distance)
                {
                    json.WriteNumber("max_distance"u8, distance);
                }
            }

            json.WriteEndObject();
            json.Flush();
            json.Reset();
            buffer.Write("\n"u8);
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Reads one result per line into <paramref name="verdicts"/> by its <c>"i"</c>; false unless every row got one.</summary>
    private static bool ReadResults(ReadOnlySpan<byte> answer, Span<Verdict> verdicts)
    {
        var seen = 0;
        while (!answer.IsEmpty)
        {
            var end = answer.IndexOf((byte)'\n');
            var line = end < 0 ? answer : answer[..end];
            answer = end < 0 ? default : answer[(end + 1)..];
            if (line.IsEmpty)
            {
                continue;
            }

            var (i, verdict) = ReadResult(line);
            if ((uint)i >= (uint)verdicts.Length)
            {
                return false;
            }

            verdicts[i] = verdict;
            seen++;
        }

        return seen == verdicts.Length;
    }

    private static (int I, Verdict Verdict) ReadResult(ReadOnlySpan<byte> line)
    {
        var reader = new Utf8JsonReader(line);
        var i = -1;
        Span<Permission> permissions = stackalloc Permission[5];
        List<string>? claims = null;
        List<string>? by = null;
        string? error = null;
        reader.Read(); // {
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("i"u8))
            {
                reader.Read();
                i = reader.GetInt32();
            }
            else if (reader.ValueTextEquals("decision"u8))
            {
                reader.Read();
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    var category = Category(ref reader);
                    reader.Read();
                    var permission = reader.ValueTextEquals("disallow"u8) ? Permission.Disallow : reader.ValueTextEquals("allow"u8) ? Permission.Allow : Permission.Unknown;
                    if (category >= 0)
                    {
                        permissions[category] = permission;
                    }
                }
            }
            else if (reader.ValueTextEquals("matches"u8))
            {
                reader.Read();
                while (reader.Read() && reader.TokenType == JsonTokenType.StartObject)
                {
                    while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                    {
                        var isClaim = reader.ValueTextEquals("claim"u8);
                        var isBy = reader.ValueTextEquals("by"u8);
                        reader.Read();
                        if (isClaim)
                        {
                            (claims ??= []).Add(reader.GetString()!);
                        }
                        else if (isBy)
                        {
                            (by ??= []).Add(reader.GetString()!);
                        }
                    }
                }
            }
            else if (reader.ValueTextEquals("error"u8))
            {
                reader.Read();
                using var document = JsonDocument.ParseValue(ref reader);
                error = document.RootElement.TryGetProperty("detail", out var detail) ? detail.GetString() : "invalid item";
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }

        var decision = new Decision(permissions[0], permissions[1], permissions[2], permissions[3], permissions[4]);
        return (i, new Verdict(decision, Distinct(claims), error, Distinct(by)));
    }

    private static string? Distinct(List<string>? values) => values is null ? null : string.Join(' ', values.Distinct(StringComparer.Ordinal));

    private static int Category(ref Utf8JsonReader reader) =>
        reader.ValueTextEquals("tdm"u8) ? 0
        : reader.ValueTextEquals("train-ai"u8) ? 1
        : reader.ValueTextEquals("train-genai"u8) ? 2
        : reader.ValueTextEquals("ai-use"u8) ? 3
        : reader.ValueTextEquals("search"u8) ? 4
        : -1;

    public ValueTask DisposeAsync()
    {
        _http.Dispose();
        return ValueTask.CompletedTask;
    }
}
