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
    /// large claims"). Only the newest segments whose entries fit in one segment of
    /// <paramref name="maxEntries"/> are weighed: older ones, full or nearly so, stay as they are, so
    /// that no merge outgrows what one array holds.
    /// </summary>
    /// <param name="segments">The segments, oldest first.</param>
    /// <param name="count">A segment's entry count.</param>
    /// <param name="maxEntries">The most entries one segment may hold.</param>
    public static int Due<TSegment>(List<TSegment> segments, Func<TSegment, int> count, int tailLimit, long maxEntries)
    {
        Span<int> sizes = segments.Count <= 64 ? stackalloc int[segments.Count] : new int[segments.Count];
        for (var i = 0; i < sizes.Length; i++)
        {
            sizes[i] = count(segments[i]);
        }

        return Due(sizes, tailLimit, maxEntries);
    }

    /// <summary>
    /// How <c>Compact</c> groups the segments (oldest first, and the tail last, as one more of
    /// <paramref name="sizes"/>): runs of consecutive ones of at most <paramref name="maxEntries"/>
    /// entries each, filled in order, each to become one segment. One run of all of them unless
    /// their entries outgrow one segment.
    /// </summary>
    /// <returns>How many of <paramref name="sizes"/> each run takes, in order.</returns>
    public static List<int> CompactRuns(ReadOnlySpan<int> sizes, long maxEntries)
    {
        var runs = new List<int>();
        long entries = 0;
        var length = 0;
        foreach (var size in sizes)
        {
            if (length > 0 && entries + size > maxEntries)
            {
                runs.Add(length);
                (entries, length) = (0, 0);
            }

            entries += size;
            length++;
        }

        if (length > 0)
        {
            runs.Add(length);
        }

        return runs;
    }

    /// <summary>
    /// The segments a compaction leaves of <paramref name="segments"/> (oldest first) and a tail of
    /// <paramref name="tailCount"/> entries: each run of <see cref="CompactRuns"/> becomes one segment
    /// through <paramref name="merge"/> (its first segment, how many segments, whether the tail
    /// joins them); a run of one segment alone stays as it is.
    /// </summary>
    public static List<TSegment> Compacted<TSegment>(
        List<TSegment> segments, Func<TSegment, int> count, int tailCount, long maxEntries, Func<int, int, bool, TSegment> merge)
    {
        var sizes = new int[segments.Count + (tailCount > 0 ? 1 : 0)];
        for (var segment = 0; segment < segments.Count; segment++)
        {
            sizes[segment] = count(segments[segment]);
        }

        if (tailCount > 0)
        {
            sizes[^1] = tailCount; // the tail is the last run's last part
        }

        var compacted = new List<TSegment>();
        var first = 0;
        foreach (var run in CompactRuns(sizes, maxEntries))
        {
            var withTail = tailCount > 0 && first + run == sizes.Length;
            var merged = withTail ? run - 1 : run;
            compacted.Add(merged == 1 && !withTail ? segments[first] : merge(first, merged, withTail));
            first += run;
        }

        return compacted;
    }

    /// <summary>As <see cref="Due{TSegment}"/>, on the segments' sizes, oldest first.</summary>
    internal static int Due(ReadOnlySpan<int> sizes, int tailLimit, long maxEntries)
    {
        sizes = sizes[FirstMergeable(sizes, maxEntries)..];
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

    /// <summary>Where the newest segments whose entries together fit in one of <paramref name="maxEntries"/> start.</summary>
    private static int FirstMergeable(ReadOnlySpan<int> sizes, long maxEntries)
    {
        var first = sizes.Length;
        for (long entries = 0; first > 0 && entries + sizes[first - 1] <= maxEntries; first--)
        {
            entries += sizes[first - 1];
        }

        return first;
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
