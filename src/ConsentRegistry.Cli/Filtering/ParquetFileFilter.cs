using System.Text.RegularExpressions;
using System.Threading.Channels;
using ConsentRegistry.Cli.Console;
using ConsentRegistry.Cli.Deciding;
using ConsentRegistry.Core.Matching;
using ParquetSharp;
using ParquetSharp.Schema;

namespace ConsentRegistry.Cli.Filtering;

/// <summary>
/// Filters one Parquet file row group by row group: decides the next row group (its URL column)
/// while the current one is written column by column, writes the kept rows with the input's schema
/// and metadata, and the removed rows (when asked) with the decision per category and the matched
/// claim ids added. Memory holds two row groups' verdicts and one batch of one column at a time,
/// whatever the file's length.
/// </summary>
internal sealed partial class ParquetFileFilter(IRegistrySource source, int useCategory, IProgressSink progress)
{
    /// <summary>Where a URL column is looked for, in this order, when <c>--url-column</c> does not name one.</summary>
    public static readonly string[] UrlColumnNames = ["url", "URL", "image_url"];

    /// <summary>The columns added to removed rows: the decision per category, then the matched claims.</summary>
    public static readonly string[] DecisionColumns = ["registry_tdm", "registry_train_ai", "registry_train_genai", "registry_ai_use", "registry_search"];

    public const string ClaimsColumn = "registry_claims";

    /// <summary>The codecs an output column may keep from its input column; any other is written with Snappy.</summary>
    private static readonly Compression[] WritableCodecs = [Compression.Uncompressed, Compression.Snappy, Compression.Gzip, Compression.Brotli, Compression.Zstd, Compression.Lz4];

    public static ParquetFileReader Open(string path)
    {
        try
        {
            return new ParquetFileReader(path);
        }
        catch (Exception e) when (e is ParquetException or IOException)
        {
            throw CliException.Input($"{path}: not a readable Parquet file ({Reason(e)})", e);
        }
    }

    public static int FindUrlColumn(string path, SchemaDescriptor schema, string? named)
    {
        var candidates = named is not null ? [named] : UrlColumnNames;
        foreach (var name in candidates)
        {
            for (var c = 0; c < schema.NumColumns; c++)
            {
                var column = schema.Column(c);
                using var columnPath = column.Path;
                if (columnPath.ToDotVector() is not [var only] || only != name)
                {
                    continue;
                }

                using var logicalType = column.LogicalType;
                if (column.PhysicalType != PhysicalType.ByteArray || logicalType is not StringLogicalType || column.MaxRepetitionLevel > 0)
                {
                    throw CliException.Input($"{path}: column {name} is not a column of strings.");
                }

                return c;
            }
        }

        throw CliException.Input(named is not null
            ? $"{path}: no column named {named}."
            : $"{path}: no URL column (looked for {string.Join(", ", UrlColumnNames)}); name it with --url-column.");
    }

    public async Task RunAsync(string input, string keptPath, string? removedPath, string? urlColumn, FileProgress state, Action save, CancellationToken cancellationToken)
    {
        // Two readers of the file: one reads the URL column of the row groups to decide, the other
        // copies the decided row groups' columns out, one column at a time.
        using var reader = Open(input);
        using var urlReader = Open(input);
        var file = reader.FileMetaData;
        var url = FindUrlColumn(input, file.Schema, urlColumn);
        var metadata = file.KeyValueMetadata;
        using var schema = (GroupNode)file.Schema.GroupNode.DeepClone();
        using var properties = WriterProperties(input, reader, file);
        var kept = new ParquetOutput(keptPath, schema, properties, metadata);
        kept.Restore(state.KeptOutput);
        using var removedSchema = removedPath is null ? null : WithDecisions(schema);
        ParquetOutput? removed = null;
        if (removedPath is not null)
        {
            removed = new ParquetOutput(removedPath, removedSchema!, properties, WithoutArrowSchema(metadata));
            removed.Restore(state.RemovedOutput);
        }

        state.RowGroups = file.NumRowGroups;

        // Three stages, each a row group ahead of the next: the URLs of one are read while the one
        // before is decided and the one before that is written, so that neither core waits on a
        // stage that uses one (reading URLs and writing do; deciding uses both). Memory holds at
        // most two row groups' URLs, three row groups' verdicts and one batch of one column,
        // whatever the file's length. A stage that fails completes its output with its exception,
        // so that the failure travels down to this loop, which then stops the stages still running
        // (the reader may be waiting for room in a pipe that nobody empties any more).
        var read = Channel.CreateBounded<ReadGroup>(new BoundedChannelOptions(1) { SingleReader = true, SingleWriter = true });
        var decided = Channel.CreateBounded<DecidedGroup>(new BoundedChannelOptions(1) { SingleReader = true, SingleWriter = true });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var reading = Task.Run(() => ReadAllAsync(input, urlReader, url, state.RowGroupsDone, file.NumRowGroups, read.Writer, stop.Token), CancellationToken.None);
        var deciding = Task.Run(() => DecideAllAsync(read.Reader, decided.Writer, listClaims: removed is not null, stop.Token), CancellationToken.None);
        try
        {
            await foreach (var group in decided.Reader.ReadAllAsync(cancellationToken))
            {
                using (group)
                {
                    WriteAndRecord(input, reader, file.NumColumns, group, kept, removed, state, save);
                }
            }

            // Both ended well, or their failure would have come down the pipe; awaited for certainty.
            await deciding;
            await reading;
        }
        finally
        {
            await stop.CancelAsync();
            await Quietly(reading);
            await Quietly(deciding);
            Drain(read.Reader);
            Drain(decided.Reader);
        }

        kept.Complete();
        removed?.Complete();
        state.KeptOutput = kept.Checkpoint;
        state.RemovedOutput = removed?.Checkpoint;
        state.Done = true;
        save();
    }

    /// <summary>
    /// How the outputs are written: each column as the input's first row group has it, its codec
    /// where it can be written (else Snappy, as for the decision columns) and a dictionary only
    /// where the input used one (a dictionary tried on a column of unique URLs and abandoned costs a
    /// fifth of the copy's time); no page indexes; everything else Arrow's defaults.
    /// </summary>
    private static WriterProperties WriterProperties(string input, ParquetFileReader reader, FileMetaData file)
    {
        using var builder = new WriterPropertiesBuilder();
        builder.Compression(Compression.Snappy);

        // Each row group's writer would put its page indexes just before its own footer, between
        // the row groups: a reader that fetches the indexes as one span would read most of the file.
        builder.DisableWritePageIndex();
        if (file.NumRowGroups > 0)
        {
            using var first = OpenRowGroup(input, reader, 0);
            try
            {
                for (var c = 0; c < file.NumColumns; c++)
                {
                    var chunk = first.MetaData.GetColumnChunkMetaData(c);
                    using var path = file.Schema.Column(c).Path;
                    builder.Compression(path, WritableCodecs.Contains(chunk.Compression) ? chunk.Compression : Compression.Snappy);
                    if (!chunk.Encodings.Any(encoding => encoding is Encoding.PlainDictionary or Encoding.RleDictionary))
                    {
                        builder.DisableDictionary(path);
                    }
                }
            }
            catch (ParquetException e)
            {
                throw Unreadable(input, 0, e); // a column chunk's metadata missing, or encrypted
            }
        }

        return builder.Build();
    }

    /// <summary>
    /// The removed file's key-value metadata: the input's, less the Arrow schema pyarrow stores
    /// there (<c>ARROW:schema</c>), which would describe the input's columns without the six added.
    /// </summary>
    private static Dictionary<string, string> WithoutArrowSchema(IReadOnlyDictionary<string, string> metadata) =>
        metadata.Where(entry => entry.Key != "ARROW:schema").ToDictionary(StringComparer.Ordinal);

    /// <summary>The input's schema with the removed file's columns added: the decision per category, then the matched claims.</summary>
    private static GroupNode WithDecisions(GroupNode schema)
    {
        using var text = LogicalType.String();
        Node[] fields =
        [
            .. schema.Fields.Select(field => field.DeepClone()),
            .. DecisionColumns.Select(name => new PrimitiveNode(name, Repetition.Required, text, PhysicalType.ByteArray)),
            new PrimitiveNode(ClaimsColumn, Repetition.Optional, text, PhysicalType.ByteArray),
        ];
        try
        {
            using var logicalType = schema.LogicalType;
            return new GroupNode(schema.Name, schema.Repetition, fields, logicalType is NoneLogicalType ? null : logicalType);
        }
        finally
        {
            foreach (var field in fields)
            {
                field.Dispose();
            }
        }
    }

    /// <summary>A row group whose URLs are read, waiting to be decided.</summary>
    private sealed record ReadGroup(int Index, UrlRows Urls) : IDisposable
    {
        public void Dispose() => Urls.Dispose();
    }

    /// <summary>A row group whose rows are decided, waiting to be written.</summary>
    private sealed record DecidedGroup(int Index, DecidedRows Rows) : IDisposable
    {
        public void Dispose() => Rows.Dispose();
    }

    /// <summary>Reads the URL column of the row groups from <paramref name="first"/> on, in order, into <paramref name="output"/>; completes it however it ends (with the exception, when it fails).</summary>
    private static async Task ReadAllAsync(string input, ParquetFileReader reader, int url, int first, int groups, ChannelWriter<ReadGroup> output, CancellationToken cancellationToken)
    {
        try
        {
            // Read only once the pipe has room: one row group decided, the next one waiting.
            for (var index = first; index < groups && await output.WaitToWriteAsync(cancellationToken); index++)
            {
                var group = new ReadGroup(index, ReadUrls(input, reader, index, url));
                if (!output.TryWrite(group))
                {
                    group.Dispose();
                    throw new InvalidOperationException("The pipe of read row groups has one writer; it cannot be full here.");
                }
            }

            output.Complete();
        }
        catch (Exception e)
        {
            output.TryComplete(e);
            throw;
        }
    }

    private static UrlRows ReadUrls(string input, ParquetFileReader reader, int index, int url)
    {
        using var group = OpenRowGroup(input, reader, index);
        try
        {
            // The footer's count is the file's word, unverified until the column is read: one that
            // no row group can hold here is refused, and any other only hints at sizes.
            var rows = group.MetaData.NumRows;
            if (rows is < 0 or > int.MaxValue)
            {
                throw new InvalidDataException($"its footer gives it {rows:N0} rows; a row group holds 0 to {int.MaxValue:N0} here");
            }

            using var column = ParquetColumns.Column(group, url);
            return ParquetColumns.ReadUrls(column, (int)rows, group.MetaData.GetColumnChunkMetaData(url).TotalUncompressedSize);
        }
        catch (Exception e) when (e is ParquetException or InvalidDataException)
        {
            throw Unreadable(input, index, e);
        }
    }

    /// <summary>
    /// Decides every row of the row groups <paramref name="input"/> brings, in order, into
    /// <paramref name="output"/> (with the matched claims when <paramref name="listClaims"/>: the
    /// removed file names them); completes it however it ends (with the exception, when it fails).
    /// </summary>
    private async Task DecideAllAsync(ChannelReader<ReadGroup> input, ChannelWriter<DecidedGroup> output, bool listClaims, CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var read in input.ReadAllAsync(cancellationToken))
            {
                using (read)
                {
                    var rows = read.Urls.Keys.Length;
                    var decided = new DecidedRows(rows);
                    var group = new DecidedGroup(read.Index, decided);
                    try
                    {
                        await source.DecideAsync(read.Urls.Keys, decided.Verdicts, listClaims, cancellationToken);
                        decided.Count(useCategory, read.Urls.Present);
                        await output.WriteAsync(group, cancellationToken);
                    }
                    catch
                    {
                        group.Dispose();
                        throw;
                    }
                }
            }

            output.Complete();
        }
        catch (Exception e)
        {
            output.TryComplete(e);
            throw;
        }
    }

    private static void Drain<T>(ChannelReader<T> reader)
        where T : IDisposable
    {
        while (reader.TryRead(out var unused))
        {
            unused.Dispose();
        }
    }

    /// <summary>Writes one decided row group's rows, then records it as done (state saved, progress advanced).</summary>
    private void WriteAndRecord(
        string input, ParquetFileReader reader, int columnCount, DecidedGroup group, ParquetOutput kept, ParquetOutput? removed, FileProgress state, Action save)
    {
        var decided = group.Rows;
        var rows = decided.Verdicts.Length;
        try
        {
            CopyRows(input, reader, columnCount, group, kept, removed);
        }
        catch
        {
            // Each output puts itself back when its own write fails; the other may have taken the
            // row group already (the removed file's is written inside the kept file's): both go
            // back to the row groups the state records.
            kept.RestoreAfterFailure(state.KeptOutput);
            removed?.RestoreAfterFailure(state.RemovedOutput);
            throw;
        }

        state.RowGroupsDone = group.Index + 1;
        state.Rows += rows;
        state.Kept += decided.Kept;
        state.Removed += rows - decided.Kept;
        state.InvalidUrls += decided.Invalid;
        state.KeptOutput = kept.Checkpoint;
        state.RemovedOutput = removed?.Checkpoint;
        save();
        progress.Advance(rows, decided.Kept, rows - decided.Kept);
    }

    /// <summary>Copies one decided row group's rows out: the kept ones to <paramref name="kept"/>, the others with their decisions to <paramref name="removed"/>.</summary>
    private static void CopyRows(string input, ParquetFileReader reader, int columnCount, DecidedGroup group, ParquetOutput kept, ParquetOutput? removed)
    {
        var decided = group.Rows;
        var rows = decided.Verdicts.Length;
        using (var columns = OpenRowGroup(input, reader, group.Index))
        {
            // Each column is read once and its rows go to the kept and the removed file at once.
            InRowGroup(kept, decided.Kept > 0, keptGroup =>
                InRowGroup(removed, decided.Kept < rows, removedGroup =>
                {
                    for (var c = 0; c < columnCount; c++)
                    {
                        using var keptColumn = keptGroup?.NextColumn();
                        using var removedColumn = removedGroup?.NextColumn();
                        try
                        {
                            using var column = ParquetColumns.Column(columns, c);
                            ParquetColumns.Split(column, keptColumn, removedColumn, decided.KeepArray, rows);
                        }
                        catch (InvalidDataException e)
                        {
                            throw Unreadable(input, group.Index, e);
                        }
                    }

                    if (removedGroup is not null)
                    {
                        WriteDecisions(removedGroup, decided);
                    }
                }));
        }
    }

    /// <summary>Runs <paramref name="write"/> inside a new row group of <paramref name="output"/>, or with none when there is no file or no row for it.</summary>
    private static void InRowGroup(ParquetOutput? output, bool anyRows, Action<RowGroupWriter?> write)
    {
        if (output is null || !anyRows)
        {
            write(null);
        }
        else
        {
            output.AppendRowGroup(group => write(group));
        }
    }

    /// <summary>The columns only the removed file has: the decision per category, then the matched claims.</summary>
    private static void WriteDecisions(RowGroupWriter writer, DecidedRows decided)
    {
        for (var category = 0; category < DecisionColumns.Length; category++)
        {
            WriteStrings(writer, Removed(decided, v => Decision.ToWire(v.Decision[category])));
        }

        WriteStrings(writer, Removed(decided, v => v.Claims));
    }

    private static void WriteStrings(RowGroupWriter writer, string?[] values)
    {
        using var column = writer.NextColumn();
        using var strings = column.LogicalWriter<string?>();
        strings.WriteBatch(values);
    }

    private static RowGroupReader OpenRowGroup(string input, ParquetFileReader reader, int index)
    {
        try
        {
            return reader.RowGroup(index);
        }
        catch (ParquetException e)
        {
            throw Unreadable(input, index, e);
        }
    }

    private static CliException Unreadable(string input, int index, Exception e) =>
        CliException.Input($"{input}: row group {index} cannot be read ({Reason(e)}); the file may be truncated or corrupt.", e);

    /// <summary>What went wrong, in Arrow's words: ParquetSharp puts the C++ exception's type before them.</summary>
    private static string Reason(Exception e) =>
        NativeMessage().Match(e.Message) is { Success: true } match ? match.Groups[1].Value : e.Message;

    [GeneratedRegex(@"\(message: '(.*)'\)\s*$", RegexOptions.Singleline)]
    private static partial Regex NativeMessage();

    private static async Task Quietly(Task task)
    {
        try
        {
            await task;
        }
        catch
        {
            // the failure that matters is the one already on its way out
        }
    }

    private static string?[] Removed(DecidedRows decided, Func<Verdict, string?> select)
    {
        var verdicts = decided.Verdicts.Span;
        var keep = decided.Keep.Span;
        var list = new List<string?>(verdicts.Length - (int)decided.Kept);
        for (var i = 0; i < verdicts.Length; i++)
        {
            if (!keep[i])
            {
                list.Add(select(verdicts[i]));
            }
        }

        return [.. list];
    }
}

