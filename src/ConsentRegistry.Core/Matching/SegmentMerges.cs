namespace ConsentRegistry.Core.Matching;

/// <summary>
/// When the immutable segments of a log-structured index merge (<see cref="PdqIndex"/>,
/// <see cref="KeyTable"/>): a full tail becomes a segment, and merges keep the segments few so
/// that a search visits few of them, while each entry is rebuilt only O(log n) times.
/// </summary>
internal static class SegmentMerges
{
    /// <summary>Segments of one size class that merge into one of the next.</summary>
    public const int Fanout = 4;

    /// <summary>Entries outside the largest segment below which they are never merged into it.</summary>
    public const int WholeMergeMinimum = 1 << 16;

    /// <summary>
    /// How many of the newest segments merge now: all, a run of the newest, or none. When the
    /// segments other than the largest hold a quarter of the entries (and at least
    /// <see cref="WholeMergeMinimum"/>), all merge into one, which keeps mid-sized segments few (a
    /// geometric series: each entry is rebuilt about four times more). Otherwise, when the newest
    /// segments of one size class (<paramref name="tailLimit"/> · <see cref="Fanout"/>^c entries or a
    /// little more) number <see cref="Fanout"/> or more, they merge, together with the older ones just
    /// before them whose class is no larger than what the merge makes. Merging only the newest
    /// <see cref="Fanout"/> left segments behind whenever one write added several tails at once (a
    /// claim of 10,000 subjects adds two or three): a merged segment then sat after smaller ones,
    /// the newest run never again held <see cref="Fanout"/> of a class, and a serving index
    /// collected dozens of segments, each read by every lookup (docs/benchmarks.md, "Merges after
    /// large claims").
    /// </summary>
    /// <param name="segments">The segments, oldest first.</param>
    /// <param name="count">A segment's entry count.</param>
    public static int Due<TSegment>(List<TSegment> segments, Func<TSegment, int> count, int tailLimit)
    {
        Span<int> sizes = segments.Count <= 64 ? stackalloc int[segments.Count] : new int[segments.Count];
        for (var i = 0; i < sizes.Length; i++)
        {
            sizes[i] = count(segments[i]);
        }

        return Due(sizes, tailLimit);
    }

    private static int Due(ReadOnlySpan<int> sizes, int tailLimit)
    {
        if (sizes.Length < 2)
        {
            return 0;
        }

        long total = 0;
        var largest = 0;
        foreach (var size in sizes)
        {
            total += size;
            largest = Math.Max(largest, size);
        }

        var rest = total - largest;
        if (rest >= WholeMergeMinimum && rest * Fanout >= total)
        {
            return sizes.Length;
        }

        var last = SizeClass(sizes[^1], tailLimit);
        var run = 1;
        while (run < sizes.Length && SizeClass(sizes[^(run + 1)], tailLimit) == last)
        {
            run++;
        }

        if (run < Fanout)
        {
            return 0;
        }

        long merged = 0;
        foreach (var size in sizes[^run..])
        {
            merged += size;
        }

        var count = run;
        while (count < sizes.Length && SizeClass(sizes[^(count + 1)], tailLimit) <= SizeClass(merged, tailLimit))
        {
            merged += sizes[^(count + 1)];
            count++;
        }

        return count;
    }

    private static int SizeClass(long count, int tailLimit)
    {
        var size = 0;
        for (var n = count / tailLimit; n >= Fanout; n /= Fanout)
        {
            size++;
        }

        return size;
    }
}

/// <summary>A merged segment built beside searches from the newest <see cref="Sources"/> segments, waiting to be swapped in for them.</summary>
internal sealed class SegmentMerge<TSegment>(TSegment firstSource, int sources, TSegment segment)
    where TSegment : class
{
    /// <summary>The oldest segment merged: the swap checks it is still where it was.</summary>
    public TSegment FirstSource { get; } = firstSource;

    public int Sources { get; } = sources;

    public TSegment Segment { get; } = segment;

    /// <summary>Puts the merged segment in place of the segments it was built from; refused if they are no longer the newest.</summary>
    public void SwapInto(List<TSegment> segments, string index)
    {
        if (segments.Count < Sources || segments[^Sources] != FirstSource)
        {
            throw new InvalidOperationException($"The {index} changed between preparing and committing a merge.");
        }

        segments.RemoveRange(segments.Count - Sources, Sources);
        segments.Add(Segment);
    }
}
