using System.Diagnostics.Metrics;
using ConsentRegistry.Api.Observability;

namespace ConsentRegistry.Api.Fingerprints;

/// <summary>
/// The fingerprint worker's instruments (docs/metrics.md), on the registry's meter; every label
/// value is a closed set (outcomes, fetch error codes), never a URL or host.
/// </summary>
public sealed class WorkerMetrics
{
    private static readonly double[] Seconds = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    private readonly Counter<long> _jobs;
    private readonly Histogram<double> _fetch;
    private readonly Histogram<double> _fingerprint;
    private readonly Counter<long> _enqueued;

    public WorkerMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(RegistryMetrics.MeterName);
        _jobs = meter.CreateCounter<long>("registry.worker.jobs", "{job}",
            "Fingerprint jobs finished, by outcome: derived, or the fetch error code (retried or final).");
        _enqueued = meter.CreateCounter<long>("registry.worker.enqueued", "{job}",
            "Fingerprint jobs queued from the log (one per url subject of a claim).");
        _fetch = meter.CreateHistogram("registry.worker.fetch.duration", "s",
            "Time to fetch one claimed image (redirects included), successful or not.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = Seconds });
        _fingerprint = meter.CreateHistogram("registry.worker.fingerprint.duration", "s",
            "Time to decode one fetched image and derive its SHA-256, PDQ and embedding.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = Seconds });
    }

    public void Enqueued(int jobs) => _enqueued.Add(jobs);

    /// <summary><paramref name="outcome"/>: "derived", or a <see cref="FetchErrors"/> code; <paramref name="final"/> for failures not retried.</summary>
    public void JobFinished(string outcome, bool final = false) => _jobs.Add(1,
        new KeyValuePair<string, object?>("outcome", outcome), new KeyValuePair<string, object?>("final", final));

    public void Fetched(TimeSpan took) => _fetch.Record(took.TotalSeconds);

    public void Fingerprinted(TimeSpan took) => _fingerprint.Record(took.TotalSeconds);
}
