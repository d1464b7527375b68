using System.Buffers.Binary;
using Parquet;
using Parquet.Schema;

namespace ConsentRegistry.Cli.Filtering;

/// <summary>
/// Where a resumable output file stands: its length after the last whole row group, and the
/// bytes from its footer's start to that length. Appending a row group overwrites the footer in
/// place, so a run killed mid-append is undone by cutting the file back to where the footer
/// started and writing these bytes again.
/// </summary>
public sealed record OutputCheckpoint(long Length, byte[] Tail, int RowGroups);

/// <summary>
/// A Parquet file written one row group at a time, closed (footer written and fsynced) after
/// each, so that the file on disk is always a valid Parquet file of the row groups written so far.
/// </summary>
internal sealed class ParquetOutput(string path, ParquetSchema schema, IReadOnlyDictionary<string, string> metadata)
{
    public string Path { get; } = path;

    public OutputCheckpoint? Checkpoint { get; private set; }

    /// <summary>Puts the file back as it was at <paramref name="checkpoint"/> (none: no file yet).</summary>
    public void Restore(OutputCheckpoint? checkpoint)
    {
        Checkpoint = checkpoint;
        if (checkpoint is null)
        {
            File.Delete(Path);
            return;
        }

        var footerStart = checkpoint.Length - checkpoint.Tail.Length;
        using var file = new FileStream(Path, FileMode.Open, FileAccess.ReadWrite);
        if (file.Length < footerStart)
        {
            throw CliException.Input($"{Path} is shorter than when its last row group was recorded; it changed outside this tool. Start again with --overwrite.");
        }

        file.SetLength(footerStart);
        file.Seek(footerStart, SeekOrigin.Begin);
        file.Write(checkpoint.Tail);
        file.Flush(flushToDisk: true);
    }

    /// <summary>Appends one row group, whose columns <paramref name="writeColumns"/> writes in schema order, and records the new checkpoint.</summary>
    public async Task AppendRowGroupAsync(Func<ParquetRowGroupWriter, Task> writeColumns, CancellationToken cancellationToken)
    {
        await WriteAsync(async writer =>
        {
            using var group = writer.CreateRowGroup();
            await writeColumns(group);
            group.CompleteValidate();
        }, cancellationToken);
        Checkpoint = Read(Checkpoint?.RowGroups + 1 ?? 1);
    }

    /// <summary>Makes sure the file exists: a run that kept no row leaves a valid file with the schema and no rows.</summary>
    public async Task CompleteAsync(CancellationToken cancellationToken)
    {
        if (Checkpoint is null)
        {
            await WriteAsync(_ => Task.CompletedTask, cancellationToken);
            Checkpoint = Read(0);
        }
    }

    private async Task WriteAsync(Func<ParquetWriter, Task> write, CancellationToken cancellationToken)
    {
        var append = Checkpoint is not null;
        await using var file = new FileStream(Path, append ? FileMode.Open : FileMode.Create, FileAccess.ReadWrite, FileShare.Read, 1 << 16);
        await using (var writer = await ParquetWriter.CreateAsync(schema, file, append: append, cancellationToken: cancellationToken))
        {
            writer.CustomMetadata = metadata;
            await write(writer);
        }

        file.Flush(flushToDisk: true);
    }

    /// <summary>The checkpoint of the file as it is now: a Parquet file ends with its footer, the footer's length (4 bytes) and "PAR1".</summary>
    private OutputCheckpoint Read(int rowGroups)
    {
        using var file = new FileStream(Path, FileMode.Open, FileAccess.Read);
        Span<byte> end = stackalloc byte[8];
        file.Seek(-8, SeekOrigin.End);
        file.ReadExactly(end);
        var tail = new byte[BinaryPrimitives.ReadInt32LittleEndian(end) + 8];
        file.Seek(-tail.Length, SeekOrigin.End);
        file.ReadExactly(tail);
        return new OutputCheckpoint(file.Length, tail, rowGroups);
    }
}
