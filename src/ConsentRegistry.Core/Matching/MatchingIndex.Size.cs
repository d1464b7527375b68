using System.Runtime.CompilerServices;
using ConsentRegistry.Core.Claims;

namespace ConsentRegistry.Core.Matching;

/// <summary>
/// What the index holds, for monitoring: subjects by kind (counted as they are added) and an
/// estimate of its memory from the capacity of its arrays and tables. Both are cheap enough to
/// read on every metrics scrape: nothing here walks the entries.
/// </summary>
public sealed partial class MatchingIndex
{
    internal const int ArrayOverhead = 24; // object header, method table, length (64-bit)
    private const int DictionaryOverhead = 80; // the Dictionary object itself

    private SubjectCounts _subjectCounts;
    private long _stringBytes; // party ids and derived sets' URLs, counted once each as they arrive

    /// <summary>Subjects indexed, by kind; revoked claims' subjects included, as in <see cref="SubjectCount"/>.</summary>
    public SubjectCounts SubjectsByKind => _subjectCounts;

    /// <summary>
    /// Bytes the index holds, estimated: array lengths times element sizes, the key tables' own
    /// count, dictionary capacities times their entries' size, the strings of party ids, and the PDQ index's own count.
    /// Growth slack is included (it is memory the process holds); the URL-prefix length lists are
    /// taken as one length each. Costs O(PDQ segments), a few dozen at most.
    /// </summary>
    public long EstimatedBytes => EstimatedBytesByPart().Sum(part => part.Bytes);

    /// <summary>
    /// <see cref="EstimatedBytes"/> by part: one per subject kind (named as <see cref="SubjectKinds"/>:
    /// its key table, or the PDQ index, or the vectors), the claims (their structs, the id table,
    /// the party table), the crawler policy's host lists, hot keys, derived sets and strings.
    /// </summary>
    public IReadOnlyList<(string Part, long Bytes)> EstimatedBytesByPart() =>
    [
        ("claims", _claims.Bytes + DictionaryBytes<string, int>(_parties.Capacity)),
        (SubjectKinds.Url, _urls.Bytes),
        (SubjectKinds.UrlPrefix, _prefixes.Bytes + _prefixLengths.Bytes),
        (SubjectKinds.Host, _hosts.Bytes),
        (SubjectKinds.Sha256, _sha256.Bytes),
        (SubjectKinds.Pdq, _pdq.Bytes),
        (SubjectKinds.Embedding, EmbeddingBytes()),
        ("host-lists", ArrayBytes<uint>(_hostPostings.Length) + _claimHosts.Bytes + _hostSeqs.Bytes),
        ("hot-keys", HotKeyBytes()),
        ("derived", DerivedBytes()),
        ("strings", _stringBytes),
    ];

    /// <summary>How many immutable segments each key table holds (a lookup reads each): for benchmarks and diagnostics.</summary>
    public string KeySegmentCounts() =>
        $"url {_urls.SegmentCount}, url-prefix {_prefixes.SegmentCount}, host {_hosts.SegmentCount}, sha256 {_sha256.SegmentCount}";

    /// <summary>
    /// Hot keys (MatchingIndex.HotKeys.cs), estimated: per effective claim a sorted-set node and a
    /// dictionary entry (about 72 bytes), per claim on a hot key a dictionary entry (about 16), per
    /// hot key its views and its entry in the table of hot keys.
    /// O(hot keys), which are few: only keys shared by dozens of claims.
    /// </summary>
    private long HotKeyBytes()
    {
        long members = 0;
        foreach (var hot in _hotKeys)
        {
            members += hot.All.Count + hot.SubdomainsOnly.Count;
        }

        return (members * 72) + (_hotKeyOfClaim.Count * 16L) + (_hotKeys.Count * 512L);
    }

    /// <summary>Derived sets' bookkeeping: the two tables and each claim's list of its sets (their URLs are in the string count).</summary>
    private long DerivedBytes() =>
        DictionaryBytes<int, List<int>>(_derivedSets.Capacity)
        + DictionaryBytes<int, DerivedSource>(_derivedSources.Capacity)
        + (_derivedSets.Count * (32L + ArrayBytes<int>(4)));

    private static long StringBytes(string value) => (22 + (2L * value.Length) + 7) & ~7L; // header, length, chars, terminator; 8-aligned

    private static long ArrayBytes<T>(long length) => ArrayOverhead + (length * Unsafe.SizeOf<T>());

    private static long DictionaryBytes<TKey, TValue>(int capacity) =>
        capacity == 0 ? DictionaryOverhead : DictionaryOverhead + ArrayBytes<int>(capacity) + ArrayBytes<DictionaryEntry<TKey, TValue>>(capacity);

    /// <summary>The fields of a <see cref="Dictionary{TKey,TValue}"/> entry, in its order, for their size only.</summary>
    private readonly record struct DictionaryEntry<TKey, TValue>(uint HashCode, int Next, TKey Key, TValue Value);
}

/// <summary>Subjects of the matching index by kind (<see cref="SubjectKinds"/>).</summary>
public record struct SubjectCounts(long Url, long UrlPrefix, long Host, long Sha256, long Pdq, long Embedding = 0)
{
    /// <summary>The count for <paramref name="kind"/>, one of <see cref="SubjectKinds.All"/>; 0 for any other.</summary>
    public readonly long Of(string kind) => kind switch
    {
        SubjectKinds.Url => Url,
        SubjectKinds.UrlPrefix => UrlPrefix,
        SubjectKinds.Host => Host,
        SubjectKinds.Sha256 => Sha256,
        SubjectKinds.Pdq => Pdq,
        SubjectKinds.Embedding => Embedding,
        _ => 0,
    };

    /// <summary>Counts one more subject of <paramref name="kind"/>, one of <see cref="SubjectKinds.All"/>.</summary>
    internal void Add(string kind)
    {
        switch (kind)
        {
            case SubjectKinds.Url:
                Url++;
                break;
            case SubjectKinds.UrlPrefix:
                UrlPrefix++;
                break;
            case SubjectKinds.Host:
                Host++;
                break;
            case SubjectKinds.Sha256:
                Sha256++;
                break;
            case SubjectKinds.Pdq:
                Pdq++;
                break;
            case SubjectKinds.Embedding:
                Embedding++;
                break;
        }
    }
}
