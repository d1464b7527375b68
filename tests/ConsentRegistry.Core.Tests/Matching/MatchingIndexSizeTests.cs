using ConsentRegistry.Core.Claims;
using ConsentRegistry.Core.Matching;
using ConsentRegistry.Core.Pdq;

namespace ConsentRegistry.Core.Tests.Matching;

/// <summary>The sizes /metrics reports: subjects by kind, and a memory estimate that must track the real thing.</summary>
[Collection(MemoryMeasurements.Name)]
public sealed class MatchingIndexSizeTests
{
    private static readonly Usage No = new(Preference.No, Preference.Unset, Preference.Unset, Preference.Unset, Preference.Unset);

    [Fact]
    public void Subjects_are_counted_by_kind_once_per_claim_and_a_revocation_does_not_uncount_them()
    {
        var index = new MatchingIndex();
        var first = Claim("a", 1,
            new Subject(SubjectKinds.Url, "https://artist.example/1.jpg"),
            new Subject(SubjectKinds.Url, "https://artist.example/2.jpg"),
            new Subject(SubjectKinds.UrlPrefix, "https://artist.example/gallery/"),
            new Subject(SubjectKinds.Host, "artist.example", true));
        index.Add(first);
        index.Add(first); // a claim seen twice (a restarted tail) is indexed once
        index.Add(Claim("b", 2,
            new Subject(SubjectKinds.Sha256, new string('a', 64)),
            new Subject(SubjectKinds.Pdq, new string('f', 64)),
            new Subject(SubjectKinds.Pdq, new string('0', 63) + "1")));
        index.Revoke(TestClaimIds.Of("a"), 3);

        Assert.Equal(new SubjectCounts(Url: 2, UrlPrefix: 1, Host: 1, Sha256: 1, Pdq: 2), index.SubjectsByKind);
        Assert.Equal(index.SubjectCount, SubjectKinds.All.Sum(kind => index.SubjectsByKind.Of(kind)));
        Assert.Equal(0, index.SubjectsByKind.Of("isbn"));
    }

    [Fact]
    public void The_shared_index_reports_claims_subjects_and_bytes_in_one_read()
    {
        using var shared = new SharedMatchingIndex();
        var empty = shared.Measure();
        shared.Write(index => index.Add(Claim("a", 1, new Subject(SubjectKinds.Url, "https://artist.example/1.jpg"))));

        var size = shared.Measure();

        Assert.Equal(1, size.Claims);
        Assert.Equal(1, size.Subjects.Url);
        Assert.True(size.Bytes > empty.Bytes, $"{size.Bytes} bytes after a claim, {empty.Bytes} before");
    }

    [Fact]
    public void The_byte_estimate_is_within_a_fifth_of_what_the_index_really_holds()
    {
        // Inputs are made before the first measurement; only what the index keeps (its tables,
        // arrays, PDQ segments and the claim ids) is made between the two. The heap also moves by a
        // megabyte or two between the readings for reasons of the runtime's own (9.9, 8.8 and 6.9 MB
        // measured for one 20,000-claim index), so the index is large enough (~43 MB) for that to stay small.
        const int Claims = 100_000;
        var inputs = new Subject[Claims][];
        var random = new Random(7);
        Span<byte> pdq = stackalloc byte[32];
        for (var i = 0; i < Claims; i++)
        {
            var subjects = new Subject[8];
            for (var s = 0; s < 4; s++)
            {
                subjects[s] = new Subject(SubjectKinds.Url, $"https://host{i % 500}.example/{i}/{s}.jpg");
            }

            subjects[4] = new Subject(SubjectKinds.Sha256, Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(BitConverter.GetBytes(i))));
            subjects[5] = new Subject(SubjectKinds.UrlPrefix, $"https://host{i % 500}.example/{i}/");
            random.NextBytes(pdq);
            subjects[6] = new Subject(SubjectKinds.Pdq, Convert.ToHexStringLower(pdq));
            subjects[7] = new Subject(SubjectKinds.Host, $"h{i}.example");
            inputs[i] = subjects;
        }

        var before = GC.GetTotalMemory(forceFullCollection: true);
        var index = new MatchingIndex();
        for (var i = 0; i < Claims; i++)
        {
            index.Add(Claim(i.ToString("x64"), i + 1, inputs[i]));
        }

        var held = GC.GetTotalMemory(forceFullCollection: true) - before;
        var estimate = index.EstimatedBytes;
        GC.KeepAlive(index);
        GC.KeepAlive(inputs);

        Assert.Equal(Claims * 8, index.SubjectCount);
        Assert.True(estimate >= held * 0.8 && estimate <= held * 1.2, $"estimated {estimate:N0} bytes; the index holds {held:N0}");
    }

    private static IndexedClaim Claim(string id, long seq, params Subject[] subjects) =>
        new(TestClaimIds.Of(id), seq, "party-of-" + (seq % 7), 1_800_000_000, No, TrustLevel.Signed, false, subjects);
}

/// <summary>Tests that read the process's memory run alone: other tests' allocations would blur them.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MemoryMeasurements
{
    public const string Name = "Memory measurements";
}
