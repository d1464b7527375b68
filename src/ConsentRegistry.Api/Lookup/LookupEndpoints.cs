using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using ConsentRegistry.Api.Errors;
using ConsentRegistry.Api.Hosting;
using ConsentRegistry.Api.Matching;
using ConsentRegistry.Api.Observability;
using ConsentRegistry.Core.Matching;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Microsoft.AspNetCore.Mvc;

namespace ConsentRegistry.Api.Lookup;

/// <summary>Bulk lookup for dataset builders (DESIGN.md 5.2): JSON batches, NDJSON streams, and the Spawning-compatible API.</summary>
public static class LookupEndpoints
{
    /// <summary>Batches larger than this are better sent to /v1/lookup/stream.</summary>
    public const long MaxBatchBodyBytes = 16 * 1024 * 1024;

    private static readonly JsonWriterOptions WriterOptions = new() { SkipValidation = true };

    public static IEndpointRouteBuilder MapLookup(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("")
            .WithTags("Lookup")
            .RequireLookupAccess();

        group.MapPost("/v1/lookup", LookupBatch)
            .WithName("Lookup")
            .WithSummary("Look up 1 to Registry:Lookup:MaxBatch items (url, sha256, pdq); results in request order with the seq they reflect.")
            .Accepts<LookupRequest>("application/json")
            .Produces<LookupResponse>()
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .ProducesProblem(StatusCodes.Status429TooManyRequests)
            .WithMetadata(new RequestSizeLimitAttribute(MaxBatchBodyBytes));

        group.MapPost("/v1/lookup/stream", LookupStream)
            .WithName("LookupStream")
            .WithSummary("NDJSON in, NDJSON out: one item per line, one result per line with \"i\" (the line number), streamed both ways.")
            .Accepts<LookupItem>("application/x-ndjson", "application/jsonl")
            .Produces<LookupResult>(contentType: "application/x-ndjson")
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .ProducesProblem(StatusCodes.Status429TooManyRequests)
            .WithMetadata(new DisableRequestSizeLimitAttribute());

        // Routing ignores one trailing slash, so this serves /api/v2/query/urls/ as well. Spawning's
        // clients send the lines as text/plain, as application/octet-stream (aiohttp with a bytes
        // body) or with no Content-Type (Python's requests with a string body), all taken; a JSON,
        // form or multipart body gets 415 from routing rather than being read as one "URL".
        group.MapPost("/api/v2/query/urls", SpawningQuery)
            .WithName("SpawningQueryUrls")
            .WithSummary("Spawning-compatible: text/plain, one URL per line (1 to 10,000); optOut = train-ai disallowed, optIn = train-ai allowed.")
            .Accepts<string>("text/plain", "application/octet-stream")
            .Produces<SpawningResponse>()
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .WithMetadata(new RequestSizeLimitAttribute(MaxBatchBodyBytes));

        return app;
    }

    internal static async Task<Results<EmptyHttpResult, ProblemHttpResult>> LookupBatch(
        HttpContext context, LookupEngine engine, IndexUpdater updater, ImageSearchPacing pacing,
        IOptions<LookupOptions> options, RegistryMetrics metrics, CancellationToken cancellationToken)
    {
        if (!context.Request.HasJsonContentType())
        {
            return Problems.Create(StatusCodes.Status415UnsupportedMediaType, ProblemCodes.UnsupportedMediaType,
                "Send {\"items\": […]} as application/json.");
        }

        // A client whose searches already wait for 30 s of its pace is refused before its body is parsed
        // (and, refused again within the second, a second later: see ImageSearchPacing.DelaysRefusal).
        if (pacing.IsSaturated(context, out var saturatedFor))
        {
            await DelayRepeatedRefusalAsync(context, pacing, cancellationToken);
            return SearchesRefused(context, metrics, saturatedFor);
        }

        // The whole body is read (within MaxBatchBodyBytes, which the server enforces) and parsed in place.
        var input = context.Request.BodyReader;
        ReadResult read;
        try
        {
            while (!(read = await input.ReadAsync(cancellationToken)).IsCompleted)
            {
                input.AdvanceTo(read.Buffer.Start, read.Buffer.End);
            }
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return Problems.Create(StatusCodes.Status413PayloadTooLarge, ProblemCodes.PayloadTooLarge,
                $"The body exceeds {MaxBatchBodyBytes} bytes; send large batches through /v1/lookup/stream.");
        }

        var items = LookupItemReader.ReadBatch(read.Buffer, options.Value.MaxBatch, out var problem);
        input.AdvanceTo(read.Buffer.End);
        if (items is null)
        {
            return Problems.Create(StatusCodes.Status400BadRequest, ProblemCodes.InvalidBatch, problem!, field: "items");
        }

        // PDQ and embedding searches are paced per client: the batch waits for its own, run by run,
        // unless its client already has more waiting than the pace clears in 30 s (reckoned from the
        // items as read; each run then takes what the engine accepted of it).
        var counted = default(RequestSearches);
        if (!pacing.TryAdmit(context, pacing.CostOf(CollectionsMarshal.AsSpan(items), ref counted), out var searches, out var retryAfter))
        {
            // The parsed items are let go before a repeated refusal waits: a timer holds no body.
            items.Clear();
            items.TrimExcess();
            await DelayRepeatedRefusalAsync(context, pacing, cancellationToken);
            return SearchesRefused(context, metrics, retryAfter);
        }

        using var admitted = searches;
        await updater.WaitForOwnWritesAsync(cancellationToken);
        context.Response.ContentType = "application/json; charset=utf-8";
        var buffers = new LookupBuffers();
        var flushed = 0L;
        await using (var json = new Utf8JsonWriter(context.Response.BodyWriter, WriterOptions))
        {
            json.WriteStartObject();
            json.WriteNumber("seq", engine.Seq);
            json.WriteStartArray("results");
            for (var start = 0; start < items.Count; start += LookupEngine.RunLength)
            {
                var count = Math.Min(LookupEngine.RunLength, items.Count - start);
                engine.Prepare(CollectionsMarshal.AsSpan(items).Slice(start, count), buffers);
                await admitted.TakeAsync(pacing.CostOfPrepared(buffers), FlushAsync, cancellationToken);
                for (var i = 0; i < count; i++)
                {
                    engine.WriteResult(json, i, null, buffers);
                }

                // The writer hands its bytes to the response pipe as its buffer fills, but the pipe
                // holds them until flushed: without this, a whole answer (up to 16 matches an item)
                // would wait in memory until the last item.
                if (json.BytesCommitted + json.BytesPending - flushed >= FlushBytes)
                {
                    await FlushAsync();
                }
            }

            json.WriteEndArray();
            json.WriteEndObject();

            async ValueTask FlushAsync()
            {
                await json.FlushAsync(cancellationToken);
                await context.Response.BodyWriter.FlushAsync(cancellationToken);
                flushed = json.BytesCommitted;
            }
        }

        metrics.LookupItems(LookupEndpointNames.Batch, buffers.TakeTally());
        return TypedResults.Empty;
    }

    internal static async Task<Results<EmptyHttpResult, ProblemHttpResult>> LookupStream(
        HttpContext context, LookupEngine engine, IndexUpdater updater, ImageSearchPacing pacing, IOptions<LookupOptions> options,
        RegistryMetrics metrics, ILogger<IdleTimedReader> logger, CancellationToken cancellationToken)
    {
        if (!IsNdjson(context.Request.ContentType))
        {
            return Problems.Create(StatusCodes.Status415UnsupportedMediaType, ProblemCodes.UnsupportedMediaType,
                "Send one item per line as application/x-ndjson (or application/jsonl).");
        }

        // A stream's searches are paced as its runs come; it is refused only at the start, while its
        // client already has more waiting than the pace clears in 30 s.
        if (!pacing.TryAdmit(context, 0, out var searches, out var retryAfter))
        {
            await DelayRepeatedRefusalAsync(context, pacing, cancellationToken);
            return SearchesRefused(context, metrics, retryAfter);
        }

        using var admitted = searches;
        await updater.WaitForOwnWritesAsync(cancellationToken);
        context.Response.ContentType = "application/x-ndjson";
        context.Response.Headers["X-Registry-Seq"] = engine.Seq.ToString(System.Globalization.CultureInfo.InvariantCulture);
        await context.Response.StartAsync(cancellationToken);
        // The status and headers go out now, not with the first answers: a client learns at once that
        // its stream was admitted (and the seq it reflects) before it sends its lines.
        await context.Response.BodyWriter.FlushAsync(cancellationToken);

        var buffers = new LookupBuffers();
        var output = context.Response.BodyWriter;
        using var reader = new IdleTimedReader(context, options.Value.StreamIdleTimeout, cancellationToken);
        var input = reader.Input;
        await using var json = new Utf8JsonWriter(output, WriterOptions);
        var line = 0L;
        var unflushed = 0L;
        var run = new List<ReadItem>(LookupEngine.RunLength);
        while (true)
        {
            if (await reader.ReadAsync() is not { } read)
            {
                // No line completed for the idle timeout: every complete line is answered; a partial one is left.
                logger.LogDebug("A lookup stream ended after {Lines} lines: its client sent nothing for {Idle}.", line, options.Value.StreamIdleTimeout);
                break;
            }

            var buffer = read.Buffer;
            while (TryReadLine(ref buffer, out var bytes))
            {
                reader.LineCompleted();
                run.Add(ReadStreamLine(bytes, first: line + run.Count == 0));
                if (run.Count == LookupEngine.RunLength)
                {
                    engine.Prepare(CollectionsMarshal.AsSpan(run), buffers);
                    await TakeRunSearchesAsync(admitted, engine, pacing, metrics, buffers, () => FlushAsync(output, cancellationToken), cancellationToken);
                    (line, var written) = WriteStreamResults(json, output, engine, run, line, buffers);
                    unflushed += written;
                    if (unflushed >= FlushBytes)
                    {
                        // A read may bring thousands of lines: their answers go out as they are written.
                        await output.FlushAsync(cancellationToken);
                        unflushed = 0;
                    }
                }
            }

            if (read.IsCompleted && !buffer.IsEmpty)
            {
                run.Add(ReadStreamLine(buffer, first: line + run.Count == 0)); // last line without a newline
                buffer = buffer.Slice(buffer.End);
            }

            // Every line read so far is answered before waiting for more.
            engine.Prepare(CollectionsMarshal.AsSpan(run), buffers);
            await TakeRunSearchesAsync(admitted, engine, pacing, metrics, buffers, () => FlushAsync(output, cancellationToken), cancellationToken);
            (line, _) = WriteStreamResults(json, output, engine, run, line, buffers);
            if (!read.IsCompleted && buffer.Length > NdjsonMaxLineBytes)
            {
                // A line longer than any valid item: answer it and skip to its end. What is answered goes
                // out first: a client may wait for it before it sends the rest of the long line or the next.
                LookupEngine.WriteInvalid(json, LineTooLong, line, buffers);
                json.Flush();
                json.Reset();
                output.Write("\n"u8);
                metrics.LookupItems(LookupEndpointNames.Stream, buffers.TakeTally());
                await output.FlushAsync(cancellationToken);
                unflushed = 0;
                line++;
                if (!await SkipLineAsync(reader, buffer))
                {
                    break;
                }

                continue;
            }

            input.AdvanceTo(buffer.Start, buffer.End);
            metrics.LookupItems(LookupEndpointNames.Stream, buffers.TakeTally());
            // Answer what we have before waiting for more: the client sees results while it still sends.
            await json.FlushAsync(cancellationToken);
            await output.FlushAsync(cancellationToken);
            unflushed = 0;
            if (read.IsCompleted)
            {
                break;
            }
        }

        return TypedResults.Empty;
    }

    private static async ValueTask FlushAsync(PipeWriter output, CancellationToken cancellationToken) => await output.FlushAsync(cancellationToken);

    /// <summary>
    /// Takes the image searches of a stream's prepared run, waiting for its client's pace; a run its
    /// client's other waiting requests leave no room for (<see cref="ImageSearchPacing.Ticket.TryAdmitRun"/>)
    /// has its image items answered with <c>too-many-searches</c> instead (their URLs and hashes too:
    /// the item is sent again whole), and the stream goes on with its next lines.
    /// </summary>
    private static async ValueTask TakeRunSearchesAsync(
        ImageSearchPacing.Ticket admitted, LookupEngine engine, ImageSearchPacing pacing, RegistryMetrics metrics, LookupBuffers buffers, Func<ValueTask> beforeWaiting, CancellationToken cancellationToken)
    {
        var searches = pacing.CostOfPrepared(buffers);
        if (admitted.TryAdmitRun(searches, out var retryAfter))
        {
            await admitted.TakeAsync(searches, beforeWaiting, cancellationToken);
            return;
        }

        metrics.RateLimitRejected(ImageSearchPacing.PolicyName);
        engine.RefuseImageSearches(buffers, new LookupError(ProblemCodes.TooManySearches, null, SearchesWaiting(retryAfter, "send this item again")));
    }

    /// <summary>Why a lookup (or a stream's item) is refused for its client's waiting searches, and when to <paramref name="then"/>.</summary>
    private static string SearchesWaiting(TimeSpan retryAfter, string then) =>
        $"This client's PDQ and embedding searches already wait for up to {ImageSearchPacing.MaxQueue.TotalSeconds:F0} s of its pace, "
        + $"or {ImageSearchPacing.MaxWaitingRequests} of its requests do; {then} after {RetrySeconds(retryAfter)} s.";

    private static int RetrySeconds(TimeSpan retryAfter) => Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds));

    /// <summary>
    /// Waits before a refusal that is not the client's first in the second, wherever it is refused:
    /// before a batch's body is read, after it (its parsed items let go first), at a stream's start.
    /// A client that resends as soon as it is answered then costs a parse a second per connection,
    /// not one per refusal.
    /// </summary>
    private static Task DelayRepeatedRefusalAsync(HttpContext context, ImageSearchPacing pacing, CancellationToken cancellationToken) =>
        pacing.DelaysRefusal(context) ? Task.Delay(ImageSearchPacing.RepeatedRefusalDelay, cancellationToken) : Task.CompletedTask;

    private static ProblemHttpResult SearchesRefused(HttpContext context, RegistryMetrics metrics, TimeSpan retryAfter)
    {
        metrics.RateLimitRejected(ImageSearchPacing.PolicyName);
        context.Response.Headers.RetryAfter = RetrySeconds(retryAfter).ToString(System.Globalization.CultureInfo.InvariantCulture);
        return Problems.Create(StatusCodes.Status429TooManyRequests, ProblemCodes.TooManyRequests, SearchesWaiting(retryAfter, "retry"));
    }

    private static bool IsNdjson(string? contentType) =>
        Microsoft.Net.Http.Headers.MediaTypeHeaderValue.TryParse(contentType, out var parsed)
        && (parsed.MediaType.Equals("application/x-ndjson", StringComparison.OrdinalIgnoreCase)
            || parsed.MediaType.Equals("application/jsonl", StringComparison.OrdinalIgnoreCase));

    /// <summary>
    /// The longest stream line: room for the largest item the batch endpoint takes (16 vectors of the
    /// largest model, 4,096 dimensions: about 175 KB of base64url, beside a URL and hashes), so that
    /// no valid item is refused on the stream alone; the buffer a client can make the server hold for
    /// one line stays bounded.
    /// </summary>
    internal const int NdjsonMaxLineBytes = 256 * 1024;

    private static readonly LookupError LineTooLong = new("line-too-long", null, $"A line is at most {NdjsonMaxLineBytes} bytes.");

    /// <summary>
    /// One line's item, or its error: a line over the limit is refused however it arrived (whole in
    /// one read, or over several). The first line may begin with a UTF-8 byte order mark, as files
    /// some editors and tools write do.
    /// </summary>
    private static ReadItem ReadStreamLine(in ReadOnlySequence<byte> bytes, bool first) =>
        bytes.Length > NdjsonMaxLineBytes ? new ReadItem(null, LineTooLong)
        : LookupItemReader.ReadLine(first ? LookupItemReader.WithoutByteOrderMark(bytes) : bytes);

    /// <summary>URLs one <c>/api/v2/query/urls</c> request takes, as Spawning's API does.</summary>
    private const int SpawningMaxUrls = 10_000;

    /// <summary>Answer bytes written before the response is flushed (Kestrel's response buffer is 64 KiB by default).</summary>
    private const int FlushBytes = 64 * 1024;

    /// <summary>Skips the rest of a line too long to answer; false when its client fell silent first.</summary>
    private static async Task<bool> SkipLineAsync(IdleTimedReader reader, ReadOnlySequence<byte> buffer)
    {
        while (true)
        {
            var newline = buffer.PositionOf((byte)'\n');
            if (newline is not null)
            {
                reader.Input.AdvanceTo(buffer.GetPosition(1, newline.Value));
                reader.LineCompleted();
                return true;
            }

            reader.Input.AdvanceTo(buffer.End);
            if (await reader.ReadAsync() is not { } read)
            {
                return false;
            }

            buffer = read.Buffer;
            if (read.IsCompleted && buffer.PositionOf((byte)'\n') is null)
            {
                reader.Input.AdvanceTo(buffer.End);
                return true;
            }
        }
    }

    private static bool TryReadLine(ref ReadOnlySequence<byte> buffer, out ReadOnlySequence<byte> line)
    {
        var newline = buffer.PositionOf((byte)'\n');
        if (newline is null)
        {
            line = default;
            return false;
        }

        line = buffer.Slice(0, newline.Value);
        buffer = buffer.Slice(buffer.GetPosition(1, newline.Value));
        return true;
    }

    /// <summary>
    /// Answers the lines read (<paramref name="run"/>, prepared in <paramref name="buffers"/>, then emptied), numbered from <paramref name="line"/>;
    /// returns the next line's number and the bytes written (not yet flushed).
    /// </summary>
    private static (long Line, long Written) WriteStreamResults(
        Utf8JsonWriter json, PipeWriter output, LookupEngine engine, List<ReadItem> run, long line, LookupBuffers buffers)
    {
        if (run.Count == 0)
        {
            return (line, 0);
        }

        var written = 0L;
        for (var i = 0; i < run.Count; i++)
        {
            engine.WriteResult(json, i, line++, buffers);

            // NDJSON: each result is its own JSON document followed by a newline.
            json.Flush();
            written += json.BytesCommitted + 1;
            json.Reset();
            output.Write("\n"u8);
        }

        run.Clear();
        return (line, written);
    }

    /// <summary>
    /// The lines of a Spawning-style body, split at each <c>\n</c> (a <c>\r</c> before it is part of the
    /// line ending): as Spawning's clients join their URLs, so <c>"a\nb"</c> is two lines and <c>"a\n"</c>
    /// two, the second blank (Hugging Face's dataset viewer sends a lone URL that way and reads two
    /// answers). A final blank line, the newline that ends a text file, is not counted toward the
    /// 10,000. Null when there are more: reading stops one line past them, so a 16 MiB body of short
    /// lines costs what 10,001 URLs cost, not millions of strings that are then refused.
    /// </summary>
    private static async Task<List<string>?> ReadSpawningLinesAsync(Stream body, CancellationToken cancellationToken)
    {
        var lines = new List<string>();
        var line = new StringBuilder();
        var buffer = new char[8192];
        using var reader = new StreamReader(body, new UTF8Encoding(false, throwOnInvalidBytes: false));
        int read;
        while ((read = await reader.ReadAsync(buffer, cancellationToken)) > 0)
        {
            var rest = buffer.AsSpan(0, read);
            for (var end = rest.IndexOf('\n'); end >= 0; end = rest.IndexOf('\n'))
            {
                line.Append(rest[..end]);
                lines.Add(EndLine(line));
                rest = rest[(end + 1)..];
                if (lines.Count > SpawningMaxUrls)
                {
                    return null;
                }
            }

            line.Append(rest);
        }

        lines.Add(EndLine(line));
        return lines.Count <= SpawningMaxUrls || lines[^1].Length == 0 ? lines : null;

        static string EndLine(StringBuilder line)
        {
            if (line.Length > 0 && line[^1] == '\r')
            {
                line.Length--;
            }

            var text = line.ToString();
            line.Clear();
            return text;
        }
    }

    internal static async Task<Results<Ok<SpawningResponse>, ValidationProblem>> SpawningQuery(
        HttpRequest request, LookupEngine engine, IndexUpdater updater, RegistryMetrics metrics, CancellationToken cancellationToken)
    {
        var lines = await ReadSpawningLinesAsync(request.Body, cancellationToken);
        if (lines is null || !lines.Exists(line => !string.IsNullOrWhiteSpace(line)))
        {
            return Problems.Validation(
                new Dictionary<string, string[]> { ["urls"] = ["Send 1 to 10,000 URLs, one per line, as text/plain."] },
                ProblemCodes.InvalidBatch);
        }

        // Every line is answered in its place, as sent: clients pair the answers with what they sent
        // by position (a blank line is neither opted out nor in). Each is decided trimmed.
        // A blank line is answered without a lookup (nor counted as an invalid item).
        var urls = new List<string>(lines.Count);
        foreach (var line in lines)
        {
            if (line.AsSpan().Trim() is { IsEmpty: false } trimmed)
            {
                urls.Add(trimmed.Length == line.Length ? line : trimmed.ToString());
            }
        }

        await updater.WaitForOwnWritesAsync(cancellationToken);
        var buffers = new LookupBuffers();
        var trainAi = new Permission[urls.Count];
        engine.TrainAi(urls, trainAi, buffers);
        var answers = new SpawningUrl[lines.Count];
        for (int i = 0, decided = 0; i < lines.Count; i++)
        {
            var permission = string.IsNullOrWhiteSpace(lines[i]) ? Permission.Unknown : trainAi[decided++];
            answers[i] = new SpawningUrl(lines[i], permission == Permission.Disallow, permission == Permission.Allow);
        }

        metrics.LookupItems(LookupEndpointNames.Spawning, buffers.TakeTally());

        return TypedResults.Ok(new SpawningResponse(answers));
    }
}
