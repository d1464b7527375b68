using ConsentRegistry.Core.Snapshots;

namespace ConsentRegistry.Core.Matching;

/// <summary>
/// An approximate nearest-neighbour index over one model's claimed vectors: sign codes
/// (<see cref="SignCodeVectors"/>, managed) or a library's graph outside Core (Core has no native
/// code). It only proposes candidates: the matching index re-checks
/// every candidate exactly against the stored vector before it counts, so an approximate distance
/// never makes a match; a neighbour the index fails to propose is a missed match (its recall is
/// measured in docs/benchmarks.md). Searches may run concurrently; adds come from the one writer
/// while no search runs (<see cref="SharedMatchingIndex"/>), or from several threads at once while
/// an index is built, within room made by <see cref="Reserve"/>.
/// </summary>
public interface IApproximateVectors : IDisposable
{
    /// <summary>Makes room for at least <paramref name="rows"/> rows.</summary>
    void Reserve(int rows);

    /// <summary>
    /// Told, before the first add of a build, the mean of the <paramref name="rows"/> rows it is built
    /// over; an index that measures directions from the rows' centre keeps it (the default ignores it).
    /// </summary>
    void Centre(ReadOnlySpan<float> mean, int rows)
    {
    }

    /// <summary>
    /// True when the index would serve better built again over the rows there are now (its centre was
    /// taken from far fewer rows); the matching index then builds a new one as it built this one.
    /// </summary>
    bool WantsRebuild => false;

    /// <summary>Adds the vector of claimed row <paramref name="row"/>.</summary>
    void Add(int row, ReadOnlySpan<float> vector);

    /// <summary>Writes the rows nearest <paramref name="query"/> (cosine), nearest first, into <paramref name="rows"/>; returns how many.</summary>
    int Search(ReadOnlySpan<float> query, Span<int> rows);

    /// <summary>The memory the index holds, for the index's size report.</summary>
    long Bytes { get; }

    /// <summary>How many rows the index holds.</summary>
    int Count { get; }

    /// <summary>
    /// How this index was made (library, metric, projection, parameters), kept beside a saved copy:
    /// a saved index is loaded only by settings that would make one of the same layout.
    /// </summary>
    string Layout { get; }

    /// <summary>The whole index serialised (for a snapshot); no add may run meanwhile.</summary>
    NativeBuffer Save();
}

/// <summary>
/// When and how the matching index searches embeddings approximately: a model's vectors are searched
/// exactly until there are <see cref="MinVectors"/> of them, then through an index made by
/// <see cref="Create"/> (given the vector length), asking it for <see cref="Candidates"/> rows per query vector.
/// </summary>
public sealed record ApproximateVectorSettings(Func<int, IApproximateVectors> Create, int MinVectors, int Candidates)
{
    /// <summary>
    /// Loads an index saved by <see cref="IApproximateVectors.Save"/> (given the vector length, the
    /// saved index's <see cref="IApproximateVectors.Layout"/> and its bytes), or answers null when
    /// these settings would make an index of another layout: then it is built again from the vectors.
    /// </summary>
    public Func<int, string, NativeBuffer, IApproximateVectors?>? Open { get; init; }
}
