using BenchmarkDotNet.Attributes;
using ConsentRegistry.Core.Claims;
using ConsentRegistry.Core.Policy;

namespace ConsentRegistry.Benchmarks;

/// <summary>
/// Rendering one host's crawler documents: resolving the claims' subjects into rules,
/// then robots.txt (merging its Content-Usage lines to stay under 500 KiB) and tdmrep.json, for a
/// host with 10,000 opted-out url-prefixes in one claim, and in 10,000 claims of 1,000 parties.
/// The store read is not included (GET robots.txt with a cold cache adds it; docs/benchmarks.md).
/// </summary>
[MemoryDiagnoser]
public class PolicyBenchmarks
{
    private const string Host = "gallery.example";

    private PolicyClaim[] _claims = [];

    [Params(1, 10_000)]
    public int Claims { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var usage = new Usage(Preference.Unset, Preference.No, Preference.Unset, Preference.Unset, Preference.Unset).WithHierarchyApplied();
        var subjects = Enumerable.Range(0, 10_000).Select(i => new Subject(SubjectKinds.UrlPrefix, $"https://{Host}/artists/{i}/")).ToArray();
        _claims = subjects.Chunk(10_000 / Claims)
            .Select((chunk, i) => new PolicyClaim(i % 1_000, 1_800_000_000, i + 1, usage, false, null, chunk))
            .ToArray();
    }

    [Benchmark]
    public int RenderBoth()
    {
        var rules = HostPolicy.Resolve(Host, _claims);
        return RobotsTxt.Render(Host, 1, rules).Length + TdmRep.Render(rules).Length;
    }
}
