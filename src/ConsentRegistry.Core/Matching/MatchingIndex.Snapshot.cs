using System.Runtime.InteropServices;
using ConsentRegistry.Core.Claims;
using ConsentRegistry.Core.Snapshots;

namespace ConsentRegistry.Core.Matching;

// The index written to and read from a snapshot file (docs/snapshot-format.md). What is written
// is what the index keeps, as flat arrays: the claims as columns, each key table's sorted
// segments and its tail, the PDQ index's entries per segment, the per-host lists, the derived
// sets and the claimed vectors. Reading puts the same arrays back, so a loaded index answers
// exactly as the one written; only what is rebuilt in one pass from those arrays is left out (the
// key segments' bucket directories, the PDQ segments' multi-index, the hot keys' resolved views).
// The approximate vector indexes, which take far longer to build than to read, are saved whole.
public sealed partial class MatchingIndex
{
    private static readonly string[] TableSections = ["urls", "url-prefixes", "hosts", "sha256"];

    /// <summary>Claims a part of the usage column holds as it is written and read: the column (five bytes a claim) may be longer than one array.</summary>
    private const int UsagePartClaims = 1 << 10;

    /// <summary>
    /// Writes the whole index. It only reads the index, so lookups may run beside it; the caller
    /// keeps writers out (<see cref="SharedMatchingIndex.WriteSnapshot"/>).
    /// </summary>
    public void WriteSnapshot(SnapshotWriter writer)
    {
        RefuseIfLookupsOnly();
        writer.BeginSection("index");
        writer.WriteInt64(AppliedSeq);
        writer.WriteInt64(ClaimCount);
        writer.WriteInt64(SubjectCount);
        writer.WriteArray<int>(SubjectCountsAsWritten(_subjectCounts));
        writer.WriteInt64(_derivedEntries);
        writer.WriteInt64(_stringBytes);
        writer.EndSection();

        WriteClaims(writer);

        writer.BeginSection("parties");
        writer.WriteInt64(_partyNames.Count);
        foreach (var name in _partyNames)
        {
            writer.WriteString(name);
        }

        writer.EndSection();

        for (var table = 0; table < TableSections.Length; table++)
        {
            writer.BeginSection(TableSections[table]);
            KeyTables[table].WriteTo(writer);
            writer.EndSection();
        }

        WritePrefixLengths(writer);

        writer.BeginSection("pdq");
        _pdq.WriteTo(writer);
        writer.EndSection();

        writer.BeginSection("host-lists");
        _hostSeqs.WriteTo(writer);
        writer.WriteArray<uint>(_hostPostings.AsSpan(0, _hostPostingCount));
        writer.WriteArray<int>(_claimHosts.Starts());
        writer.EndSection();

        WriteHotKeys(writer);
        WriteDerived(writer);
        WriteEmbeddings(writer);
        WriteVectorIndexes(writer);
    }

    /// <summary>Reads an index written by <see cref="WriteSnapshot"/>; throws <see cref="SnapshotFormatException"/> for a corrupt file.</summary>
    public static MatchingIndex ReadSnapshot(SnapshotReader reader, ApproximateVectorSettings? approximate = null) =>
        ReadSnapshot(reader, approximate, lookupsOnly: false);

    /// <summary>
    /// Reads a snapshot for lookups only (a dataset builder's filter): the crawler policy's per-host
    /// lists are checked but not kept (about a third of the index at 10 M URL subjects), so the index
    /// answers lookups exactly as a full one and refuses host documents, new claims and snapshots.
    /// With <paramref name="approximate"/>, the saved vector indexes it can open are searched (none is built).
    /// </summary>
    public static MatchingIndex ReadSnapshotForLookups(SnapshotReader reader, ApproximateVectorSettings? approximate = null) =>
        ReadSnapshot(reader, approximate, lookupsOnly: true);

    private static MatchingIndex ReadSnapshot(SnapshotReader reader, ApproximateVectorSettings? approximate, bool lookupsOnly)
    {
        var index = new MatchingIndex(approximate) { LookupsOnly = lookupsOnly };
        try
        {
            index.ReadFrom(reader);
            return index;
        }
        catch
        {
            index.Dispose(); // vector indexes loaded before the failure hold native memory
            throw;
        }
    }

    /// <summary>True for an index read by <see cref="ReadSnapshotForLookups"/>: it holds no host lists.</summary>
    public bool LookupsOnly { get; private init; }

    private void RefuseIfLookupsOnly()
    {
        if (LookupsOnly)
        {
            throw new InvalidOperationException("This index was read from a snapshot for lookups only: it has no host lists, and takes no claims.");
        }
    }

    private void ReadFrom(SnapshotReader reader)
    {
        reader.BeginSection("index");
        var seq = reader.ReadInt64();
        var entries = reader.ReadCount(ClaimTable.MaxCount);
        SubjectCount = reader.ReadInt64();
        if (SubjectCount < 0)
        {
            throw new SnapshotFormatException($"A subject count of {SubjectCount} is out of range.");
        }

        var counts = reader.ReadArray<int>(6);
        if (counts.Length != 6)
        {
            throw new SnapshotFormatException("The index section's subject counts are not six.");
        }

        if (counts.AsSpan().IndexOfAnyInRange(int.MinValue, -1) >= 0)
        {
            throw new SnapshotFormatException("A subject count by kind is negative.");
        }

        _subjectCounts = new SubjectCounts(counts[0], counts[1], counts[2], counts[3], counts[4], counts[5]);
        _derivedEntries = reader.ReadCount(entries);
        _stringBytes = reader.ReadInt64();
        reader.EndSection();
        AppliedSeq = SeqAsInHeader(reader, seq);

        ReadClaims(reader, entries); // ClaimCount from here on

        reader.BeginSection("parties");
        var parties = reader.ReadCount(ClaimCount);
        for (var party = 0; party < parties; party++)
        {
            _partyNames.Add(reader.ReadString());
        }

        reader.EndSection();
        foreach (var name in _partyNames)
        {
            if (!_parties.TryAdd(name, _parties.Count))
            {
                throw new SnapshotFormatException("A party is named twice.");
            }
        }

        for (var claim = 0; claim < ClaimCount; claim++)
        {
            if ((uint)_claims.Party(claim) >= (uint)parties)
            {
                throw new SnapshotFormatException($"A claim names party {_claims.Party(claim)} of {parties}.");
            }
        }

        for (var table = 0; table < TableSections.Length; table++)
        {
            reader.BeginSection(TableSections[table]);
            KeyTables[table].ReadFrom(reader, ClaimCount);
            reader.EndSection();
        }

        ReadPrefixLengths(reader);

        reader.BeginSection("pdq");
        _pdq.ReadFrom(reader, ClaimCount);
        reader.EndSection();

        if (LookupsOnly)
        {
            reader.SkipSection("host-lists");
        }
        else
        {
            ReadHostLists(reader);
        }

        ReadHotKeys(reader);
        ReadDerived(reader);
        ReadEmbeddings(reader);
        ReadVectorIndexes(reader);
        reader.ReadEnd();
    }

    /// <summary>
    /// The subjects by kind as the index section holds them: i32 each (docs/snapshot-format.md). A
    /// kind past 2^31 - 1 subjects cannot be written in this format version; it is refused, never
    /// written wrapped to a negative count that every reader would refuse.
    /// </summary>
    internal static int[] SubjectCountsAsWritten(SubjectCounts counts)
    {
        string[] kinds = [SubjectKinds.Url, SubjectKinds.UrlPrefix, SubjectKinds.Host, SubjectKinds.Sha256, SubjectKinds.Pdq, SubjectKinds.Embedding]; // the format's order
        var written = new int[kinds.Length];
        for (var kind = 0; kind < kinds.Length; kind++)
        {
            var count = counts.Of(kinds[kind]);
            written[kind] = count <= int.MaxValue
                ? (int)count
                : throw new InvalidOperationException($"The index holds {count:N0} {kinds[kind]} subjects: snapshot format version {SnapshotHeader.CurrentFormat} holds at most {int.MaxValue:N0} of a kind.");
        }

        return written;
    }

    /// <summary>
    /// The index section's seq, which must be the header's: the service checks the header against
    /// the signed manifest, then applies the log after <see cref="AppliedSeq"/>, so a seq past the
    /// header's would skip log entries and one before it would apply them twice.
    /// </summary>
    private static long SeqAsInHeader(SnapshotReader reader, long seq) => seq == reader.Header.Seq
        ? seq
        : throw new SnapshotFormatException($"The index section is at seq {seq}; the header says {reader.Header.Seq}.");

    private void ReadHostLists(SnapshotReader reader)
    {
        reader.BeginSection("host-lists");
        _hostSeqs.ReadFrom(reader);
        _hostPostings = reader.ReadArray<uint>();
        _hostPostingCount = _hostPostings.Length;
        var starts = reader.ReadArray<int>();
        if (starts.Length != ClaimCount + 1 || starts[^1] != _hostPostingCount)
        {
            throw new SnapshotFormatException("The host lists do not cover the claims.");
        }

        _claimHosts = PostingRanges.FromStarts(starts);

        reader.EndSection();
    }

    /// <summary>
    /// Claims as columns: id (32 bytes), seq, party, iat, usage (a byte a category), trust, revoked.
    /// The table of ids is not written: a reader builds its own (<see cref="ClaimTable"/>).
    /// </summary>
    private void WriteClaims(SnapshotWriter writer)
    {
        var claims = _claims;
        writer.BeginSection("claims");
        writer.WriteArray<ClaimKey>(claims.Keys);
        writer.WriteArray<long>(Column(ClaimCount, claims.Seq));
        writer.WriteArray<int>(Column(ClaimCount, claims.Party));
        writer.WriteArray<long>(Column(ClaimCount, claims.Iat));
        WriteUsage(writer, claims);
        writer.WriteArray<byte>(Column(ClaimCount, claim => claims.Trust(claim).Rank));
        writer.WriteArray<byte>(Column(ClaimCount, claim => (byte)(claims.IsRevoked(claim) ? 1 : 0)));
        writer.EndSection();
    }

    /// <summary>Bytes of the claims' usage column: a byte a category, five a claim; past 429,496,729 claims, more than one array holds.</summary>
    internal static long UsageColumnLength(int claims) => (long)claims * UseCategories.All.Count;

    /// <summary>The usage column, a part of <see cref="UsagePartClaims"/> claims at a time: as one array it would outgrow an array's length.</summary>
    private void WriteUsage(SnapshotWriter writer, ClaimTable claims)
    {
        var categories = UseCategories.All.Count;
        var part = new byte[UsagePartClaims * categories];
        writer.BeginArray<byte>(UsageColumnLength(ClaimCount));
        for (var first = 0; first < ClaimCount; first += UsagePartClaims)
        {
            var partClaims = Math.Min(UsagePartClaims, ClaimCount - first);
            for (var claim = 0; claim < partClaims; claim++)
            {
                var preferences = claims.Usage(first + claim);
                for (var category = 0; category < categories; category++)
                {
                    part[(claim * categories) + category] = (byte)preferences[category];
                }
            }

            writer.WriteArrayPart<byte>(part.AsSpan(0, partClaims * categories));
        }

        writer.EndArray();
    }

    /// <summary>
    /// The usage column as one code a claim (<see cref="ClaimTable.UsageCode"/>), read a part at a
    /// time; <paramref name="inRange"/> says whether every preference was 0, 1 or 2 (a code made
    /// of others means nothing, and must not be used).
    /// </summary>
    private static byte[] ReadUsage(SnapshotReader reader, int count, out bool inRange)
    {
        var categories = UseCategories.All.Count;
        if (reader.BeginArray<byte>(UsageColumnLength(count)) != UsageColumnLength(count))
        {
            throw new SnapshotFormatException("The claim columns are not all as long as the claim count.");
        }

        var codes = GC.AllocateUninitializedArray<byte>(count);
        var part = new byte[UsagePartClaims * categories];
        inRange = true;
        for (var first = 0; first < count; first += UsagePartClaims)
        {
            var partClaims = Math.Min(UsagePartClaims, count - first);
            var preferences = part.AsSpan(0, partClaims * categories);
            reader.ReadArrayPart(preferences);
            inRange &= preferences.IndexOfAnyExceptInRange((byte)Preference.Unset, (byte)Preference.No) < 0;
            for (var claim = 0; claim < partClaims; claim++)
            {
                codes[first + claim] = ClaimTable.UsageCode(preferences.Slice(claim * categories, categories));
            }
        }

        reader.EndArray();
        return codes;
    }

    private void ReadClaims(SnapshotReader reader, int count)
    {
        reader.BeginSection("claims");
        var keys = reader.ReadArray<ClaimKey>(count);
        var seqs = reader.ReadArray<long>(count);
        var parties = reader.ReadArray<int>(count);
        var iats = reader.ReadArray<long>(count);
        var usage = ReadUsage(reader, count, out var usageInRange);
        var trust = reader.ReadArray<byte>(count);
        var revoked = reader.ReadArray<byte>(count);
        if (keys.Length != count || seqs.Length != count || parties.Length != count || iats.Length != count
            || trust.Length != count || revoked.Length != count)
        {
            throw new SnapshotFormatException("The claim columns are not all as long as the claim count.");
        }

        reader.EndSection(); // checked before any value is taken for what it says
        if (!usageInRange
            || trust.AsSpan().IndexOfAnyExceptInRange((byte)0, TrustLevel.Reviewed.Rank) >= 0
            || revoked.AsSpan().IndexOfAnyExceptInRange((byte)0, (byte)1) >= 0)
        {
            throw new SnapshotFormatException("A claim's usage, trust or revoked value is out of range.");
        }

        if (seqs.AsSpan().IndexOfAnyExceptInRange(0, Seq40.Max) >= 0)
        {
            throw new SnapshotFormatException($"A claim's seq is negative or above {Seq40.Max}.");
        }

        _claims = ClaimTable.FromColumns(keys, seqs, parties, iats, usage, trust, revoked);
    }

    private void WritePrefixLengths(SnapshotWriter writer)
    {
        writer.BeginSection("prefix-lengths");
        var entries = _prefixLengths.Entries.ToList();
        writer.WriteArray<UInt128>([.. entries.Select(entry => entry.Authority)]);
        writer.WriteArray<int>([.. entries.Select(entry => entry.Lengths.Length)]);
        writer.WriteArray<int>([.. entries.SelectMany(entry => entry.Lengths)]);
        writer.EndSection();
    }

    private void ReadPrefixLengths(SnapshotReader reader)
    {
        reader.BeginSection("prefix-lengths");
        var keys = reader.ReadArray<UInt128>();
        var counts = reader.ReadArray<int>(keys.Length);
        var lengths = reader.ReadArray<int>();
        reader.EndSection();
        if (counts.Length != keys.Length)
        {
            throw new SnapshotFormatException("The prefix-length lists do not match their keys.");
        }

        _prefixLengths.EnsureCapacity(keys.Length);
        var at = 0;
        for (var key = 0; key < keys.Length; key++)
        {
            if (counts[key] < 0 || counts[key] > lengths.Length - at)
            {
                throw new SnapshotFormatException("The prefix-length lists overrun their lengths.");
            }

            var list = lengths[at..(at + counts[key])];
            if (!IsAscendingUrlLengths(list))
            {
                throw new SnapshotFormatException("A prefix-length list is not of ascending positive lengths.");
            }

            if (!_prefixLengths.TryAdd(keys[key], list))
            {
                throw new SnapshotFormatException("An authority has two prefix-length lists.");
            }

            at += counts[key];
        }
    }

    /// <summary>What lookups rely on: each length cuts a URL (at least 1), shortest first (a longer one ends the walk).</summary>
    private static bool IsAscendingUrlLengths(ReadOnlySpan<int> lengths)
    {
        var last = 0;
        foreach (var length in lengths)
        {
            if (length <= last)
            {
                return false;
            }

            last = length;
        }

        return true;
    }

    /// <summary>Hot keys by kind and key, in their numbering; their views are resolved again from the postings when read.</summary>
    private void WriteHotKeys(SnapshotWriter writer)
    {
        var hot = new (MatchKind By, Key80 Key)[_hotKeys.Count];
        foreach (var (key, number) in _hotKeyNumbers)
        {
            hot[number] = key;
        }

        writer.BeginSection("hot-keys");
        writer.WriteArray<byte>([.. hot.Select(key => (byte)key.By)]);
        writer.WriteArray<ulong>([.. hot.Select(key => key.Key.High)]);
        writer.WriteArray<uint>([.. hot.Select(key => (uint)key.Key.Low)]);
        writer.EndSection();
    }

    private void ReadHotKeys(SnapshotReader reader)
    {
        reader.BeginSection("hot-keys");
        var kinds = reader.ReadArray<byte>();
        var highs = reader.ReadArray<ulong>(kinds.Length);
        var lows = reader.ReadArray<uint>(kinds.Length);
        reader.EndSection();
        if (highs.Length != kinds.Length || lows.Length != kinds.Length)
        {
            throw new SnapshotFormatException("The hot-key columns differ in length.");
        }

        var tables = SubjectTables;
        for (var number = 0; number < kinds.Length; number++)
        {
            var by = (MatchKind)kinds[number];
            var table = Array.FindIndex(tables, candidate => candidate.By == by);
            if (table < 0)
            {
                throw new SnapshotFormatException($"A hot key of kind {kinds[number]} has no key table.");
            }

            if (lows[number] > ushort.MaxValue)
            {
                throw new SnapshotFormatException("A hot key's low word is over 16 bits.");
            }

            var key = new Key80(highs[number], (ushort)lows[number]);
            if (_hotKeyNumbers.ContainsKey((by, key)))
            {
                throw new SnapshotFormatException("A hot key is listed twice.");
            }

            MakeHot(tables[table].Table, key, by);
        }
    }

    private void WriteDerived(SnapshotWriter writer)
    {
        writer.BeginSection("derived");
        writer.WriteArray<int>([.. _derivedSets.Keys]);
        writer.WriteArray<int>([.. _derivedSets.Values.Select(sets => sets.Count)]);
        writer.WriteArray<int>([.. _derivedSets.Values.SelectMany(sets => sets)]);
        writer.WriteArray<int>([.. _derivedSources.Keys]);
        writer.WriteArray<long>([.. _derivedSources.Values.Select(source => source.Seq)]);
        foreach (var source in _derivedSources.Values)
        {
            writer.WriteString(source.Url);
        }

        writer.EndSection();
    }

    private void ReadDerived(SnapshotReader reader)
    {
        reader.BeginSection("derived");
        var claims = reader.ReadArray<int>(ClaimCount);
        var counts = reader.ReadArray<int>(claims.Length);
        var sets = reader.ReadArray<int>(ClaimCount);
        var entries = reader.ReadArray<int>(ClaimCount);
        var seqs = reader.ReadArray<long>(entries.Length);
        var urls = new string[entries.Length];
        for (var entry = 0; entry < entries.Length; entry++)
        {
            urls[entry] = reader.ReadString();
        }

        reader.EndSection();
        if (counts.Length != claims.Length || seqs.Length != entries.Length || counts.Any(count => count < 0) || counts.Sum(count => (long)count) != sets.Length)
        {
            throw new SnapshotFormatException("The derived sets do not match their counts.");
        }

        var at = 0;
        for (var claim = 0; claim < claims.Length; claim++)
        {
            if (!_derivedSets.TryAdd(CheckEntry(claims[claim]), [.. sets.AsSpan(at, counts[claim]).ToArray().Select(CheckEntry)]))
            {
                throw new SnapshotFormatException("A claim's derived sets are listed twice.");
            }

            at += counts[claim];
        }

        for (var entry = 0; entry < entries.Length; entry++)
        {
            if (!_derivedSources.TryAdd(CheckEntry(entries[entry]), new DerivedSource(urls[entry], seqs[entry])))
            {
                throw new SnapshotFormatException("A derived set's source is listed twice.");
            }
        }
    }

    private void WriteEmbeddings(SnapshotWriter writer)
    {
        writer.BeginSection("embeddings");
        writer.WriteInt64(_embeddings.Count);
        foreach (var (model, vectors) in _embeddings)
        {
            writer.WriteString(model);
            vectors.WriteTo(writer);
        }

        writer.EndSection();
    }

    private void ReadEmbeddings(SnapshotReader reader)
    {
        reader.BeginSection("embeddings");
        var models = reader.ReadCount((int)Math.Min(SubjectCount, int.MaxValue));
        var read = new List<(string Name, ClaimedVectors.Rows Rows)>();
        for (var model = 0; model < models; model++)
        {
            read.Add((reader.ReadString(4096), ClaimedVectors.ReadRows(reader)));
        }

        reader.EndSection();
        foreach (var (name, rows) in read)
        {
            if (_embeddings.ContainsKey(name))
            {
                throw new SnapshotFormatException($"The model '{name}' is in the snapshot twice.");
            }

            _embeddings[name] = ClaimedVectors.From(rows, _approximate, ClaimCount);
        }
    }

    /// <summary>Each approximate vector index as its library serialises it, with its layout and the rows it holds.</summary>
    private void WriteVectorIndexes(SnapshotWriter writer)
    {
        writer.BeginSection("vector-indexes");
        var saved = _embeddings.Where(model => model.Value.Approximate is not null).ToList();
        writer.WriteInt64(saved.Count);
        foreach (var (model, vectors) in saved)
        {
            var approximate = vectors.Approximate!;
            writer.WriteString(model);
            writer.WriteString(approximate.Layout);
            writer.WriteInt64(approximate.Count);
            using var bytes = approximate.Save();
            writer.WriteBytes(bytes);
        }

        writer.EndSection();
    }

    /// <summary>
    /// Loads the saved approximate vector indexes that this process's settings would make alike; one
    /// of another layout (the settings changed) is left out and built again from the vectors by the
    /// first write (an index read for lookups only has none: it scans that model exactly). An index
    /// read without approximate search skips them all.
    /// </summary>
    private void ReadVectorIndexes(SnapshotReader reader)
    {
        if (_approximate?.Open is not { } open)
        {
            reader.SkipSection("vector-indexes");
            return;
        }

        reader.BeginSection("vector-indexes");
        var models = reader.ReadCount(_embeddings.Count);
        for (var i = 0; i < models; i++)
        {
            var model = reader.ReadString(4096);
            var layout = reader.ReadString(4096);
            var rows = reader.ReadCount();
            using var bytes = reader.ReadBytes();
            if (!_embeddings.TryGetValue(model, out var vectors) || vectors.Approximate is not null || rows != vectors.Count)
            {
                throw new SnapshotFormatException($"The saved vector index of '{model}' does not match the snapshot's vectors.");
            }

            IApproximateVectors? loaded;
            try
            {
                loaded = open(vectors.Dimensions, layout, bytes);
            }
            catch (Exception e) when (e is InvalidOperationException or InvalidDataException)
            {
                throw new SnapshotFormatException($"The saved vector index of '{model}' could not be loaded: {e.Message}");
            }

            if (loaded is not null && loaded.Count != rows)
            {
                loaded.Dispose();
                throw new SnapshotFormatException($"The saved vector index of '{model}' holds {loaded.Count} rows, not {rows}.");
            }

            if (loaded is not null)
            {
                vectors.Adopt(loaded);
            }
        }

        reader.EndSection();
    }

    private int CheckEntry(int entry) =>
        (uint)entry < (uint)ClaimCount ? entry : throw new SnapshotFormatException($"Entry {entry} is not a claim of the snapshot.");

    private static T[] Column<T>(int count, Func<int, T> select)
    {
        var column = GC.AllocateUninitializedArray<T>(count);
        for (var claim = 0; claim < count; claim++)
        {
            column[claim] = select(claim);
        }

        return column;
    }
}
