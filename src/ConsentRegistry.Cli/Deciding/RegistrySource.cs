using System.Buffers;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using ConsentRegistry.Cli.Http;
using ConsentRegistry.Core.Claims;
using ConsentRegistry.Core.Embeddings;
using ConsentRegistry.Core.Matching;

namespace ConsentRegistry.Cli.Deciding;

/// <summary>
/// Decides rows against a running registry over <c>POST /v1/lookup</c>: rows go in batches of
/// <c>--chunk-rows</c> (at most the registry's Registry:Lookup:MaxBatch, 10,000 by default),
/// several batches in flight at once; a batch answered 429, 502, 503 or 504 is sent again after
/// the server's Retry-After, one cut off by the network after a backoff, and one counts only when it
/// brought a result for every row. Not the NDJSON stream: HttpClient sends an HTTP/1.1 body
/// whole before it reads the answer, and a stream answers while it reads, so a chunk whose answer
/// outgrew the socket buffers stalled both ends (measured: a 100,000-row chunk took minutes).
/// </summary>
public sealed class RegistrySource : IRegistrySource
{
    /// <summary>Times a chunk is sent again when its answer was cut off or came back short.</summary>
    private const int MaxAttempts = RegistryHttp.MaxAttempts;

    private static readonly MediaTypeHeaderValue Json = new("application/json");

    /// <summary>
    /// Rows of images (SHA-256, PDQ, embeddings) sent in one lookup request at most: the registry takes
    /// 256 embedding vectors and 256 PDQ items wider than its default radius a request (a scan sends
    /// its radius with every hash, and the registry's default may be narrower). A scan hashes images
    /// far slower than they are looked up, so the smaller requests cost it nothing.
    /// </summary>
    public const int MaxImageRowsPerRequest = 256;

    /// <summary>The bytes of answer allowed per URL row looked up (<see cref="MaxAnswerBytes"/>).</summary>
    public const int MaxAnswerBytesPerRow = 8 << 10;

    /// <summary>
    /// The same per image row: each of its 16 matches may name the claimed URL (up to 8,192
    /// characters, each written as up to 6 bytes of escaped JSON, as an ampersand is) its derived
    /// fingerprint came from.
    /// </summary>
    public const int MaxAnswerBytesPerImageRow = 16 * ((8_192 * 6) + (1 << 10));

    /// <summary>Claim ids remembered as strings (about 200 bytes each, 20 MB at most); past this, new ones are made per row.</summary>
    private const int MaxRememberedClaims = 100_000;

    private readonly ConcurrentDictionary<string, string> _claimIds = new(StringComparer.Ordinal);
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

        var body = await _http.ReadSmallAnswerAsync(response, "/v1/lookup", cancellationToken);
        try
        {
            using var json = JsonDocument.Parse(body);
            return json.RootElement.GetProperty("seq").GetInt64();
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw NotAnAnswer(e); // FormatException: a seq that is a number but not an integer (1.5)
        }
    }

    /// <summary>A 200 to a lookup that is not the registry's JSON: another server, or a proxy's page, answers at that URL.</summary>
    private CliException NotAnAnswer(Exception e) =>
        CliException.Registry($"{_http.Registry} answered its lookup API with something that is not a registry's answer ({e.Message}).", e);

    public async Task CheckEmbeddingModelAsync(ImageVector probe, CancellationToken cancellationToken)
    {
        var verdicts = new Verdict[1];
        await DecideChunkAsync(new[] { new LookupKey(default, Embedding: probe) }, verdicts, cancellationToken);
        if (verdicts[0].Error is { } refused)
        {
            throw CliException.Input(
                $"{_http.Registry} does not compare this scan's vectors ('{probe.Model}', {probe.Vector.Length} dimensions): {refused} "
                + "Name the registry's model with --embedding-model (docs/cli.md).");
        }
    }

    public async Task DecideAsync(ReadOnlyMemory<LookupKey> keys, Memory<Verdict> verdicts, bool listClaims, CancellationToken cancellationToken)
    {
        var chunkRows = HasImageKeys(keys.Span) ? Math.Min(_chunkRows, MaxImageRowsPerRequest) : _chunkRows;
        var chunks = (keys.Length + chunkRows - 1) / chunkRows;
        await Parallel.ForAsync(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = _inFlight, CancellationToken = cancellationToken }, async (chunk, token) =>
        {
            var start = chunk * chunkRows;
            var length = Math.Min(chunkRows, keys.Length - start);
            await DecideChunkAsync(keys.Slice(start, length), verdicts.Slice(start, length), token);
        });
    }

    private static bool HasImageKeys(ReadOnlySpan<LookupKey> keys)
    {
        foreach (ref readonly var key in keys)
        {
            if (key.Embedding is not null || key.Pdq is not null || key.Sha256 is not null)
            {
                return true;
            }
        }

        return false;
    }

    private async Task DecideChunkAsync(ReadOnlyMemory<LookupKey> keys, Memory<Verdict> verdicts, CancellationToken cancellationToken)
    {
        using var body = WriteItems(keys.Span);
        for (var attempt = 1; ; attempt++)
        {
            using var response = await _http.SendAsync(
                () => new HttpRequestMessage(HttpMethod.Post, "v1/lookup") { Content = new ReadOnlyMemoryContent(body.WrittenMemory) { Headers = { ContentType = Json } } },
                cancellationToken);
            if (response.StatusCode is HttpStatusCode.BadRequest or HttpStatusCode.RequestEntityTooLarge)
            {
                // The registry's Registry:Lookup:MaxBatch (or its body limit) is below --chunk-rows.
                var refused = await _http.FailureAsync(response, cancellationToken);
                throw CliException.Registry($"{refused.Message} Send smaller batches with --chunk-rows (now {keys.Length:N0} rows).");
            }

            if (!response.IsSuccessStatusCode)
            {
                throw await _http.FailureAsync(response, cancellationToken);
            }

            try
            {
                using var answer = new PooledBuffer(body.WrittenSpan.Length * 3);
                var max = MaxAnswerBytes(keys.Length, HasImageKeys(keys.Span));
                using (var reader = await BodyReader.OpenAsync(response.Content, cancellationToken))
                {
                    if (response.Content.Headers.ContentLength > max || !await answer.ReadToEndAsync(reader, max))
                    {
                        throw CliException.Registry($"{_http.Registry} answered a lookup of {keys.Length:N0} rows with more than {max:N0} bytes, which is not a registry's answer.");
                    }
                }

                if (ReadResults(answer.WrittenSpan, verdicts.Span))
                {
                    return;
                }

                if (attempt >= MaxAttempts)
                {
                    throw CliException.Registry($"{_http.Registry} kept answering fewer lines than it was sent ({keys.Length}).");
                }
            }
            catch (Exception e) when (e is HttpRequestException or IOException)
            {
                if (attempt >= MaxAttempts)
                {
                    throw CliException.Registry($"{_http.Registry} kept cutting off its answers to {keys.Length:N0} rows ({e.Message}), {MaxAttempts} times.", e);
                }

                _note($"the registry's answer was cut off ({e.Message}); sending {keys.Length:N0} rows again");
            }

            await Task.Delay(RegistryHttp.Backoff(attempt), cancellationToken);
        }
    }

    /// <summary>
    /// The most bytes an answer to <paramref name="rows"/> rows may hold. A row's result is its
    /// decision and at most 16 matches (the registry's MatchingIndex.MaxListedMatches) of about
    /// 120 bytes each (claim id, kind, trust, distance): 2 KiB, within <see cref="MaxAnswerBytesPerRow"/>.
    /// An image row's matches may each name the claimed URL of a derived fingerprint
    /// (<c>derived_from</c>, up to 8,192 characters): <see cref="MaxAnswerBytesPerImageRow"/>, at
    /// most 256 rows a request. Anything larger is not the registry's answer (a proxy's page with no
    /// end), and would grow until memory ran out.
    /// </summary>
    private static int MaxAnswerBytes(int rows, bool images) =>
        (int)Math.Min(RegistryHttp.MaxSmallAnswerBytes + ((long)rows * (images ? MaxAnswerBytesPerImageRow : MaxAnswerBytesPerRow)), 1L << 30);

    /// <summary>
    /// <c>{"items":[…]}</c>: each row's <c>"url"</c>, with <c>"sha256"</c>, <c>"pdq"</c> (and its
    /// <c>"max_distance"</c>) and <c>"embeddings"</c> (and its <c>"min_similarity"</c>) when it has them.
    /// </summary>
    private static PooledBuffer WriteItems(ReadOnlySpan<LookupKey> keys)
    {
        var buffer = new PooledBuffer((keys.Length * 128) + 16);
        using var json = new Utf8JsonWriter(buffer);
        json.WriteStartObject();
        json.WriteStartArray("items"u8);
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

            if (key.Embedding is { } embedding)
            {
                json.WriteStartArray("embeddings"u8);
                json.WriteStartObject();
                json.WriteString("model"u8, embedding.Model);
                json.WriteString("value"u8, EmbeddingVector.Encode(embedding.Vector));
                json.WriteEndObject();
                json.WriteEndArray();
                if (embedding.MinSimilarity is { } similarity)
                {
                    json.WriteNumber("min_similarity"u8, similarity);
                }
            }

            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteEndObject();
        json.Flush();
        return buffer;
    }

    /// <summary>
    /// Reads <c>{"seq":…,"results":[…]}</c> into <paramref name="verdicts"/> in order; false unless
    /// there is one result per row. An answer that is not JSON, or not of that shape, is a registry
    /// error (exit 3): sending it again would bring the same.
    /// </summary>
    private bool ReadResults(ReadOnlySpan<byte> answer, Span<Verdict> verdicts)
    {
        try
        {
            return ReadResultsOrThrow(answer, verdicts);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            throw NotAnAnswer(e);
        }
    }

    private bool ReadResultsOrThrow(ReadOnlySpan<byte> answer, Span<Verdict> verdicts)
    {
        var reader = new Utf8JsonReader(answer);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            return false;
        }

        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (!reader.ValueTextEquals("results"u8))
            {
                reader.Read();
                reader.Skip();
                continue;
            }

            reader.Read();
            var seen = 0;
            while (reader.Read() && reader.TokenType == JsonTokenType.StartObject)
            {
                if (seen == verdicts.Length)
                {
                    return false;
                }

                verdicts[seen++] = ReadResult(ref reader);
            }

            return seen == verdicts.Length;
        }

        return false;
    }

    /// <summary>One result object, the reader on its opening brace; leaves the reader on its closing brace.</summary>
    private Verdict ReadResult(ref Utf8JsonReader reader)
    {
        Span<Permission> permissions = stackalloc Permission[5];
        var claims = new Words();
        var by = new Words();
        string? error = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("decision"u8))
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
                            claims.Add(ClaimId(ref reader));
                        }
                        else if (isBy)
                        {
                            by.Add(MatchedKind(ref reader));
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
        return new Verdict(decision, claims.Joined, error, by.Joined);
    }

    /// <summary>
    /// A claim id, as the one string already made for it: a claim may decide millions of rows,
    /// and a new 64-character string per matched row was most of what the garbage collector did.
    /// </summary>
    private string ClaimId(ref Utf8JsonReader reader)
    {
        Span<char> chars = stackalloc char[128];
        if (reader.ValueIsEscaped || reader.ValueSpan.Length > chars.Length)
        {
            return reader.GetString()!;
        }

        var length = reader.CopyString(chars);
        if (_claimIds.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(chars[..length], out var id))
        {
            return id;
        }

        id = new string(chars[..length]);
        return _claimIds.Count < MaxRememberedClaims ? _claimIds.GetOrAdd(id, id) : id;
    }

    private static string MatchedKind(ref Utf8JsonReader reader) =>
        reader.ValueTextEquals("url"u8) ? SubjectKinds.Url
        : reader.ValueTextEquals("url-prefix"u8) ? SubjectKinds.UrlPrefix
        : reader.ValueTextEquals("host"u8) ? SubjectKinds.Host
        : reader.ValueTextEquals("sha256"u8) ? SubjectKinds.Sha256
        : reader.ValueTextEquals("pdq"u8) ? SubjectKinds.Pdq
        : reader.ValueTextEquals("embedding"u8) ? SubjectKinds.Embedding
        : reader.GetString()!;

    /// <summary>Distinct words joined by spaces, without a list for the common case of one.</summary>
    private struct Words
    {
        private string? _first;
        private List<string>? _more;

        public readonly string? Joined => _more is null ? _first : string.Join(' ', _more.Prepend(_first!).Distinct(StringComparer.Ordinal));

        public void Add(string word)
        {
            if (_first is null)
            {
                _first = word;
            }
            else if (!ReferenceEquals(word, _first) && word != _first)
            {
                (_more ??= []).Add(word);
            }
        }
    }

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
