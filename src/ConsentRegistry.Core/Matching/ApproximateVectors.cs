namespace ConsentRegistry.Core.Matching;

/// <summary>
/// An approximate nearest-neighbour index over one model's claimed vectors, kept by a library
/// outside Core (Core has no native code). It only proposes candidates: the matching index re-checks
/// every candidate exactly against the stored vector before it counts, so an approximate distance
/// never makes a match; a neighbour the index fails to propose is a missed match (its recall is
/// measured in docs/benchmarks.md). Searches may run concurrently; adds come from the one writer
/// while no search runs (<see cref="SharedMatchingIndex"/>).
/// </summary>
public interface IApproximateVectors : IDisposable
{
    /// <summary>Adds the vector of claimed row <paramref name="row"/>.</summary>
    void Add(int row, ReadOnlySpan<float> vector);

    /// <summary>Writes the rows nearest <paramref name="query"/> (cosine), nearest first, into <paramref name="rows"/>; returns how many.</summary>
    int Search(ReadOnlySpan<float> query, Span<int> rows);

    /// <summary>The memory the index holds, for the index's size report.</summary>
    long Bytes { get; }
}

/// <summary>
/// When and how the matching index searches embeddings approximately: a model's vectors are searched
/// exactly until there are <see cref="MinVectors"/> of them, then through an index made by
/// <see cref="Create"/> (given the vector length), asking it for <see cref="Candidates"/> rows per query vector.
/// </summary>
public sealed record ApproximateVectorSettings(Func<int, IApproximateVectors> Create, int MinVectors, int Candidates);
