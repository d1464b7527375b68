using System.Diagnostics.Metrics;
using ConsentRegistry.Imaging;
using ConsentRegistry.Api.Lookup;
using ConsentRegistry.Api.Matching;
using ConsentRegistry.Core.Claims;
using ConsentRegistry.Core.Matching;
using Microsoft.AspNetCore.Mvc;

namespace ConsentRegistry.Api.Observability;

/// <summary>
/// The registry's own instruments (meter <see cref="MeterName"/>), one named method per event so
/// that a call site is one line. Every label value comes from a closed set in the code (problem
/// codes, route templates, subject kinds, policy names): never a key, URL, host or party id.
/// docs/metrics.md lists the series as Prometheus shows them.
/// </summary>
public sealed class RegistryMetrics
{
    public const string MeterName = "ConsentRegistry";

    /// <summary>Bucket bounds for PDQ searches: 10 µs to 1 s (the default bounds are for milliseconds).</summary>
    private static readonly double[] SearchSeconds =
        [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];

    private readonly Counter<long> _claimsAccepted;
    private readonly Counter<long> _claimsRefused;
    private readonly Counter<long> _subjectsAccepted;
    private readonly Counter<long> _lookupItems;
    private readonly Histogram<double> _pdqSearch;
    private readonly Counter<long> _imageDecodes;
    private readonly Counter<long> _domainVerifications;
    private readonly Counter<long> _rateLimitRejections;
    private readonly Counter<long> _policyRenders;
    private readonly Counter<long> _writeBudgetRefusals;
    private readonly Counter<long> _policyStale;
    private readonly Histogram<double> _embedding;

    public RegistryMetrics(IMeterFactory meters, SharedMatchingIndex index, IndexUpdater updater, ImageHashingGate images)
    {
        var meter = meters.Create(MeterName);
        _claimsAccepted = meter.CreateCounter<long>("registry.claims.accepted", "{claim}",
            "Claims stored (answered 201); a resubmission of a stored claim is not counted again.");
        _claimsRefused = meter.CreateCounter<long>("registry.claims.refused", "{claim}",
            "Claim submissions refused, by reason: the problem code of the answer.");
        _subjectsAccepted = meter.CreateCounter<long>("registry.subjects.accepted", "{subject}",
            "Subjects of the claims stored.");
        _lookupItems = meter.CreateCounter<long>("registry.lookup.items", "{item}",
            "Items looked up, by endpoint and outcome: matched (a claim matched), unmatched, error (the item was invalid).");
        _pdqSearch = meter.CreateHistogram("registry.pdq.search.duration", "s",
            "Time to resolve one lookup item with a PDQ hash, its Hamming-radius search included.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = SearchSeconds });
        _imageDecodes = meter.CreateCounter<long>("registry.images.decodes", "{image}",
            "Images POST /v1/images set out to decode, by outcome: hashed, busy (no decoder free in time) or the problem code.");
        _domainVerifications = meter.CreateCounter<long>("registry.domain.verifications", "{verification}",
            "Domain verification requests that fetched the host's document, by result: verified or the failure code.");
        _rateLimitRejections = meter.CreateCounter<long>("registry.rate_limit.rejections", "{request}",
            "Requests refused with 429, by rate-limit policy.");
        _writeBudgetRefusals = meter.CreateCounter<long>("registry.write_budget.refusals", "{request}",
            "Claims and revocations refused because a write budget was spent, by budget (address-, api-key- or party-, then claims or subjects).");
        _policyStale = meter.CreateCounter<long>("registry.policy.stale_served", "{document}",
            "Crawler documents served from an earlier rendering while a newer one waits for the host's render interval or is being rendered, by document.");
        _embedding = meter.CreateHistogram("registry.images.embedding.duration", "s",
            "Time to embed one image (input scaling and inference), by model and execution provider (cpu or cuda); the first includes loading the model.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5] });
        _policyRenders = meter.CreateCounter<long>("registry.policy.renders", "{document}",
            "Crawler documents rendered, by document (robots.txt, tdmrep.json) and source: store (a claimed host, then cached) or unclaimed (no claims, nothing read or cached).");

        // Observed on each collection: a lock-free read or one short read lock of the index, no walk over entries.
        meter.CreateObservableGauge("registry.log.seq", () => LogSeq(updater, index), "{seq}",
            "The last seq this instance knows to be committed: its own last commit, or the index's seq if that is later.");
        meter.CreateObservableGauge("registry.index.seq", () => index.AppliedSeq, "{seq}",
            "The last seq the matching index reflects.");
        meter.CreateObservableGauge("registry.index.lag", () => LogSeq(updater, index) - index.AppliedSeq, "{entry}",
            "Log entries committed by this instance that the matching index does not reflect yet.");
        meter.CreateObservableGauge("registry.index.last_update.age", () => updater.SinceLastPass.TotalSeconds, "s",
            "Seconds since the last successful pass of the matching index over the log (one runs every 250 ms); the build counts as one.");
        meter.CreateObservableGauge("registry.index.ready", () => index.IsReady ? 1 : 0, null,
            "1 once the matching index is built from the store and lookups are served, else 0.");
        meter.CreateObservableGauge("registry.index.claims", () => index.Measure().Claims, "{claim}",
            "Claims in the matching index, revoked ones included.");
        meter.CreateObservableGauge("registry.index.subjects", () => SubjectsByKind(index), "{subject}",
            "Subjects in the matching index, by kind; revoked claims' subjects included.");
        meter.CreateObservableGauge("registry.index.memory", () => index.Measure().Bytes, "By",
            "Estimated bytes the matching index holds (its arrays and tables, growth slack included).");
        meter.CreateObservableGauge("registry.images.decode.queue", () => images.Waiting, "{request}",
            "Image uploads waiting for a decoder now.");
        meter.CreateObservableGauge("registry.images.decode.active", () => images.Decoding, "{image}",
            "Images being decoded now (at most one per processor core).");
    }

    public void ClaimAccepted(int subjects)
    {
        _claimsAccepted.Add(1);
        _subjectsAccepted.Add(subjects);
    }

    public void ClaimRefused(string code) => _claimsRefused.Add(1, new KeyValuePair<string, object?>("reason", code));

    /// <summary>Counts a refusal by the problem's <c>code</c>.</summary>
    public void ClaimRefused(ProblemDetails problem) => ClaimRefused(CodeOf(problem));

    /// <summary>Adds what one request (or one chunk of a stream) resolved; <paramref name="endpoint"/> is one of <see cref="LookupEndpointNames"/>.</summary>
    public void LookupItems(string endpoint, LookupTally tally)
    {
        var at = new KeyValuePair<string, object?>("endpoint", endpoint);
        if (tally.Matched > 0)
        {
            _lookupItems.Add(tally.Matched, at, new KeyValuePair<string, object?>("outcome", "matched"));
        }

        if (tally.Unmatched > 0)
        {
            _lookupItems.Add(tally.Unmatched, at, new KeyValuePair<string, object?>("outcome", "unmatched"));
        }

        if (tally.Errors > 0)
        {
            _lookupItems.Add(tally.Errors, at, new KeyValuePair<string, object?>("outcome", "error"));
        }
    }

    public void PdqSearched(TimeSpan elapsed) => _pdqSearch.Record(elapsed.TotalSeconds);

    /// <summary><paramref name="outcome"/>: "hashed", "busy" or the problem code of a refused image.</summary>
    public void ImageEmbedded(string model, string provider, TimeSpan took) => _embedding.Record(took.TotalSeconds,
        new KeyValuePair<string, object?>("model", model), new KeyValuePair<string, object?>("provider", provider));

    public void ImageDecoded(string outcome) => _imageDecodes.Add(1, new KeyValuePair<string, object?>("outcome", outcome));

    /// <summary><paramref name="result"/>: "verified" or the verification failure code.</summary>
    public void DomainVerified(string result) => _domainVerifications.Add(1, new KeyValuePair<string, object?>("result", result));

    /// <summary><paramref name="document"/>: robots.txt or tdmrep.json; <paramref name="fromStore"/>: a claimed host's render (read from the store, then cached).</summary>
    public void PolicyRendered(string document, bool fromStore) =>
        _policyRenders.Add(1, new KeyValuePair<string, object?>("document", document), new KeyValuePair<string, object?>("source", fromStore ? "store" : "unclaimed"));

    public void PolicyServedStale(string document) => _policyStale.Add(1, new KeyValuePair<string, object?>("document", document));

    public void WriteBudgetRefused(string budget) => _writeBudgetRefusals.Add(1, new KeyValuePair<string, object?>("budget", budget));

    public void RateLimitRejected(string policy) => _rateLimitRejections.Add(1, new KeyValuePair<string, object?>("policy", policy));

    internal static string CodeOf(ProblemDetails problem) =>
        problem.Extensions.TryGetValue("code", out var code) && code is string text ? text : "unknown";

    private static long LogSeq(IndexUpdater updater, SharedMatchingIndex index) => Math.Max(updater.LastCommittedSeq, index.AppliedSeq);

    private static IEnumerable<Measurement<long>> SubjectsByKind(SharedMatchingIndex index)
    {
        var subjects = index.Measure().Subjects;
        foreach (var kind in SubjectKinds.All)
        {
            yield return new Measurement<long>(subjects.Of(kind), new KeyValuePair<string, object?>("kind", kind));
        }
    }
}

/// <summary>The <c>endpoint</c> label of <c>registry.lookup.items</c>: the route templates, nothing from the request.</summary>
public static class LookupEndpointNames
{
    public const string Batch = "/v1/lookup";
    public const string Stream = "/v1/lookup/stream";
    public const string Spawning = "/api/v2/query/urls";
    public const string Policy = "/v1/policy";
}
