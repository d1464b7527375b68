using System.Diagnostics.Metrics;
using ConsentRegistry.Api.Observability;

namespace ConsentRegistry.Api.Fingerprints;

/// <summary>
/// The fingerprint worker's instruments, its aligned verifications' included (docs/metrics.md), on the registry's meter; every label
/// value is a closed set (outcomes, fetch error codes), never a URL or host.
/// </summary>
public sealed class WorkerMetrics
{
    private static readonly double[] Seconds = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    private readonly Counter<long> _jobs;
    private readonly Histogram<double> _fetch;
    private readonly Histogram<double> _fingerprint;
    private readonly Counter<long> _enqueued;
    private readonly Counter<long> _checks;
    private readonly Histogram<double> _verify;

    public WorkerMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(RegistryMetrics.MeterName);
        _jobs = meter.CreateCounter<long>("registry.worker.jobs", "{job}",
            "Fingerprint jobs finished, by outcome: derived, or the fetch error code (retried or final).");
        _enqueued = meter.CreateCounter<long>("registry.worker.enqueued", "{job}",
            "Fingerprint jobs queued from the log (one per url subject of a claim), as inserted.");
        _fetch = meter.CreateHistogram("registry.worker.fetch.duration", "s",
            "Time in the requests of one claimed image's fetch (redirects included, waits for a host's turn not), successful or not.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = Seconds });
        _fingerprint = meter.CreateHistogram("registry.worker.fingerprint.duration", "s",
            "Time to decode one fetched image and derive its SHA-256, PDQ and embedding.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = Seconds });
        _checks = meter.CreateCounter<long>("registry.worker.aligned.checks", "{check}",
            "Aligned verifications finished, by outcome: copy, different, or the fetch error code (retried or final).");
        _verify = meter.CreateHistogram("registry.worker.aligned.duration", "s",
            "Time to lay one fetched picture over another and compare them, once both are decoded and their features found.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = Seconds });
    }

    /// <summary>The time one comparison took (fit, overlay, PDQ and correlation), once both pictures were ready.</summary>
    public void AlignedCompared(TimeSpan took) => _verify.Record(took.TotalSeconds);

    /// <summary>
    /// An aligned verification finished: <paramref name="outcome"/> is <c>copy</c> or <c>different</c> (counted once the
    /// store took it), or a <see cref="FetchErrors"/> code for a failed try (<paramref name="final"/> when not retried).
    /// </summary>
    public void AlignedFinished(string outcome, bool final) =>
        _checks.Add(1, new KeyValuePair<string, object?>("outcome", outcome), new KeyValuePair<string, object?>("final", final));

    /// <summary>Jobs a pass inserted: a job already queued (a pass cut short and run again) is not counted twice.</summary>
    public void Enqueued(int jobs) => _enqueued.Add(jobs);

    /// <summary>
    /// Jobs whose fingerprints the store took (<see cref="Storage.FingerprintJobStore.CompleteAsync"/>'s
    /// count), counted once the write has committed: a result dropped there, or lost with a failed
    /// write and fetched again, is not counted.
    /// </summary>
    public void Derived(int jobs) => Add(jobs, "derived", final: false);

    /// <summary>A failed try: <paramref name="outcome"/> is a <see cref="FetchErrors"/> code; <paramref name="final"/> for failures not retried.</summary>
    public void JobFinished(string outcome, bool final = false) => Add(1, outcome, final);

    private void Add(int jobs, string outcome, bool final) => _jobs.Add(jobs,
        new KeyValuePair<string, object?>("outcome", outcome), new KeyValuePair<string, object?>("final", final));

    public void Fetched(TimeSpan took) => _fetch.Record(took.TotalSeconds);

    public void Fingerprinted(TimeSpan took) => _fingerprint.Record(took.TotalSeconds);
}
