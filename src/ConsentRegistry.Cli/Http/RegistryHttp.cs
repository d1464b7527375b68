using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text.Json;

namespace ConsentRegistry.Cli.Http;

/// <summary>
/// The registry over HTTP, for every command that talks to one: a request answered 429,
/// 502, 503 or 504 is sent again after the server's Retry-After (or a backoff), and one whose
/// connection failed after a backoff. A refused connection before the registry has answered
/// anything fails at once: nothing listens at that URL, and waiting a minute would not change it.
/// </summary>
internal sealed class RegistryHttp : IDisposable
{
    public const int MaxAttempts = 8;

    private static readonly TimeSpan MaxWait = TimeSpan.FromSeconds(30);

    /// <summary>How long the response headers may take; a registry that accepted the connection and says nothing is tried again.</summary>
    private static readonly TimeSpan HeadersTimeout = TimeSpan.FromSeconds(60);

    private readonly HttpClient _http;
    private readonly Action<string> _note;
    private bool _answered;

    /// <param name="connections">Connections kept to the registry: one per request in flight.</param>
    public RegistryHttp(Uri registry, string? apiKey, Action<string> note, int connections = 2, HttpMessageHandler? handler = null)
    {
        _note = note;
        _http = new HttpClient(handler ?? new SocketsHttpHandler
        {
            ConnectTimeout = TimeSpan.FromSeconds(30),
            MaxConnectionsPerServer = connections,
            AutomaticDecompression = DecompressionMethods.All,
        })
        {
            BaseAddress = registry,
            Timeout = Timeout.InfiniteTimeSpan,
        };
        _http.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("consent-registry", CliVersion.Current));
        if (!string.IsNullOrEmpty(apiKey))
        {
            _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("API", apiKey);
        }
    }

    public Uri Registry => _http.BaseAddress!;

    /// <summary>
    /// The answer to the request <paramref name="request"/> makes, once it is not one to retry;
    /// any status (the caller decides what a 404 means). Throws <see cref="CliException"/> (exit 3)
    /// when the registry cannot be reached or keeps answering "later".
    /// </summary>
    public async Task<HttpResponseMessage> SendAsync(Func<HttpRequestMessage> request, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            HttpResponseMessage response;
            try
            {
                using var message = request();
                using var headers = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                headers.CancelAfter(HeadersTimeout);
                response = await _http.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, headers.Token);
            }
            catch (Exception e) when (e is HttpRequestException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
            {
                if (attempt >= MaxAttempts || IsHopeless(e))
                {
                    throw CliException.Registry($"cannot reach the registry at {Registry}: {Reason(e)}", e);
                }

                var backoff = Backoff(attempt);
                _note($"the registry did not answer ({Reason(e)}); trying again in {backoff.TotalSeconds:F1} s");
                await Task.Delay(backoff, cancellationToken);
                continue;
            }

            _answered = true;
            var status = (int)response.StatusCode;
            if (status is not (429 or 502 or 503 or 504) || attempt >= MaxAttempts)
            {
                return response;
            }

            using (response)
            {
                var wait = RetryAfter(response) ?? Backoff(attempt);
                _note($"the registry answered {status}; trying again in {wait.TotalSeconds:F1} s");
                await Task.Delay(wait, cancellationToken);
            }
        }
    }

    /// <summary>The most bytes read of a small answer (a manifest, a key): nothing is believed before it is verified, its size least of all.</summary>
    public const int MaxSmallAnswerBytes = 1 << 20;

    /// <summary>The most bytes of an error answer read for its problem detail.</summary>
    private const int MaxProblemBytes = 64 << 10;

    /// <summary>The body (at most <see cref="MaxSmallAnswerBytes"/>) of a GET of <paramref name="path"/> that must succeed.</summary>
    public async Task<byte[]> GetBytesAsync(string path, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(() => new HttpRequestMessage(HttpMethod.Get, path), cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw await FailureAsync(response, cancellationToken);
        }

        return await ReadSmallAnswerAsync(response, path, cancellationToken);
    }

    /// <summary>
    /// The body of <paramref name="response"/>, an answer to <paramref name="path"/> that must be
    /// small: a registry error (exit 3) when it is larger than <see cref="MaxSmallAnswerBytes"/>,
    /// cut off or stalled.
    /// </summary>
    public async Task<byte[]> ReadSmallAnswerAsync(HttpResponseMessage response, string path, CancellationToken cancellationToken)
    {
        try
        {
            return await ReadAtMostAsync(response.Content, MaxSmallAnswerBytes, cancellationToken)
                ?? throw CliException.Registry($"the registry's answer to {path} is larger than {MaxSmallAnswerBytes:N0} bytes: refused.");
        }
        catch (Exception e) when (e is HttpRequestException or IOException && !cancellationToken.IsCancellationRequested)
        {
            throw CliException.Registry($"the registry's answer to {path} was cut off: {e.Message}", e);
        }
    }

    /// <summary>The error for an answer the command cannot use: its problem+json detail, and what to do about a refused key.</summary>
    public async Task<CliException> FailureAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var status = (int)response.StatusCode;
        var detail = await ProblemDetailAsync(response, cancellationToken);
        var path = response.RequestMessage?.RequestUri?.AbsolutePath ?? "";
        return CliException.Registry(status is 401 or 403
            ? $"the registry at {Registry} refused {path} ({status}): {detail} Pass an API key it accepts with --api-key."
            : $"the registry at {Registry} answered {path} with {status}: {detail}");
    }

    /// <summary>A backoff that doubles from half a second up to <see cref="MaxWait"/>.</summary>
    public static TimeSpan Backoff(int attempt) =>
        TimeSpan.FromMilliseconds(Math.Min(500.0 * (1 << Math.Min(attempt - 1, 10)), MaxWait.TotalMilliseconds));

    /// <summary>Failures no retry mends: a name that does not resolve, TLS that fails, or nothing listening before anything ever answered.</summary>
    private bool IsHopeless(Exception e) =>
        e is HttpRequestException { HttpRequestError: HttpRequestError.NameResolutionError or HttpRequestError.SecureConnectionError }
        || (!_answered && e is HttpRequestException { InnerException: SocketException { SocketErrorCode: SocketError.ConnectionRefused } });

    private static string Reason(Exception e) => e is OperationCanceledException ? $"no answer within {HeadersTimeout.TotalSeconds:F0} s" : e.Message;

    private static TimeSpan? RetryAfter(HttpResponseMessage response)
    {
        var header = response.Headers.RetryAfter;
        var wait = header?.Delta ?? (header?.Date is { } date ? date - DateTimeOffset.UtcNow : null);
        return wait is { } w ? TimeSpan.FromTicks(Math.Clamp(w.Ticks, TimeSpan.FromMilliseconds(100).Ticks, MaxWait.Ticks)) : null;
    }

    private static async Task<string> ProblemDetailAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        try
        {
            var body = await ReadAtMostAsync(response.Content, MaxProblemBytes, cancellationToken);
            if (body is null)
            {
                return response.ReasonPhrase ?? "";
            }

            using var json = JsonDocument.Parse(body);
            return json.RootElement.TryGetProperty("detail", out var detail) ? detail.GetString() ?? ""
                : json.RootElement.TryGetProperty("title", out var title) ? title.GetString() ?? ""
                : response.ReasonPhrase ?? "";
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or HttpRequestException or IOException)
        {
            return response.ReasonPhrase ?? "";
        }
    }

    /// <summary>The whole body, or null when it is longer than <paramref name="max"/> bytes (said or sent).</summary>
    private static async Task<byte[]?> ReadAtMostAsync(HttpContent content, int max, CancellationToken cancellationToken)
    {
        if (content.Headers.ContentLength > max)
        {
            return null;
        }

        using var body = await BodyReader.OpenAsync(content, cancellationToken);
        var buffer = new MemoryStream();
        var chunk = new byte[16 << 10];
        int read;
        while ((read = await body.ReadAsync(chunk)) > 0)
        {
            if (buffer.Length + read > max)
            {
                return null;
            }

            buffer.Write(chunk, 0, read);
        }

        return buffer.ToArray();
    }

    public void Dispose() => _http.Dispose();
}
