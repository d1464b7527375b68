using ConsentRegistry.Core.Snapshots;

namespace ConsentRegistry.Core.Matching;

/// <summary>
/// Where each claim's postings lie in an array filled claim after claim (the host lists'): a
/// count byte a claim (255: the count is kept aside) and the start of every 32nd claim, about 1.1
/// bytes a claim where a start per claim took 4. A claim's range is found by summing at most 31
/// counts; the claim holding a posting by a binary search of the block starts, then a walk.
/// </summary>
internal sealed class PostingRanges
{
    private const int BlockShift = 5;
    private const int BlockSize = 1 << BlockShift;
    private const byte Aside = byte.MaxValue;

    private readonly Dictionary<int, int> _countsAside = [];
    private byte[] _counts = new byte[256];
    private int[] _blockStarts = new int[256 / BlockSize];

    /// <summary>Claims with a range.</summary>
    public int Count { get; private set; }

    /// <summary>Postings covered: the end of the last range.</summary>
    public int Total { get; private set; }

    public long Bytes => (2 * MatchingIndex.ArrayOverhead) + _counts.LongLength + (_blockStarts.LongLength * sizeof(int)) + (_countsAside.Count * 24L);

    /// <summary>Gives claim number <see cref="Count"/> the next <paramref name="postings"/> postings.</summary>
    public void Append(int postings)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(postings);
        var claim = Count;
        if (claim == _counts.Length)
        {
            Array.Resize(ref _counts, checked(Math.Max(claim + (claim / 2), claim + BlockSize))); // trimmed to one, it still grows
            Array.Resize(ref _blockStarts, (_counts.Length >> BlockShift) + 1);
        }

        if ((claim & (BlockSize - 1)) == 0)
        {
            _blockStarts[claim >> BlockShift] = Total;
        }

        if (postings < Aside)
        {
            _counts[claim] = (byte)postings;
        }
        else
        {
            _counts[claim] = Aside;
            _countsAside[claim] = postings;
        }

        Total = checked(Total + postings);
        Count++;
    }

    /// <summary>Claim <paramref name="claim"/>'s postings: [start, end).</summary>
    public (int Start, int End) Range(int claim)
    {
        var start = _blockStarts[claim >> BlockShift];
        for (var before = claim & ~(BlockSize - 1); before < claim; before++)
        {
            start += CountOf(before);
        }

        return (start, start + CountOf(claim));
    }

    /// <summary>The claim whose range holds <paramref name="posting"/> (below <see cref="Total"/>).</summary>
    public int ClaimOf(int posting)
    {
        if ((uint)posting >= (uint)Total)
        {
            throw new ArgumentOutOfRangeException(nameof(posting), posting, $"Postings run from 0 to {Total - 1}.");
        }

        // The last block starting at or before the posting holds it (blocks before it that start at
        // the same place hold no postings).
        int low = 0, high = (Count - 1) >> BlockShift;
        while (low < high)
        {
            var mid = (low + high + 1) / 2;
            if (_blockStarts[mid] <= posting)
            {
                low = mid;
            }
            else
            {
                high = mid - 1;
            }
        }

        var start = _blockStarts[low];
        for (var claim = low << BlockShift; ; claim++)
        {
            start += CountOf(claim);
            if (posting < start)
            {
                return claim;
            }
        }
    }

    /// <summary>Gives growth slack back.</summary>
    public void TrimExcess()
    {
        Array.Resize(ref _counts, Math.Max(Count, 1));
        Array.Resize(ref _blockStarts, (Count >> BlockShift) + 1);
    }

    /// <summary>Every start and the end, <see cref="Count"/> + 1 values: the form a snapshot holds.</summary>
    public int[] Starts()
    {
        var starts = new int[Count + 1];
        for (var claim = 0; claim < Count; claim++)
        {
            starts[claim + 1] = starts[claim] + CountOf(claim);
        }

        return starts;
    }

    /// <summary>The ranges that <see cref="Starts"/> gave; throws <see cref="SnapshotFormatException"/> unless they start at 0 and never go back.</summary>
    public static PostingRanges FromStarts(ReadOnlySpan<int> starts)
    {
        if (starts.IsEmpty || starts[0] != 0)
        {
            throw new SnapshotFormatException("The host lists' starts do not begin at 0.");
        }

        var ranges = new PostingRanges
        {
            _counts = new byte[Math.Max(starts.Length - 1, 1)],
            _blockStarts = new int[((starts.Length - 1) >> BlockShift) + 1],
        };
        for (var claim = 0; claim + 1 < starts.Length; claim++)
        {
            var count = starts[claim + 1] - starts[claim];
            if (count < 0)
            {
                throw new SnapshotFormatException("The host lists' starts go back.");
            }

            ranges.Append(count);
        }

        return ranges;
    }

    private int CountOf(int claim) => _counts[claim] != Aside ? _counts[claim] : _countsAside[claim];
}
