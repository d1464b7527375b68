using System.Net;
using System.Net.Http.Headers;
using ConsentRegistry.Core.Snapshots;
using ConsentRegistry.Cli.Http;

namespace ConsentRegistry.Cli.Snapshots;

/// <summary>
/// Downloads a snapshot's index file into a <c>.partial</c> file, continuing what is there with
/// <c>Range</c> and <c>If-Range</c> (the file's SHA-256 is its strong ETag): a registry that answers
/// 200 instead of 206 sends the whole file, and the download starts over. A connection cut off or
/// stalled mid-file is continued from where it stopped, after a backoff.
/// </summary>
internal sealed class SnapshotDownloader(RegistryHttp http, IDownloadProgress progress)
{
    /// <summary>Brings <paramref name="partialPath"/> to the whole of <paramref name="file"/>; its size is checked, its content is not (the caller hashes it).</summary>
    public async Task DownloadAsync(SnapshotManifest manifest, SnapshotFileEntry file, string partialPath, CancellationToken cancellationToken)
    {
        var url = $"v1/snapshots/{Uri.EscapeDataString(manifest.Id)}/{Uri.EscapeDataString(file.Name)}";
        var etag = new EntityTagHeaderValue($"\"{file.Sha256}\"");
        // FileShare.None: a second pull into the same file fails at once instead of writing over this one.
        await using var partial = new FileStream(partialPath, FileMode.OpenOrCreate, FileAccess.Write, FileShare.None, bufferSize: 1, FileOptions.Asynchronous);
        var failures = 0;

        // The most bytes held at once so far: only bytes past it are progress. A server that
        // ignores Range and cuts the connection at the same place starts the file over each time,
        // and the file growing back to that place is no progress (else it would never give up).
        var reached = partial.Length;
        while (partial.Length < file.Size)
        {
            var offset = partial.Length;
            progress.Report(offset);
            using var response = await http.SendAsync(() => Request(url, offset, etag), cancellationToken);
            switch (response.StatusCode)
            {
                case HttpStatusCode.PartialContent when response.Content.Headers.ContentRange is { From: { } from, Length: { } length } && from == offset && length == file.Size:
                    break;
                case HttpStatusCode.PartialContent:
                    throw CliException.Registry($"the registry answered {url} with a range it was not asked for ({response.Content.Headers.ContentRange}).");
                case HttpStatusCode.OK:
                    if (offset > 0)
                    {
                        progress.Note($"the registry sent {file.Name} whole instead of from byte {offset:N0}; starting over");
                        partial.SetLength(0);
                    }

                    break;
                case HttpStatusCode.NotFound:
                    throw new SnapshotGoneException(manifest.Id);
                case HttpStatusCode.RequestedRangeNotSatisfiable when offset > 0 && ++failures < RegistryHttp.MaxAttempts:
                    progress.Note($"the registry cannot continue {file.Name} from byte {offset:N0}; starting over");
                    partial.SetLength(0);
                    continue;
                default:
                    throw await http.FailureAsync(response, cancellationToken);
            }

            if (response.Headers.ETag is { } served && served.Tag != etag.Tag)
            {
                throw CliException.Verification($"the registry serves {url} with ETag {served.Tag}, not the SHA-256 its signed manifest gives ({file.Sha256}).");
            }

            var cutOff = await CopyAsync(response, partial, file.Size, cancellationToken);
            if (partial.Length == file.Size)
            {
                break;
            }

            cutOff ??= "the answer ended early";
            failures = partial.Length > reached ? 1 : failures + 1;
            reached = Math.Max(reached, partial.Length);
            if (failures >= RegistryHttp.MaxAttempts)
            {
                throw CliException.Registry($"the download of {url} kept being cut off ({cutOff}); run snapshot pull again to continue it.");
            }

            var backoff = RegistryHttp.Backoff(failures);
            progress.Note($"the download was cut off at byte {partial.Length:N0} ({cutOff}); continuing in {backoff.TotalSeconds:F1} s");
            await Task.Delay(backoff, cancellationToken);
        }

        progress.Report(partial.Length);
        partial.Flush(flushToDisk: true);
    }

    private static HttpRequestMessage Request(string url, long offset, EntityTagHeaderValue etag)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, url);
        if (offset > 0)
        {
            // If-Range: the rest only of this very file; were it another, the registry sends it whole.
            request.Headers.Range = new RangeHeaderValue(offset, null);
            request.Headers.IfRange = new RangeConditionHeaderValue(etag);
        }

        return request;
    }

    /// <summary>
    /// Appends the body to <paramref name="partial"/> as it comes; null when the body ended, else why
    /// it was cut off (or stalled: <see cref="BodyReader.StallTimeout"/>). Only reading is retried:
    /// a failed write (a full disk) is the caller's error.
    /// </summary>
    private async Task<string?> CopyAsync(HttpResponseMessage response, FileStream partial, long size, CancellationToken cancellationToken)
    {
        var buffer = new byte[1 << 20];
        partial.Seek(0, SeekOrigin.End);
        BodyReader body;
        try
        {
            body = await BodyReader.OpenAsync(response.Content, cancellationToken);
        }
        catch (Exception e) when (e is HttpRequestException or IOException && !cancellationToken.IsCancellationRequested)
        {
            return e.Message;
        }

        using var owned = body;
        while (true)
        {
            int read;
            try
            {
                read = await body.ReadAsync(buffer);
            }
            catch (Exception e) when (e is HttpRequestException or IOException && !cancellationToken.IsCancellationRequested)
            {
                return e.Message;
            }

            if (read == 0)
            {
                return null;
            }

            if (partial.Length + read > size)
            {
                throw CliException.Verification($"the registry sent more than the {size:N0} bytes the signed manifest gives.");
            }

            await partial.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
            progress.Report(partial.Length);
        }
    }

    /// <summary>The registry answered 404 for the snapshot's file: replaced since its manifest was read, or not held by the instance that answered.</summary>
    internal sealed class SnapshotGoneException(string id)
        : Exception($"snapshot {id} is gone from the registry (it keeps only its last few, and behind a load balancer another instance may have answered)");
}
