using System.Buffers;
using ConsentRegistry.Cli.Deciding;
using ConsentRegistry.Core.Matching;

namespace ConsentRegistry.Cli.Filtering;

/// <summary>
/// A row group's verdicts and which rows are kept, in pooled arrays, for the rows its URL column
/// held as read (<see cref="UrlRows"/>), never for the count its footer claims.
/// </summary>
internal sealed class DecidedRows(int rows) : IDisposable
{
    private readonly Verdict[] _verdicts = ArrayPool<Verdict>.Shared.Rent(rows);
    private readonly bool[] _keep = ArrayPool<bool>.Shared.Rent(rows);

    public Memory<Verdict> Verdicts => _verdicts.AsMemory(0, rows);

    public ReadOnlyMemory<bool> Keep => _keep.AsMemory(0, rows);

    /// <summary>Which rows are kept, by row (the array may be longer than the row group).</summary>
    public bool[] KeepArray => _keep;

    public long Kept { get; private set; }

    public long Invalid { get; private set; }

    /// <summary>A row is kept unless its decision for <paramref name="category"/> is disallow; one without a usable URL is kept and counted.</summary>
    public void Count(int category, ReadOnlySpan<bool> present)
    {
        for (var i = 0; i < rows; i++)
        {
            _keep[i] = _verdicts[i].Decision[category] != Permission.Disallow;
            Kept += _keep[i] ? 1 : 0;
            Invalid += !present[i] || _verdicts[i].Error is not null ? 1 : 0;
        }
    }

    public void Dispose()
    {
        ArrayPool<Verdict>.Shared.Return(_verdicts, clearArray: true);
        ArrayPool<bool>.Shared.Return(_keep);
    }
}
