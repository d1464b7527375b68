using System.Buffers;
using System.Security.Cryptography;
using ConsentRegistry.Api.Errors;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Net.Http.Headers;
using SkiaSharp;
using ConsentRegistry.Imaging;

namespace ConsentRegistry.Api.Images;

/// <summary>The <c>file</c> part of an upload, in native memory for the decoder, and its SHA-256.</summary>
internal sealed record UploadedFile(SKData Data, string Sha256);

/// <summary>
/// Reads the <c>file</c> part of a <c>multipart/form-data</c> request straight into native memory (no temporary
/// files, no managed copy), hashing it with SHA-256 on the way and stopping at <see cref="ImageLimits.MaxBytes"/>.
/// </summary>
internal static class ImageUpload
{
    public const string FormMediaType = "multipart/form-data";
    public const string FilePart = "file";

    private const int MaxBoundaryLength = 70; // RFC 2046

    /// <summary>The multipart boundary, or the problem with the request's headers.</summary>
    public static (string? Boundary, ProblemHttpResult? Problem) ReadBoundary(HttpRequest request)
    {
        if (request.ContentType is null
            || !MediaTypeHeaderValue.TryParse(request.ContentType, out var mediaType)
            || !mediaType.MediaType.Equals(FormMediaType, StringComparison.OrdinalIgnoreCase))
        {
            return (null, Problems.Create(StatusCodes.Status415UnsupportedMediaType, ProblemCodes.UnsupportedMediaType,
                $"Send the image as {FormMediaType} with a part named \"{FilePart}\"."));
        }

        var boundary = HeaderUtilities.RemoveQuotes(mediaType.Boundary).Value;
        if (string.IsNullOrEmpty(boundary) || boundary.Length > MaxBoundaryLength)
        {
            return (null, InvalidForm("The Content-Type header has no valid multipart boundary."));
        }

        if (request.ContentLength > ImageLimits.MaxBytes + ImageLimits.MultipartOverheadBytes)
        {
            return (null, TooLarge());
        }

        return (boundary, null);
    }

    /// <summary>Reads the first <c>file</c> part, holding its bytes in <paramref name="upload"/> as they arrive; other parts are skipped.</summary>
    public static async Task<(UploadedFile? File, ProblemHttpResult? Problem)> ReadFileAsync(
        HttpRequest request, string boundary, UploadReservation upload, CancellationToken cancellationToken)
    {
        try
        {
            var reader = new MultipartReader(boundary, request.Body);
            while (await reader.ReadNextSectionAsync(cancellationToken) is { } section)
            {
                if (ContentDispositionHeaderValue.TryParse(section.ContentDisposition, out var disposition)
                    && disposition.DispositionType.Equals("form-data", StringComparison.OrdinalIgnoreCase)
                    && HeaderUtilities.RemoveQuotes(disposition.Name).Equals(FilePart, StringComparison.Ordinal))
                {
                    return await CopyAsync(section.Body, upload, request.HttpContext, cancellationToken);
                }
            }

            return (null, Problems.Create(StatusCodes.Status400BadRequest, ProblemCodes.MissingFile,
                $"The form has no part named \"{FilePart}\"; send the image in it.", field: FilePart));
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return (null, TooLarge());
        }
        catch (Exception e) when (e is IOException or InvalidDataException && e is not BadHttpRequestException
            && !cancellationToken.IsCancellationRequested)
        {
            return (null, InvalidForm("The body is not a well-formed multipart/form-data form."));
        }
    }

    private static async Task<(UploadedFile?, ProblemHttpResult?)> CopyAsync(Stream body, UploadReservation upload, HttpContext context, CancellationToken cancellationToken)
    {
        byte[] chunk = ArrayPool<byte>.Shared.Rent(64 * 1024);
        using var sha256 = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        using var memory = new SKDynamicMemoryWStream();
        try
        {
            long total = 0;
            int read;
            while ((read = await body.ReadAsync(chunk, cancellationToken)) > 0)
            {
                total += read;
                if (total > ImageLimits.MaxBytes)
                {
                    return (null, TooLarge());
                }

                if (!upload.TryHold(total))
                {
                    return (null, Busy(context, "The memory for uploads in progress is taken; retry in a moment."));
                }

                sha256.AppendData(chunk, 0, read);
                memory.Write(chunk, read);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }

        // DetachAsData copies the stream's blocks into one buffer: for a moment the upload is held
        // twice, and the blocks freed go back to the native heap, not at once to the system.
        if (!upload.TryHoldCopy(memory.BytesWritten))
        {
            return (null, Busy(context, "The memory for uploads in progress is taken; retry in a moment."));
        }

        return (new UploadedFile(memory.DetachAsData(), Convert.ToHexStringLower(sha256.GetHashAndReset())), null);
    }

    /// <summary>503 with Retry-After: the decoders, or the memory that uploads may hold, are all taken.</summary>
    public static ProblemHttpResult Busy(HttpContext context, string detail = "Every image decoder is busy; retry in a moment.")
    {
        context.Response.Headers.RetryAfter = "1";
        return Problems.Create(StatusCodes.Status503ServiceUnavailable, ProblemCodes.Busy, detail);
    }

    private static ProblemHttpResult InvalidForm(string detail) =>
        Problems.Create(StatusCodes.Status400BadRequest, ProblemCodes.InvalidForm, detail);

    private static ProblemHttpResult TooLarge() =>
        Problems.Create(StatusCodes.Status413PayloadTooLarge, ProblemCodes.ImageTooLarge,
            $"The image file is larger than {ImageLimits.MaxBytes / (1024 * 1024)} MiB.");
}
