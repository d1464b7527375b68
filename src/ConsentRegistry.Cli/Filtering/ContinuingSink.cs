namespace ConsentRegistry.Cli.Filtering;

/// <summary>
/// The stream a row group's writer writes to: the file from where its last footer began. The
/// writer starts every file with "PAR1" and refuses a stream not at position 0; where the file
/// already has them, those four bytes are dropped, and the writer is told positions from 0
/// until they are, then the file's real ones (every offset it records is taken after them).
/// </summary>
internal sealed class ContinuingSink(FileStream file, bool continues) : Stream
{
    private int _toDrop = continues ? ParquetOutput.Magic.Length : 0;

    /// <summary>The first failure of the file, kept for the one message that names it.</summary>
    public Exception? Failure { get; private set; }

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => Position;

    public override long Position
    {
        get => _toDrop > 0 ? ParquetOutput.Magic.Length - _toDrop : file.Position;
        set => throw new NotSupportedException();
    }

    /// <summary>Runs <paramref name="operation"/> on the file, keeping its failure.</summary>
    public T OnFile<T>(Func<T> operation)
    {
        try
        {
            return operation();
        }
        catch (Exception e) when (ParquetOutput.IsFileFailure(e))
        {
            Failure ??= e;
            throw;
        }
    }

    public void OnFile(Action operation) => OnFile(() =>
    {
        operation();
        return true;
    });

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        if (_toDrop > 0)
        {
            var dropped = Math.Min(_toDrop, buffer.Length);
            if (!buffer[..dropped].SequenceEqual(ParquetOutput.Magic.AsSpan(ParquetOutput.Magic.Length - _toDrop, dropped)))
            {
                throw new InvalidOperationException("The Parquet writer did not start with its magic bytes.");
            }

            buffer = buffer[dropped..];
            _toDrop -= dropped;
        }

        try
        {
            file.Write(buffer); // a span: not through OnFile, whose lambda could not hold it
        }
        catch (Exception e) when (ParquetOutput.IsFileFailure(e))
        {
            Failure ??= e;
            throw;
        }
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Flush() => OnFile(file.Flush);

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();
}
