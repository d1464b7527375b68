using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using ConsentRegistry.Api.Verification;
using Microsoft.Extensions.Options;
using SkiaSharp;

namespace ConsentRegistry.Api.Fingerprints;

/// <summary>
/// Fetches the image behind a claimed URL with the SSRF guards of DESIGN.md 7: https only (unless
/// <c>Registry:Fetch:AllowInsecureHttp</c>); every connection made only to addresses vetted at
/// connect time (public unless <c>AllowPrivateAddresses</c>), so a DNS answer that changes between
/// check and connect cannot slip through; redirects followed by hand and each one re-checked;
/// <see cref="FetchOptions.Timeout"/> in all and <see cref="FetchOptions.MaxBytes"/> at most, read
/// with a hash on the way; image media types only; no cookies, no proxy, no decompression.
/// </summary>
public sealed class ImageFetcher : IDisposable
{
    public const int MaxRedirects = 5;

    private static readonly string Version =
        typeof(ImageFetcher).Assembly.GetName().Version?.ToString(2) ?? "1.0";

    private readonly FetchOptions _options;
    private readonly HttpClient _client;
    private readonly string _userAgent;

    public ImageFetcher(IOptions<FetchOptions> options)
    {
        _options = options.Value;
        _userAgent = $"ConsentRegistry-Fetcher/{Version} (+{_options.EffectiveOperatorUrl})";
        _client = new HttpClient(CreateHandler(), disposeHandler: true) { Timeout = Timeout.InfiniteTimeSpan };
    }

    /// <summary>What the fetcher says in every request's User-Agent header.</summary>
    public string UserAgent => _userAgent;

    /// <summary>
    /// Fetches <paramref name="url"/> (canonical, from a claim): the bytes, or why not, or the pause
    /// one of its hosts asked for. Every request, redirects included, waits for a turn of its own
    /// host in <paramref name="hosts"/>: a claimed URL that redirects elsewhere takes the turns, and
    /// honours the pauses, of the host that answers. A turn is held until the answer is read, and a
    /// host's pause is recorded before its turn is given back. The time spent waiting for a turn is
    /// not part of <see cref="FetchOptions.Timeout"/>, nor of the result's <see cref="FetchedImage.Took"/>.
    /// </summary>
    internal async Task<FetchedImage> FetchAsync(Uri url, HostGate hosts, CancellationToken cancellationToken)
    {
        var clock = new RequestClock();
        var fetched = await FetchThroughAsync(url, hosts, clock, cancellationToken);
        return fetched with { Took = clock.Spent };
    }

    private async Task<FetchedImage> FetchThroughAsync(Uri url, HostGate hosts, RequestClock clock, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        IDisposable? turn = null;
        string? turnHost = null;
        try
        {
            var uri = url;
            for (var hop = 0; ; hop++)
            {
                if (uri.Scheme != Uri.UriSchemeHttps && !(_options.AllowInsecureHttp && uri.Scheme == Uri.UriSchemeHttp))
                {
                    return FetchedImage.Refused(FetchErrors.InsecureScheme, $"The registry fetches images over https only; {(hop == 0 ? "the URL is" : "a redirect went to")} {uri.Scheme}:.");
                }

                if (!_options.AllowsPort(uri.Port))
                {
                    return FetchedImage.Refused(FetchErrors.PortRefused,
                        $"The registry fetches from the web's ports ({string.Join(", ", _options.EffectivePorts)}); {(hop == 0 ? "the URL names" : "a redirect went to")} port {uri.Port}.");
                }

                var host = HostGate.KeyOf(uri);
                if (host != turnHost)
                {
                    // One host's turn at a time: holding one while waiting for another, two URLs
                    // redirecting to each other's hosts would each wait for the other's turn.
                    turn?.Dispose();
                    (turn, turnHost) = (null, null);
                    var (slot, pausedUntil) = await hosts.EnterAsync(host, cancellationToken);
                    if (slot is null)
                    {
                        return FetchedImage.HostPaused(pausedUntil!.Value);
                    }

                    (turn, turnHost) = (slot, host);
                }

                var spent = clock.Spent;
                clock.Start();
                deadline.CancelAfter(spent < _options.Timeout ? _options.Timeout - spent : TimeSpan.Zero);
                var answer = await RequestAsync(uri, hop, deadline.Token);
                deadline.CancelAfter(Timeout.InfiniteTimeSpan);
                clock.Stop();
                if (answer.Redirect is { } next)
                {
                    uri = next;
                    continue;
                }

                var fetched = answer.Result!;
                if (fetched.IsTransient && hosts.PauseFor(fetched.RetryAfter, fetched.IsThrottled) is { } pause)
                {
                    hosts.Pause(turnHost!, pause); // before the turn is given back: no job waiting for it goes ahead
                    fetched = fetched with { HostPause = pause };
                }

                return fetched;
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return FetchedImage.Transient(FetchErrors.Timeout, $"The image did not arrive within {_options.Timeout.TotalSeconds:0.#} seconds.");
        }
        catch (HttpRequestException e) when (e.InnerException is AddressRefusedException refused)
        {
            return FetchedImage.Refused(FetchErrors.AddressRefused, refused.Message);
        }
        catch (HttpRequestException e) when (e.InnerException is AuthenticationException)
        {
            return FetchedImage.Transient(FetchErrors.FetchFailed, "The server's TLS certificate was not accepted.");
        }
        catch (HttpRequestException e) when (e.InnerException is SocketException { SocketErrorCode: SocketError.HostNotFound or SocketError.NoData })
        {
            return FetchedImage.Transient(FetchErrors.FetchFailed, "The host is not in DNS.");
        }
        catch (Exception e) when (e is HttpRequestException or IOException)
        {
            return FetchedImage.Transient(FetchErrors.FetchFailed, "The connection failed or broke.");
        }
        catch (Exception e) when (e is UriFormatException or ArgumentException)
        {
            return FetchedImage.Refused(FetchErrors.FetchFailed, "The URL is not one the fetcher can request.");
        }
        finally
        {
            turn?.Dispose();
        }
    }

    public void Dispose() => _client.Dispose();

    /// <summary>
    /// The time a fetch has spent in its requests, redirects included, and not waiting for a host's
    /// turn: what the timeout bounds and the fetch duration metric shows. A request cut short by an
    /// error counts up to the moment it failed.
    /// </summary>
    private sealed class RequestClock
    {
        private TimeSpan _done;
        private long _since;

        public TimeSpan Spent => _since == 0 ? _done : _done + Stopwatch.GetElapsedTime(_since);

        public void Start() => _since = Stopwatch.GetTimestamp();

        public void Stop() => (_done, _since) = (Spent, 0);
    }

    /// <summary>One request's answer: where it redirects, or the fetch's result (the image, or why not).</summary>
    private readonly record struct Answer(Uri? Redirect, FetchedImage? Result);

    private async Task<Answer> RequestAsync(Uri uri, int hop, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, uri);
        request.Headers.TryAddWithoutValidation("User-Agent", _userAgent);
        request.Headers.TryAddWithoutValidation("Accept", "image/*");
        using var response = await _client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        var status = (int)response.StatusCode;
        if (status is 301 or 302 or 303 or 307 or 308)
        {
            return hop == MaxRedirects || response.Headers.Location is not { } location
                ? new(null, FetchedImage.Refused(FetchErrors.RedirectRefused, $"More than {MaxRedirects} redirects, or a redirect without a Location."))
                : new(new Uri(uri, location), null);
        }

        if (status == 429 || status >= 500 || status == 408)
        {
            return new(null, FetchedImage.Transient(FetchErrors.HttpStatus, $"The server answered HTTP {status}.", RetryAfter(response.Headers.RetryAfter)) with
            {
                IsThrottled = status == 429,
            });
        }

        if (status != 200)
        {
            return new(null, FetchedImage.Refused(FetchErrors.HttpStatus, $"The server answered HTTP {status}."));
        }

        if (response.Content.Headers.ContentType?.MediaType is not { } mediaType
            || !mediaType.StartsWith("image/", StringComparison.OrdinalIgnoreCase))
        {
            return new(null, FetchedImage.Refused(FetchErrors.NotAnImage,
                $"The server sent {response.Content.Headers.ContentType?.MediaType ?? "no media type"}, not an image."));
        }

        return new(null, await ReadBodyAsync(response, cancellationToken));
    }

    private async Task<FetchedImage> ReadBodyAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if (response.Content.Headers.ContentLength > _options.MaxBytes)
        {
            return TooLarge();
        }

        using var sha256 = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var memory = new SKDynamicMemoryWStream();
        try
        {
            var chunk = new byte[64 * 1024];
            long total = 0;
            await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
            int read;
            while ((read = await body.ReadAsync(chunk, cancellationToken)) > 0)
            {
                total += read;
                if (total > _options.MaxBytes)
                {
                    return TooLarge();
                }

                sha256.AppendData(chunk, 0, read);
                memory.Write(chunk, read);
            }

            return FetchedImage.Fetched(memory.DetachAsData(), Convert.ToHexStringLower(sha256.GetHashAndReset()));
        }
        finally
        {
            memory.Dispose();
        }
    }

    private FetchedImage TooLarge() =>
        FetchedImage.Refused(FetchErrors.TooLarge, $"The image is larger than {_options.MaxBytes / (1024 * 1024.0):0.#} MiB.");

    private static TimeSpan? RetryAfter(RetryConditionHeaderValue? header) => header switch
    {
        { Delta: { } delta } => delta,
        { Date: { } date } => date - DateTimeOffset.UtcNow is var wait && wait > TimeSpan.Zero ? wait : TimeSpan.Zero,
        _ => null,
    };

    private SocketsHttpHandler CreateHandler() => new()
    {
        AllowAutoRedirect = false,
        UseCookies = false,
        UseProxy = false,
        AutomaticDecompression = DecompressionMethods.None,
        MaxResponseHeadersLength = 64,
        MaxResponseDrainSize = 0, // an unread body (a redirect's, an error's) closes the connection: draining it read up to 1 MiB more than the fetch's limit
        ConnectTimeout = _options.Timeout,
        PooledConnectionLifetime = TimeSpan.FromMinutes(2), // DNS answers change: a pooled connection is re-vetted at least this often
        ConnectCallback = ConnectAsync,
    };

    /// <summary>Resolves the host and connects only to an address that passes the guard: the check and the connection use one answer.</summary>
    private async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        var host = context.DnsEndPoint.Host;
        var literal = host.StartsWith('[') ? host[1..^1] : host;
        var addresses = IPAddress.TryParse(literal, out var address) ? [address] : await Dns.GetHostAddressesAsync(host, cancellationToken);
        if (!_options.AllowPrivateAddresses && addresses.FirstOrDefault(a => !AddressPolicy.IsPublic(a)) is not null)
        {
            throw new AddressRefusedException($"{host} resolves to an address that is not on the public internet; the registry fetches only from public addresses.");
        }

        Exception? last = null;
        foreach (var candidate in addresses)
        {
            try
            {
                return await DomainFetchOptions.ConnectTcpAsync(new IPEndPoint(candidate, context.DnsEndPoint.Port), cancellationToken);
            }
            catch (SocketException e)
            {
                last = e;
            }
        }

        throw last ?? new SocketException((int)SocketError.HostNotFound);
    }

    private sealed class AddressRefusedException(string message) : Exception(message);
}

/// <summary>The stable codes of a failed fetch, as <c>GET /v1/claims/{id}/fingerprints</c> shows them in <c>error</c>.</summary>
public static class FetchErrors
{
    public const string InsecureScheme = "insecure-scheme";
    public const string AddressRefused = "address-refused";
    public const string PortRefused = "port-refused";
    public const string RedirectRefused = "redirect-refused";
    public const string HttpStatus = "http-status";
    public const string NotAnImage = "not-an-image";
    public const string TooLarge = "too-large";
    public const string Timeout = "timeout";
    public const string FetchFailed = "fetch-failed";
    public const string UndecodableImage = "undecodable-image";
    public const string Busy = "busy";
    public const string UnsupportedUrl = "unsupported-url";

    /// <summary>Every try of the job ended without a result: the worker that took it stopped (killed, crashed, out of memory) each time.</summary>
    public const string Interrupted = "interrupted";
}

/// <summary>
/// A fetch's result: the image (its bytes in native memory, for the decoder, and their SHA-256), or
/// an error <see cref="Code"/> and <see cref="Detail"/>; <see cref="IsTransient"/> failures are
/// retried, the others are final until the next re-fetch. <see cref="RetryAfter"/> is the server's,
/// unbounded: the worker bounds it.
/// </summary>
public sealed record FetchedImage(SKData? Data, string? Sha256, string? Code, string? Detail, bool IsTransient, TimeSpan? RetryAfter) : IDisposable
{
    /// <summary>The server answered 429 Too Many Requests: it asks the fetcher to slow down, with or without <see cref="RetryAfter"/>.</summary>
    public bool IsThrottled { get; init; }

    public static FetchedImage Fetched(SKData data, string sha256) => new(data, sha256, null, null, false, null);

    public static FetchedImage Transient(string code, string detail, TimeSpan? retryAfter = null) => new(null, null, code, detail, true, retryAfter);

    public static FetchedImage Refused(string code, string detail) => new(null, null, code, detail, false, null);

    /// <summary>Not tried: the host of the URL, or of a redirect, asked for a pause that lasts until <paramref name="until"/>.</summary>
    public static FetchedImage HostPaused(DateTimeOffset until) => new(null, null, null, null, false, null) { PausedUntil = until };

    /// <summary>Set when the fetch was not tried because a host it needed is paused (no <see cref="Code"/>: nothing failed).</summary>
    public DateTimeOffset? PausedUntil { get; init; }

    /// <summary>The pause this answer put on its host (its <see cref="RetryAfter"/> bounded, or the default after a bare 429): the job waits at least as long.</summary>
    public TimeSpan? HostPause { get; init; }

    /// <summary>Time spent in the fetch's requests, redirects included; waits for a host's turn are not (zero when nothing was requested).</summary>
    public TimeSpan Took { get; init; }

    public void Dispose() => Data?.Dispose();
}
