using System.Security.Cryptography;
using ConsentRegistry.Core.Claims;
using ConsentRegistry.Core.Embeddings;
using ConsentRegistry.Core.Matching;
using ConsentRegistry.Core.Pdq;
using ConsentRegistry.Core.Snapshots;
using ConsentRegistry.Core.Urls;

namespace ConsentRegistry.Core.Tests.Matching;

/// <summary>
/// An index read back from a snapshot file answers every kind of lookup exactly as the index that
/// was written, and keeps doing so as both take the same changes after; a file with any byte
/// changed, cut short, or of another format version is refused, never read as an index.
/// </summary>
public sealed class IndexSnapshotTests : IDisposable
{
    private const string Model = "snapshot-test-v1";
    private const int Dimensions = 16;
    private static readonly Guid Store = Guid.Parse("0b5c7f0e-4a7d-4e8a-9d2f-3c1b2a697e11");

    private readonly string _folder = Directory.CreateTempSubdirectory("index-snapshot-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public void A_read_back_index_answers_every_lookup_as_the_written_one_and_still_does_after_the_same_changes()
    {
        var world = new World(seed: 7);
        var written = world.Build(claims: 3_000);
        var path = Write(written, seq: written.AppliedSeq);

        using var reader = new SnapshotReader(path);
        Assert.Equal(new SnapshotHeader(SnapshotHeader.CurrentFormat, Store, written.AppliedSeq, reader.Header.Created), reader.Header);
        var read = MatchingIndex.ReadSnapshot(reader);

        Assert.Equal(written.AppliedSeq, read.AppliedSeq);
        Assert.Equal(written.ClaimCount, read.ClaimCount);
        Assert.Equal(written.SubjectsByKind, read.SubjectsByKind);
        Assert.Equal(written.HotKeyCount, read.HotKeyCount);
        Assert.True(written.HotKeyCount > 0, "the world has hot keys");
        world.AssertSameAnswers(written, read);

        var twin = new World(seed: 7); // the same world, to make the same changes to the read index
        twin.Build(claims: 3_000);
        world.Change(written, claims: 500);
        twin.Change(read, claims: 500);
        world.AssertSameAnswers(written, read);
    }

    [Fact]
    public void An_index_read_for_lookups_only_answers_every_lookup_as_the_full_one_and_refuses_host_lists_changes_and_snapshots()
    {
        var world = new World(seed: 13);
        var written = world.Build(claims: 2_000);
        var path = Write(written, seq: written.AppliedSeq);

        using var reader = new SnapshotReader(path);
        using var read = MatchingIndex.ReadSnapshotForLookups(reader);

        Assert.True(read.LookupsOnly);
        Assert.False(written.LookupsOnly);
        Assert.Equal(written.SubjectsByKind, read.SubjectsByKind);
        world.AssertSameAnswers(written, read, hostLists: false);
        Assert.Throws<InvalidOperationException>(() => read.HostClaims("host1.example", null));
        Assert.Throws<InvalidOperationException>(() => world.Change(read, claims: 1));
        Assert.Throws<InvalidOperationException>(() => read.Revoke(read.Claim(0).Id, read.AppliedSeq + 1));
        Assert.Throws<InvalidOperationException>(() => Write(read, seq: read.AppliedSeq, name: "lookups-only.snap"));
    }

    [Fact]
    public void A_snapshot_of_a_compacted_index_reads_back_and_writes_again_byte_for_byte_past_its_header()
    {
        var world = new World(seed: 11);
        var index = world.Build(claims: 1_500);
        index.Compact();
        var first = Write(index, seq: index.AppliedSeq);

        using (var reader = new SnapshotReader(first))
        {
            var again = Write(MatchingIndex.ReadSnapshot(reader), seq: index.AppliedSeq, name: "again.snap");
            Assert.Equal(File.ReadAllBytes(first)[SnapshotHeader.Size..], File.ReadAllBytes(again)[SnapshotHeader.Size..]);
        }
    }

    [Fact]
    public void Every_single_changed_byte_of_a_snapshot_is_detected()
    {
        var index = new World(seed: 3).Build(claims: 150, hotKeyPostings: 3);
        Assert.True(index.HotKeyCount > 0 && index.DerivedEntryCount > 0, "every section holds something");
        var path = Write(index, seq: index.AppliedSeq);
        var original = File.ReadAllBytes(path);
        var broken = Path.Combine(_folder, "broken.snap");

        for (var at = 0; at < original.Length; at++)
        {
            var bytes = (byte[])original.Clone();
            bytes[at] ^= (byte)(1 << (at % 8));
            File.WriteAllBytes(broken, bytes);
            Assert.Throws<SnapshotFormatException>(() => Read(broken));
        }
    }

    [Fact]
    public void A_snapshot_cut_short_anywhere_or_with_bytes_after_its_end_is_refused()
    {
        var index = new World(seed: 5).Build(claims: 40);
        var original = File.ReadAllBytes(Write(index, seq: index.AppliedSeq));
        var broken = Path.Combine(_folder, "short.snap");

        for (var length = 0; length < original.Length; length += 3)
        {
            File.WriteAllBytes(broken, original[..length]);
            Assert.Throws<SnapshotFormatException>(() => Read(broken));
        }

        File.WriteAllBytes(broken, [.. original, 0, 0, 0, 0, 0, 0, 0, 0]);
        Assert.Throws<SnapshotFormatException>(() => Read(broken));
        File.WriteAllBytes(broken, original);
        Assert.Equal(index.ClaimCount, Read(broken).ClaimCount);
    }

    /// <summary>
    /// Lookups walk an authority's prefix lengths shortest first and cut the URL at each: a list
    /// that is not ascending would skip opt-outs, and a negative length would throw mid-lookup. A
    /// file whose checksums hold (as a crafted one's can) is refused for either.
    /// </summary>
    [Theory]
    [InlineData(new[] { -1, 30 })]
    [InlineData(new[] { 30, 25 })]
    [InlineData(new[] { 25, 25 })]
    public void A_prefix_length_list_that_is_not_ascending_and_positive_is_refused_though_its_checksum_holds(int[] lengths)
    {
        var index = new MatchingIndex();
        index.Add(new IndexedClaim(TestClaimIds.Of("short"), 1, "party", 1_700_000_000, default, TrustLevel.Signed, false,
            [new Subject(SubjectKinds.UrlPrefix, "https://p.example/a/")]));
        index.Add(new IndexedClaim(TestClaimIds.Of("long"), 2, "party", 1_700_000_000, default, TrustLevel.Signed, false,
            [new Subject(SubjectKinds.UrlPrefix, "https://p.example/a/bcdefghij/")]));
        index.MarkApplied(2);
        var path = Write(index, seq: 2);
        var bytes = File.ReadAllBytes(path);

        // The section: its name, padding, payload length, then the keys (count, one UInt128), the counts (count, one int, padding) and the lengths.
        var name = "\u000eprefix-lengths"u8.ToArray();
        var at = bytes.AsSpan().IndexOf(name);
        Assert.True(at > 0);
        var payload = at + ((name.Length + 7) & ~7) + 8;
        var payloadLength = (int)BitConverter.ToInt64(bytes, payload - 8);
        var lengthsAt = payload + 8 + 16 + 8 + 8 + 8;
        Assert.Equal(2, BitConverter.ToInt64(bytes, lengthsAt - 8));
        Assert.Equal([20, 30], [BitConverter.ToInt32(bytes, lengthsAt), BitConverter.ToInt32(bytes, lengthsAt + 4)]);
        Assert.Equal(2, Read(path).SubjectsByKind.UrlPrefix); // the layout is as read above

        BitConverter.TryWriteBytes(bytes.AsSpan(lengthsAt), lengths[0]);
        BitConverter.TryWriteBytes(bytes.AsSpan(lengthsAt + 4), lengths[1]);
        BitConverter.TryWriteBytes(bytes.AsSpan(payload + payloadLength), System.IO.Hashing.XxHash3.HashToUInt64(bytes.AsSpan(payload, payloadLength)));
        File.WriteAllBytes(path, bytes);

        var error = Assert.Throws<SnapshotFormatException>(() => Read(path));
        Assert.Contains("prefix-length", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_snapshot_of_another_format_version_is_refused_naming_both_versions()
    {
        var index = new World(seed: 9).Build(claims: 10);
        var path = Write(index, seq: index.AppliedSeq);
        var bytes = File.ReadAllBytes(path);
        new SnapshotHeader(SnapshotHeader.CurrentFormat + 1, Store, index.AppliedSeq, DateTimeOffset.UnixEpoch).Write(bytes);
        File.WriteAllBytes(path, bytes);

        var error = Assert.Throws<SnapshotFormatException>(() => new SnapshotReader(path));

        Assert.Contains($"version {SnapshotHeader.CurrentFormat + 1}", error.Message);
        Assert.Contains($"version {SnapshotHeader.CurrentFormat}.", error.Message);
    }

    /// <summary>
    /// A start applies the log after the index section's seq, while the header's is the one the
    /// signed manifest vouches for: a section ahead of its header would skip log entries, one behind
    /// it would apply them again. A file whose checksums hold (as a crafted one's can) is refused for
    /// either, read in full or for lookups (the command's filter).
    /// </summary>
    [Theory]
    [InlineData(4_000)]
    [InlineData(-1)]
    [InlineData(long.MinValue)]
    public void An_index_section_at_another_seq_than_its_header_is_refused_though_its_checksum_holds(long sectionSeq)
    {
        var index = new World(seed: 17).Build(claims: 60);
        var path = Write(index, seq: index.AppliedSeq);
        var bytes = File.ReadAllBytes(path);
        Assert.Equal(index.AppliedSeq, CraftedSnapshots.IndexSeq(bytes)); // the layout is as the helper reads it
        Assert.Equal(index.AppliedSeq, Read(path).AppliedSeq);

        CraftedSnapshots.SetIndexSeq(bytes, index.AppliedSeq + sectionSeq);
        File.WriteAllBytes(path, bytes);

        var error = Assert.Throws<SnapshotFormatException>(() => Read(path));
        Assert.Contains($"seq {index.AppliedSeq + sectionSeq}; the header says {index.AppliedSeq}", error.Message, StringComparison.Ordinal);
        using var reader = new SnapshotReader(path);
        Assert.Throws<SnapshotFormatException>(() => MatchingIndex.ReadSnapshotForLookups(reader));
    }

    /// <summary>
    /// A creation time no date holds is a bad header, refused as one (a SnapshotFormatException, which
    /// the service's start discards and the command reports), not an ArgumentOutOfRangeException
    /// that neither reads as a bad file. The first and last millisecond of years 1 to 9999 read back.
    /// </summary>
    [Theory]
    [InlineData(long.MaxValue)]
    [InlineData(long.MinValue)]
    [InlineData(253_402_300_800_000)] // 10000-01-01T00:00:00Z
    [InlineData(-62_135_596_800_001)] // a millisecond before 0001-01-01
    public void A_header_whose_creation_time_no_date_holds_is_refused_though_its_checksum_holds(long created)
    {
        var index = new World(seed: 19).Build(claims: 10);
        var path = Write(index, seq: index.AppliedSeq);
        var bytes = File.ReadAllBytes(path);

        CraftedSnapshots.SetCreated(bytes, created);
        File.WriteAllBytes(path, bytes);

        var error = Assert.Throws<SnapshotFormatException>(() => new SnapshotReader(path));
        Assert.Contains("creation time", error.Message, StringComparison.Ordinal);
        Assert.Throws<SnapshotFormatException>(() => SnapshotHeader.Read(bytes));
        foreach (var edge in new[] { DateTimeOffset.MinValue, DateTimeOffset.MaxValue })
        {
            CraftedSnapshots.SetCreated(bytes, edge.ToUnixTimeMilliseconds());
            Assert.Equal(edge.ToUnixTimeMilliseconds(), SnapshotHeader.Read(bytes).Created.ToUnixTimeMilliseconds());
        }
    }

    [Fact]
    public void A_large_array_read_on_every_core_reads_back_whole_and_a_changed_byte_in_it_is_detected()
    {
        // 24 MiB: past the size from which the reader reads in pieces on every core.
        var values = Enumerable.Range(0, 6 << 20).Select(i => i * 2_654_435_761L).ToArray();
        var path = Path.Combine(_folder, "large.snap");
        using (var writer = new SnapshotWriter(path, new SnapshotHeader(SnapshotHeader.CurrentFormat, Store, 1, DateTimeOffset.UnixEpoch)))
        {
            writer.BeginSection("large");
            writer.WriteArray<long>(values);
            writer.WriteInt64(7);
            writer.EndSection();
            writer.Finish();
        }

        Assert.Equal(values, ReadLarge(path));

        var bytes = File.ReadAllBytes(path);
        bytes[bytes.Length / 2] ^= 0x01;
        File.WriteAllBytes(path, bytes);
        Assert.Throws<SnapshotFormatException>(() => ReadLarge(path));

        static long[] ReadLarge(string path)
        {
            using var reader = new SnapshotReader(path);
            reader.BeginSection("large");
            var read = reader.ReadArray<long>();
            Assert.Equal(7, reader.ReadInt64());
            reader.EndSection();
            reader.ReadEnd();
            return read;
        }
    }

    [Fact]
    public void A_host_table_filled_to_three_quarters_reads_back()
    {
        // 48 hosts fill the first 64-slot table to exactly three quarters, the most it holds before growing.
        var index = new MatchingIndex();
        for (var host = 0; host < 48; host++)
        {
            index.Add(new IndexedClaim(TestClaimIds.Of($"h{host}"), host + 1, "party", 1_700_000_000, default, TrustLevel.Signed, false, [new Subject(SubjectKinds.Host, $"h{host}.example")]));
        }

        var read = Read(Write(index, seq: index.AppliedSeq));

        Assert.Equal(index.HostClaims("h47.example", null), read.HostClaims("h47.example", null));
        Assert.Equal(48, read.HostClaims("h47.example", null));
    }

    [Fact]
    public void No_snapshot_is_taken_while_a_pass_over_the_log_is_half_applied()
    {
        using var shared = new SharedMatchingIndex();
        shared.MarkReady();
        shared.Write(index => index.BeginLogPass());
        Assert.False(shared.TryWriteSnapshot(_ => Assert.Fail("written mid-pass")));

        shared.Write(index => index.EndLogPass(0));
        var written = false;
        Assert.True(shared.TryWriteSnapshot(_ => written = true));
        Assert.True(written);
    }

    [Fact]
    public void No_snapshot_is_taken_of_a_disposed_index()
    {
        var shared = new SharedMatchingIndex();
        shared.MarkReady();
        shared.Dispose();

        Assert.False(shared.TryWriteSnapshot(_ => Assert.Fail("written after the index was disposed")));
    }

    /// <summary>
    /// The index section holds the subject count as an i64: a registry past 2^31 - 1 subjects
    /// writes it as it is, and it reads back (an int count wrapped negative, which every reader
    /// refused). A negative count, in all or of a kind, is refused.
    /// </summary>
    [Fact]
    public void A_subject_count_past_int_range_reads_back_and_a_negative_one_is_refused()
    {
        var index = new World(seed: 23).Build(claims: 20);
        var path = Write(index, seq: index.AppliedSeq);
        var bytes = File.ReadAllBytes(path);
        Assert.Equal(index.SubjectCount, CraftedSnapshots.IndexSubjectCount(bytes)); // the layout is as the helper reads it
        Assert.Equal(index.SubjectsByKind.Url, CraftedSnapshots.IndexSubjectsOfKind(bytes, 0));
        Assert.Equal(index.SubjectsByKind.Pdq, CraftedSnapshots.IndexSubjectsOfKind(bytes, 4));

        CraftedSnapshots.SetIndexSubjects(bytes, 3_000_000_000);
        File.WriteAllBytes(path, bytes);
        Assert.Equal(3_000_000_000L, Read(path).SubjectCount);

        CraftedSnapshots.SetIndexSubjects(bytes, -1);
        File.WriteAllBytes(path, bytes);
        Assert.Throws<SnapshotFormatException>(() => Read(path));

        CraftedSnapshots.SetIndexSubjects(bytes, index.SubjectCount);
        CraftedSnapshots.SetIndexSubjectsOfKind(bytes, 0, int.MinValue);
        File.WriteAllBytes(path, bytes);
        Assert.Throws<SnapshotFormatException>(() => Read(path));
    }

    private string Write(MatchingIndex index, long seq, string name = "index.snap")
    {
        var path = Path.Combine(_folder, name);
        using var writer = new SnapshotWriter(path, new SnapshotHeader(SnapshotHeader.CurrentFormat, Store, seq, DateTimeOffset.UtcNow));
        index.WriteSnapshot(writer);
        writer.Finish();
        return path;
    }

    private static MatchingIndex Read(string path)
    {
        using var reader = new SnapshotReader(path);
        return MatchingIndex.ReadSnapshot(reader);
    }

    /// <summary>
    /// Claims over a small universe, so that keys collide, hosts are shared and some keys turn hot:
    /// URLs, prefixes, hosts with and without subdomains, SHA-256, PDQ (near copies too) and
    /// embeddings, with derived sets, revocations and trust changes among them.
    /// </summary>
    private sealed class World(int seed)
    {
        private readonly Random _random = new(seed);
        private readonly List<string> _ids = [];
        private readonly List<PdqHash> _pdq = [];
        private readonly List<float[]> _vectors = [];
        private long _seq;
        private bool _derivedMatched;

        private static readonly string[] Hosts = [.. Enumerable.Range(0, 30).Select(i => $"host{i}.example"), "popular.example"];

        /// <param name="hotKeyPostings">When a key turns hot: low in small worlds, so that they have hot keys too.</param>
        public MatchingIndex Build(int claims, int hotKeyPostings = 32)
        {
            var index = new MatchingIndex(hotKeyPostings);
            Change(index, claims);
            return index;
        }

        /// <summary>Adds claims and applies derived sets, revocations and trust changes among them; the same calls give the same changes.</summary>
        public void Change(MatchingIndex index, int claims)
        {
            for (var i = 0; i < claims; i++)
            {
                var roll = _random.Next(100);
                if (roll < 5 && _ids.Count > 0)
                {
                    index.Revoke(_ids[_random.Next(_ids.Count)], ++_seq);
                }
                else if (roll < 10 && _ids.Count > 0)
                {
                    index.SetTrust(_ids[_random.Next(_ids.Count)], TrustLevel.FromRank((byte)_random.Next(3)), ++_seq);
                }
                else if (roll < 14 && _ids.Count > 0)
                {
                    var url = $"https://{Hosts[_random.Next(Hosts.Length)]}/derived/{_random.Next(20)}.jpg";
                    index.AddDerived(new DerivedFingerprints(_ids[_random.Next(_ids.Count)], url, ++_seq, [Sha256(), Pdq()]));
                }
                else
                {
                    var id = Convert.ToHexStringLower(RandomBytes(32));
                    _ids.Add(id);
                    var usage = new Usage(Preference(), Preference(), Preference(), Preference(), Preference());
                    var subjects = Enumerable.Range(0, 1 + _random.Next(6)).Select(_ => Subject()).ToList();
                    index.Add(new IndexedClaim(id, ++_seq, $"party{_random.Next(40)}", 1_700_000_000 + _random.Next(1_000_000), usage, TrustLevel.FromRank((byte)_random.Next(3)), false, subjects));
                }
            }
        }

        public void AssertSameAnswers(MatchingIndex expected, MatchingIndex actual, bool hostLists = true)
        {
            var checkedItems = 0;
            foreach (var (url, sha256, pdq, embeddings) in Queries())
            {
                foreach (var trust in new[] { TrustLevel.Signed, TrustLevel.Domain })
                {
                    var (wanted, wantedMatches, wantedMore) = Lookup(expected, url, sha256, pdq, embeddings, trust);
                    var (got, gotMatches, gotMore) = Lookup(actual, url, sha256, pdq, embeddings, trust);
                    Assert.Equal(wanted, got);
                    Assert.Equal(wantedMore, gotMore);
                    Assert.Equal(wantedMatches, gotMatches);
                    _derivedMatched |= wantedMatches.Any(match => match.DerivedFrom is not null);
                    checkedItems++;
                }
            }

            foreach (var host in hostLists ? Hosts.Concat(Hosts.Select(host => $"sub.{host}")) : [])
            {
                var wanted = new List<ClaimEntry>();
                var got = new List<ClaimEntry>();
                Assert.Equal(expected.HostClaims(host, wanted), actual.HostClaims(host, got));
                Assert.Equal(wanted, got);
            }

            foreach (var id in _ids)
            {
                Assert.True(expected.TryFindClaim(id, out var claim));
                Assert.True(actual.TryFindClaim(id, out var found));
                Assert.Equal(claim, found);
                Assert.Equal(expected.PartyName(expected.Claim(claim).Party), actual.PartyName(actual.Claim(found).Party));
                Assert.Equal(expected.DerivedFrom(claim), actual.DerivedFrom(found));
            }

            Assert.True(checkedItems > 1_000);
            Assert.True(_derivedMatched, "some lookups matched a derived set");
        }

        /// <summary>A lookup's answer, each match named by its claim id and, for a derived set, the URL it came from.</summary>
        private static (Decision Decision, List<(string Id, string? DerivedFrom, MatchKind By, int Distance, float Similarity)> Matches, int More) Lookup(
            MatchingIndex index, CanonicalUrl? url, string? sha256, PdqHash? pdq, EmbeddingQuery? embeddings, TrustLevel trust)
        {
            var matches = new List<Match>();
            var decision = index.Lookup(url, sha256, trust, matches, out var more, pdq, 31, embeddings);
            return (decision, [.. matches.Select(m => (index.Claim(m.Claim).Id, index.DerivedFrom(m.Claim), m.By, m.Distance, m.Similarity))], more);
        }

        private IEnumerable<(CanonicalUrl? Url, string? Sha256, PdqHash? Pdq, EmbeddingQuery? Embeddings)> Queries()
        {
            var probe = new Random(seed + 1);
            for (var i = 0; i < 400; i++)
            {
                var host = Hosts[probe.Next(Hosts.Length)];
                var url = probe.Next(4) switch
                {
                    0 => $"https://{host}/works/{probe.Next(40)}.jpg",
                    1 => $"https://{host}/gallery/{probe.Next(8)}/piece.png",
                    2 => $"https://sub.{host}/works/{probe.Next(40)}.jpg",
                    _ => $"https://{host}/derived/{probe.Next(20)}.jpg",
                };
                Assert.True(UrlCanonicalizer.TryCanonicalize(url, out var canonical, out _));
                yield return (canonical, null, null, null);
            }

            foreach (var hash in _pdq.Take(300))
            {
                yield return (null, null, Near(hash, probe.Next(40), probe), null);
            }

            for (var i = 0; i < 200; i++)
            {
                yield return (null, Convert.ToHexStringLower(SHA256.HashData([(byte)probe.Next(64)])), null, null);
            }

            foreach (var vector in _vectors.Take(100))
            {
                yield return (null, null, null, new EmbeddingQuery(Model, [vector], 0.9f));
            }
        }

        private Subject Subject() => _random.Next(7) switch
        {
            0 => new Subject(SubjectKinds.UrlPrefix, $"https://{Hosts[_random.Next(Hosts.Length)]}/gallery/{_random.Next(8)}/"),
            1 => new Subject(SubjectKinds.Host, _random.Next(4) == 0 ? "popular.example" : Hosts[_random.Next(Hosts.Length)], _random.Next(2) == 0),
            2 => Sha256(),
            3 => Pdq(),
            4 => Embedding(),
            _ => new Subject(SubjectKinds.Url, $"https://{Hosts[_random.Next(Hosts.Length)]}/works/{_random.Next(40)}.jpg"),
        };

        private Subject Sha256() => new(SubjectKinds.Sha256, Convert.ToHexStringLower(SHA256.HashData([(byte)_random.Next(64)])));

        private Subject Pdq()
        {
            var hash = _pdq.Count > 0 && _random.Next(3) == 0
                ? Near(_pdq[_random.Next(_pdq.Count)], _random.Next(20), _random)
                : new PdqHash((ulong)_random.NextInt64(), (ulong)_random.NextInt64(), (ulong)_random.NextInt64(), (ulong)_random.NextInt64());
            _pdq.Add(hash);
            return new Subject(SubjectKinds.Pdq, hash.ToHex());
        }

        private Subject Embedding()
        {
            var vector = Enumerable.Range(0, Dimensions).Select(_ => (float)(_random.NextDouble() - 0.5)).ToArray();
            var length = MathF.Sqrt(vector.Sum(v => v * v));
            vector = [.. vector.Select(v => v / length)];
            _vectors.Add(vector);
            return new Subject(SubjectKinds.Embedding, $"{Model} {EmbeddingVector.Encode(vector)}");
        }

        private static PdqHash Near(PdqHash hash, int flips, Random random)
        {
            Span<ulong> parts = [hash.GetPart(0), hash.GetPart(1), hash.GetPart(2), hash.GetPart(3)];
            for (var flip = 0; flip < flips; flip++)
            {
                var bit = random.Next(256);
                parts[bit >> 6] ^= 1UL << (bit & 63);
            }

            return new PdqHash(parts[0], parts[1], parts[2], parts[3]);
        }

        private Preference Preference() => (Preference)_random.Next(3);

        private byte[] RandomBytes(int count)
        {
            var bytes = new byte[count];
            _random.NextBytes(bytes);
            return bytes;
        }
    }
}
