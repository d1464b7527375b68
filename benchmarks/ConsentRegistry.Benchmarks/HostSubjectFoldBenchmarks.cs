using BenchmarkDotNet.Attributes;
using ConsentRegistry.Api.Policy;
using ConsentRegistry.Core.Claims;

namespace ConsentRegistry.Benchmarks;

/// <summary>
/// Folding a host's subjects for a policy render at the default limit (100,000 entries): 100,001
/// one-segment URLs, which cannot fit uncut, beside one URL of <see cref="Segments"/> path
/// segments. The fold must cut them all to the host's root; how long that takes should not grow
/// with the deepest subject.
/// </summary>
[MemoryDiagnoser]
public class HostSubjectFoldBenchmarks
{
    private const string Host = "deep.example";
    private static readonly Usage TrainAiNo = new(Preference.Unset, Preference.No, Preference.Unset, Preference.Unset, Preference.Unset);

    private string[] _urls = [];

    [Params(10, 3_000)]
    public int Segments { get; set; }

    [GlobalSetup]
    public void Setup() =>
        _urls = [$"https://{Host}/{string.Concat(Enumerable.Repeat("a/", Segments))}z.jpg", .. Enumerable.Range(0, 100_001).Select(i => $"https://{Host}/img{i}.jpg")];

    [Benchmark]
    public int Fold()
    {
        var fold = new HostSubjectFold(Host);
        for (var i = 0; i < _urls.Length; i++)
        {
            fold.Add(new HostSubjectFold.Claim(1, 1_700_000_000 + i, i + 1, TrainAiNo, CountsGrants: true, Policy: null), SubjectKinds.Url, _urls[i], includeSubdomains: false);
        }

        return fold.PeakEntries;
    }
}
