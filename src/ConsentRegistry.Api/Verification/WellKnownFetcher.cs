using System.Net;
using System.Net.Sockets;
using System.Security.Authentication;
using ConsentRegistry.Api.Hosting;
using ConsentRegistry.Core.Urls;
using Microsoft.Extensions.Options;

namespace ConsentRegistry.Api.Verification;

/// <summary>
/// Fetches <c>/.well-known/consent-registry.json</c> from a host with the SSRF guards of
/// DESIGN.md 7: https only (unless AllowInsecureHttp), every address vetted before connecting and
/// the connection made to that vetted address (so DNS rebinding between check and connect cannot
/// slip through), redirects followed by hand only on the same host, 5 s in all, 64 KB at most,
/// no cookies, no proxy. The body is never logged.
/// </summary>
internal sealed class WellKnownFetcher(IOptions<VerificationOptions> verificationOptions, IOptions<DomainFetchOptions> fetch, ILogger<WellKnownFetcher> logger)
{
    public const string DocumentPath = "/.well-known/consent-registry.json";
    public const int MaxBytes = 64 * 1024;
    public const int MaxRedirects = 3;
    public const string UserAgent = "ConsentRegistry-DomainVerifier/1.0 (checks /.well-known/consent-registry.json)";

    private static readonly HttpRequestOptionsKey<IPAddress[]> VettedAddresses = new("vetted-addresses");

    private readonly SemaphoreSlim _slots = new(verificationOptions.Value.MaxConcurrentFetches, verificationOptions.Value.MaxConcurrentFetches);

    /// <summary>The slots waiting fetches (re-checks) may hold at once: half of them, at least one, so that a verify call finds one free whenever there are two or more.</summary>
    private readonly SemaphoreSlim _waitingSlots = new(Math.Max(1, verificationOptions.Value.MaxConcurrentFetches / 2));

    /// <summary>
    /// Fetches as soon as a slot is free, holding at most half of the instance's
    /// <see cref="VerificationOptions.MaxConcurrentFetches"/> with other waiting fetches (re-checks
    /// wait their turn, and leave the rest to verify calls). <paramref name="host"/> is canonical
    /// (HostCanonicalizer): lowercase, punycode, IPv6 in brackets.
    /// </summary>
    public async Task<FetchOutcome> FetchAsync(string host, CancellationToken cancellationToken)
    {
        await _waitingSlots.WaitAsync(cancellationToken);
        try
        {
            await _slots.WaitAsync(cancellationToken);
            try
            {
                return await FetchInSlotAsync(host, cancellationToken);
            }
            finally
            {
                _slots.Release();
            }
        }
        finally
        {
            _waitingSlots.Release();
        }
    }

    /// <summary>Fetches if a slot is free now; null when every slot is taken (a caller's request, answered 503).</summary>
    public async Task<FetchOutcome?> TryFetchAsync(string host, CancellationToken cancellationToken)
    {
        if (!_slots.Wait(0, CancellationToken.None))
        {
            return null;
        }

        try
        {
            return await FetchInSlotAsync(host, cancellationToken);
        }
        finally
        {
            _slots.Release();
        }
    }

    private async Task<FetchOutcome> FetchInSlotAsync(string host, CancellationToken cancellationToken)
    {
        var options = fetch.Value;
        var verification = verificationOptions.Value;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(options.Timeout);
        using var client = new HttpClient(CreateHandler(options), disposeHandler: true) { Timeout = Timeout.InfiniteTimeSpan };

        try
        {
            var uri = new Uri($"{(verification.AllowInsecureHttp ? "http" : "https")}://{host}{DocumentPath}");
            for (var hop = 0; ; hop++)
            {
                if (uri.Scheme != Uri.UriSchemeHttps && !(verification.AllowInsecureHttp && uri.Scheme == Uri.UriSchemeHttp))
                {
                    return FetchOutcome.Failed(VerificationCodes.InsecureScheme,
                        $"{host} sent the registry to a {uri.Scheme}: address; the registry only fetches the file over https.");
                }

                var addresses = await ResolveAsync(host, options, deadline.Token);
                if (addresses.Length == 0)
                {
                    return FetchOutcome.Failed(VerificationCodes.FetchFailed, $"{host} has no address in DNS.");
                }

                if (!verification.AllowPrivateAddresses && addresses.FirstOrDefault(a => !AddressPolicy.IsPublic(a)) is { } refused)
                {
                    // The answer names no address: it would tell a caller how the registry's own network resolves names.
                    logger.LogInformation("Domain verification of {Host} refused address {Address} ({Kind})", host, refused, AddressPolicy.Classify(refused));
                    return FetchOutcome.Failed(VerificationCodes.AddressRefused,
                        $"{host} resolves to an address that is not on the public internet; the registry only fetches from public addresses.");
                }

                using var request = new HttpRequestMessage(HttpMethod.Get, uri);
                request.Options.Set(VettedAddresses, addresses);
                request.Headers.TryAddWithoutValidation("User-Agent", UserAgent);
                request.Headers.TryAddWithoutValidation("Accept", "application/json");
                using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, deadline.Token);

                var status = (int)response.StatusCode;
                if (status is 301 or 302 or 303 or 307 or 308)
                {
                    if (hop == MaxRedirects)
                    {
                        return FetchOutcome.Failed(VerificationCodes.RedirectRefused, $"{host} redirected more than {MaxRedirects} times.");
                    }

                    var next = response.Headers.Location is { } location ? new Uri(uri, location) : null;
                    if (next is null || !IsSameHost(next, host))
                    {
                        return FetchOutcome.Failed(VerificationCodes.RedirectRefused,
                            $"{host} redirected the registry to another host (or port); the file must be served by {host} itself.");
                    }

                    uri = next;
                    continue;
                }

                if (status != 200)
                {
                    return FetchOutcome.Failed(VerificationCodes.FetchFailed,
                        $"{host} answered HTTP {status} for {DocumentPath}; it must answer 200 with the file.", status);
                }

                return await ReadDocumentAsync(host, response, deadline.Token);
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return FetchOutcome.Failed(VerificationCodes.Timeout, $"{host} did not deliver the file within {options.Timeout.TotalSeconds:0.#} seconds.");
        }
        catch (SocketException)
        {
            return FetchOutcome.Failed(VerificationCodes.FetchFailed, $"The registry could not find {host} in DNS.");
        }
        catch (Exception e) when (e is UriFormatException or ArgumentException)
        {
            // URL syntax allows host names that DNS does not (over-long labels, some punctuation).
            return FetchOutcome.Failed(VerificationCodes.FetchFailed, $"{host} is not a name the registry can look up in DNS.");
        }
        catch (HttpRequestException e) when (e.InnerException is AuthenticationException)
        {
            return FetchOutcome.Failed(VerificationCodes.FetchFailed, $"The registry could not make a secure (TLS) connection to {host}: its certificate was not accepted.");
        }
        catch (HttpRequestException)
        {
            return FetchOutcome.Failed(VerificationCodes.FetchFailed, $"The registry could not connect to {host}, or the connection broke.");
        }
        catch (IOException)
        {
            // HttpIOException and kin: the body ended before its Content-Length, broken chunking, a reset mid-body.
            return FetchOutcome.Failed(VerificationCodes.FetchFailed, $"The connection to {host} broke while the registry was reading the file.");
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Whatever else a remote server provokes is a failed fetch, never a 500 or an aborted re-check pass.
            logger.LogWarning(e, "Domain verification fetch of {Host} failed unexpectedly", host);
            return FetchOutcome.Failed(VerificationCodes.FetchFailed, $"The registry could not fetch the file from {host}.");
        }
    }

    private static async Task<IPAddress[]> ResolveAsync(string host, DomainFetchOptions options, CancellationToken cancellationToken)
    {
        var literal = host.StartsWith('[') ? host[1..^1] : host;
        return IPAddress.TryParse(literal, out var address) ? [address] : await options.ResolveAsync(host, cancellationToken);
    }

    private static bool IsSameHost(Uri next, string host) =>
        UrlCanonicalizer.TryCanonicalize(next.AbsoluteUri, out var canonical, out _)
        && canonical.Host.SequenceEqual(host)
        && canonical.HostStart + canonical.HostLength == canonical.PathStart; // no explicit port: only the scheme's default

    private static async Task<FetchOutcome> ReadDocumentAsync(string host, HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var tooLarge = FetchOutcome.Failed(VerificationCodes.TooLarge, $"The file on {host} is larger than {MaxBytes / 1024} KB.");
        if (response.Content.Headers.ContentLength > MaxBytes)
        {
            return tooLarge;
        }

        // Read at most one byte past the limit, whatever the server claims or keeps sending.
        var buffer = new byte[MaxBytes + 1];
        var length = 0;
        await using (var body = await response.Content.ReadAsStreamAsync(cancellationToken))
        {
            int read;
            while (length < buffer.Length && (read = await body.ReadAsync(buffer.AsMemory(length), cancellationToken)) > 0)
            {
                length += read;
            }
        }

        if (length > MaxBytes)
        {
            return tooLarge;
        }

        return WellKnownDocument.ParseKeys(buffer.AsMemory(0, length)) is { } keys
            ? FetchOutcome.Fetched(keys)
            : FetchOutcome.Failed(VerificationCodes.InvalidDocument,
                $"The file on {host} is not valid: it must be JSON of the form {{\"keys\": [\"<party id>\", …]}}.");
    }

    private static SocketsHttpHandler CreateHandler(DomainFetchOptions options) => new()
    {
        AllowAutoRedirect = false,
        UseCookies = false,
        UseProxy = false,
        AutomaticDecompression = DecompressionMethods.None,
        MaxResponseHeadersLength = 16,
        MaxResponseDrainSize = 0, // an unread body (a redirect's, an error's) closes the connection: draining it read up to 1 MiB more than the fetch's limit
        ConnectTimeout = options.Timeout,
        SslOptions = { RemoteCertificateValidationCallback = options.CertificateValidation },
        ConnectCallback = async (context, cancellationToken) =>
        {
            // Connect to the addresses vetted for this very request, never to a fresh DNS answer.
            var addresses = context.InitialRequestMessage.Options.TryGetValue(VettedAddresses, out var vetted)
                ? vetted
                : throw new InvalidOperationException("A verification request without vetted addresses.");
            Exception? last = null;
            foreach (var address in addresses)
            {
                try
                {
                    return await options.ConnectAsync(new IPEndPoint(address, context.DnsEndPoint.Port), cancellationToken);
                }
                catch (SocketException e)
                {
                    last = e;
                }
            }

            throw new HttpRequestException($"Could not connect to {context.DnsEndPoint.Host}.", last);
        },
    };
}
