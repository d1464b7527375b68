using ConsentRegistry.Api.Errors;
using ConsentRegistry.Core.Snapshots;
using Microsoft.Net.Http.Headers;

namespace ConsentRegistry.Api.Snapshots;

/// <summary>
/// A snapshot file as the framework's file result serves it (Range, If-Range, ETag, HEAD), with
/// two corrections. A Range in another unit than bytes is ignored (RFC 9110 14.2), where the file
/// result would read <c>items=0-9</c> as bytes. And the answers it makes without a body, 416 for a
/// range that asks for no byte of the file and 412 for a failed If-Match, are problem+json in the
/// registry's words, as every other client error is (the file result has set their status and
/// headers, <c>Content-Range: bytes */length</c> included, and written nothing). A file pruned
/// between finding it and sending it is the 404 problem of any snapshot file not kept, with none of
/// the file's headers.
/// </summary>
internal sealed class SnapshotFileResult(string path, SnapshotFileEntry entry) : IResult
{
    /// <summary>A snapshot's files never change: its SHA-256 is a strong validator.</summary>
    public const string CacheControl = "private, max-age=86400, immutable";

    public async Task ExecuteAsync(HttpContext context)
    {
        if (context.Request.Headers.Range is [{ } range] && !range.StartsWith("bytes=", StringComparison.OrdinalIgnoreCase))
        {
            context.Request.Headers.Range = default;
        }

        var response = context.Response;
        response.Headers.CacheControl = CacheControl;
        try
        {
            await TypedResults.PhysicalFile(path, "application/octet-stream", lastModified: File.GetLastWriteTimeUtc(path),
                entityTag: new EntityTagHeaderValue($"\"{entry.Sha256}\""), enableRangeProcessing: true).ExecuteAsync(context);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException && !response.HasStarted)
        {
            // Removed (an older snapshot, past the ones kept) between finding it and sending it.
            TakeBackFileHeaders(response, fileGone: true);
            await Problems.Create(StatusCodes.Status404NotFound, ProblemCodes.SnapshotNotFound,
                $"{entry.Name} was removed with its snapshot just now: snapshots are kept only a while; GET /v1/snapshots/latest names the current one and its files.")
                .ExecuteAsync(context);
            return;
        }

        if (response.HasStarted || response.StatusCode is not (StatusCodes.Status416RangeNotSatisfiable or StatusCodes.Status412PreconditionFailed))
        {
            return;
        }

        TakeBackFileHeaders(response, fileGone: false);
        await (response.StatusCode == StatusCodes.Status416RangeNotSatisfiable
            ? Problems.Create(StatusCodes.Status416RangeNotSatisfiable, ProblemCodes.RangeNotSatisfiable,
                $"The range asks for no byte of {entry.Name}, which is {entry.Size} bytes long (positions 0 to {entry.Size - 1}; "
                + "Content-Range says the length): a range starts within the file, and a suffix range (bytes=-N) asks for at least 1 byte.")
            : Problems.Create(StatusCodes.Status412PreconditionFailed, ProblemCodes.PreconditionFailed,
                $"If-Match or If-Unmodified-Since does not hold for {entry.Name}: its ETag is its SHA-256 as the manifest lists it, "
                + $"\"{entry.Sha256}\", and it never changes.")).ExecuteAsync(context);
    }

    /// <summary>
    /// Takes back what the file result said of the file before a problem goes out in its place: its
    /// length (the server refuses a body longer or shorter than Content-Length: a 500, or a cut
    /// connection), its media type, and a day's caching. The file result may have failed only at the
    /// send, with every header of the file set: when the file is gone, its range, validators and
    /// status go too, and the problem says 404 with nothing of a file that is not there. A 416 keeps
    /// its <c>Content-Range: bytes */length</c> (RFC 9110 15.5.17).
    /// </summary>
    private static void TakeBackFileHeaders(HttpResponse response, bool fileGone)
    {
        response.ContentLength = null;
        response.ContentType = null;
        response.Headers.CacheControl = default; // an error is not kept a day
        if (fileGone)
        {
            response.StatusCode = StatusCodes.Status200OK; // the 206 or 200 of the file; the problem sets its own
            response.Headers.ContentRange = default;
            response.Headers.AcceptRanges = default;
            response.Headers.ETag = default;
            response.Headers.LastModified = default;
        }
    }
}
