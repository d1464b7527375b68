using System.Buffers;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using ConsentRegistry.Cli.Http;
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
    /// <summary>Times a chunk is sent again when its answer was cut off or came back short.</summary>
    private const int MaxAttempts = RegistryHttp.MaxAttempts;

    private static readonly MediaTypeHeaderValue Ndjson = new("application/x-ndjson");

    private readonly RegistryHttp _http;
    private readonly int _chunkRows;
    private readonly int _inFlight;
    private readonly Action<string> _note;

    private RegistrySource(RegistryHttp http, int chunkRows, int inFlight, Action<string> note)
    {
        _http = http;
        _chunkRows = chunkRows;
        _inFlight = inFlight;
        _note = note;
        Description = new SourceDescription("registry", http.Registry.ToString(), null, 0);
    }

    public SourceDescription Description { get; private set; }

    /// <summary>
    /// Connects to the registry at <paramref name="registry"/>: one small lookup checks that it
    /// answers and accepts the API key, and gives the seq the decisions start from.
    /// </summary>
    public static async Task<RegistrySource> ConnectAsync(
        Uri registry, string? apiKey, int chunkRows, int inFlight, Action<string> note, CancellationToken cancellationToken)
    {
        var source = new RegistrySource(new RegistryHttp(registry, apiKey, note, connections: inFlight + 1), chunkRows, inFlight, note);
        try
        {
            source.Description = source.Description with { Seq = await source.ProbeAsync(cancellationToken) };
            return source;
        }
        catch
        {
            await source.DisposeAsync();
            throw;
        }
    }

    private async Task<long> ProbeAsync(CancellationToken cancellationToken)
    {
        using var response = await _http.SendAsync(
            () => new HttpRequestMessage(HttpMethod.Post, "v1/lookup")
            {
                Content = new StringContent("""{"items":[{"url":"https://consent-registry.invalid/"}]}""", Encoding.UTF8, "application/json"),
            },
            cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw await _http.FailureAsync(response, cancellationToken);
        }

        try
        {
            using var json = JsonDocument.Parse(await response.Content.ReadAsByteArrayAsync(cancellationToken));
            return json.RootElement.GetProperty("seq").GetInt64();
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw CliException.Registry($"{_http.Registry} answered its lookup API with something that is not a registry's answer.");
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
            using var response = await _http.SendAsync(
                () => new HttpRequestMessage(HttpMethod.Post, "v1/lookup/stream") { Content = new ByteArrayContent(body) { Headers = { ContentType = Ndjson } } },
                cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                throw await _http.FailureAsync(response, cancellationToken);
            }

            try
            {
                var answer = await response.Content.ReadAsByteArrayAsync(cancellationToken);
                if (ReadResults(answer, verdicts.Span))
                {
                    return;
                }

                if (attempt >= MaxAttempts)
                {
                    throw CliException.Registry($"{_http.Registry} kept answering fewer lines than it was sent ({keys.Length}).");
                }
            }
            catch (Exception e) when (e is HttpRequestException or IOException && attempt < MaxAttempts)
            {
                _note($"the registry's answer was cut off ({e.Message}); sending {keys.Length:N0} rows again");
            }

            await Task.Delay(RegistryHttp.Backoff(attempt), cancellationToken);
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
