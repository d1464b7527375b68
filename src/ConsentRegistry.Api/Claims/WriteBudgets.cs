using System.Globalization;
using ConsentRegistry.Api.Auth;
using ConsentRegistry.Api.Errors;
using ConsentRegistry.Api.Hosting;
using ConsentRegistry.Api.Observability;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace ConsentRegistry.Api.Claims;

/// <summary>
/// Charges each claim or revocation to two budgets, its writer's (the API key, else the client
/// address with IPv6 grouped by prefix, also for a bearer token) and its party's (sized by <see cref="PartyStanding"/>), as
/// token buckets of claims and of subjects that refill evenly over an hour. A write that either
/// budget cannot pay for is refused whole with 429, Retry-After and the budget's name; a write the
/// log then does not store (a duplicate) is refunded. Per instance: N replicas behind a balancer
/// let a writer spend up to N budgets (docs/decisions/0008).
/// </summary>
public sealed class WriteBudgets(IOptions<WriteBudgetOptions> options, PartyStanding standing, TimeProvider time, RegistryMetrics metrics)
{
    /// <summary>Buckets are dropped once full again; past this many, a sweep runs on the next reserve or charge.</summary>
    private const int SweepAbove = 50_000;

    private readonly WriteBudgetOptions _options = options.Value;
    private readonly Dictionary<string, TokenBucket> _buckets = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private int _sweepAt = SweepAbove;
    private long _lastSweep;

    /// <summary>The longest a table of more than <see cref="SweepAbove"/> buckets goes without a sweep.</summary>
    private static readonly TimeSpan SweepInterval = TimeSpan.FromMinutes(1);

    /// <summary>Buckets held now (tests).</summary>
    internal int Buckets
    {
        get
        {
            lock (_lock)
            {
                return _buckets.Count;
            }
        }
    }

    /// <summary>
    /// Before a claim is verified: a refusal when its writer's budget (address or key) could not
    /// pay for <paramref name="subjects"/> subjects now, so a spent budget costs the registry no
    /// signature check or canonicalization. Nothing is charged; the party's budget is not looked
    /// at, as an unverified claim's party may be anyone's.
    /// </summary>
    public WriteRefusal? PreCheck(HttpContext context, int subjects)
    {
        if (!_options.Enabled)
        {
            return null;
        }

        var (writerKey, writerBudget, writerName) = Writer(context);
        var now = time.GetTimestamp();
        lock (_lock)
        {
            // Here too, on every write's request thread: claims that fail their checks make buckets
            // (their holds) and are never charged. (Reserve may run on the large claims' niced threads.)
            SweepIfDue(now);
            if (!_buckets.TryGetValue(writerKey, out var writer))
            {
                return null;
            }

            var refusal = writer.Refusal(writerBudget, subjects, now, time, writerName);
            if (refusal is not null)
            {
                metrics.WriteBudgetRefused(refusal.Budget);
            }

            return refusal;
        }
    }

    /// <summary>
    /// Once a claim's subjects are counted and before it is verified: takes what it would cost from
    /// its writer's budget (address or key) and holds it, or a refusal when that budget cannot pay.
    /// Concurrent claims from one writer are paid for one after another here, so those the budget
    /// cannot cover are refused before their signatures and subjects are checked, not after. The
    /// hold goes to <see cref="ChargeAsync"/>, or back with <see cref="WriterHold.Release"/> when the
    /// claim fails its checks.
    /// </summary>
    public (WriteRefusal? Refusal, WriterHold? Hold) Reserve(HttpContext context, int subjects) => Reserve(Writer(context), subjects);

    /// <summary>
    /// <see cref="Reserve(HttpContext, int)"/> for a writer read from its request beforehand: for work
    /// that may still run after its request ended, when the request's context must not be read.
    /// </summary>
    public (WriteRefusal? Refusal, WriterHold? Hold) Reserve(BudgetWriter from, int subjects)
    {
        if (!_options.Enabled)
        {
            return (null, null);
        }

        var (writerKey, writerBudget, writerName) = from;
        var now = time.GetTimestamp();
        lock (_lock)
        {
            var writer = Bucket(writerKey);
            if (writer.Refusal(writerBudget, subjects, now, time, writerName) is { } refusal)
            {
                metrics.WriteBudgetRefused(refusal.Budget);
                return (refusal, null);
            }

            writer.Take(subjects);
            return (null, new WriterHold(this, writerKey, subjects));
        }
    }

    /// <summary>
    /// Charges one write of <paramref name="subjects"/> subjects by <paramref name="party"/>; a
    /// refusal when a budget cannot pay. A <paramref name="hold"/> from <see cref="Reserve"/> is
    /// given back to the writer's budget first, in the same step, so the claim is paid for once.
    /// </summary>
    public async Task<WriteCharge> ChargeAsync(HttpContext context, string party, int subjects, CancellationToken cancellationToken, WriterHold? hold = null)
    {
        if (!_options.Enabled)
        {
            return WriteCharge.Free;
        }

        var (writerKey, writerBudget, writerName) = Writer(context);
        var partyStanding = writerName == "api-key" ? PartyTier.ApiKey : await standing.TierAsync(party, cancellationToken);
        var partyBudget = partyStanding switch
        {
            PartyTier.Verified => _options.VerifiedParty.ToBudget(),
            PartyTier.Established => _options.EstablishedParty.ToBudget(),
            PartyTier.ApiKey => writerBudget, // a key's writes are the key's to budget; see the decision record
            _ => _options.NewParty.ToBudget(),
        };

        var now = time.GetTimestamp();
        lock (_lock)
        {
            SweepIfDue(now);
            var writer = Bucket(writerKey);
            if (hold is not null && hold.TryEnd())
            {
                writer.Give(hold.Subjects);
            }

            // A key's write neither charges its party's budget nor refunds it.
            var ownerKey = partyStanding == PartyTier.ApiKey ? null : "party:" + party;
            var owner = ownerKey is null ? null : Bucket(ownerKey);
            var refusal = writer.Refusal(writerBudget, subjects, now, time, writerName)
                ?? owner?.Refusal(partyBudget, subjects, now, time, "party");
            if (refusal is not null)
            {
                metrics.WriteBudgetRefused(refusal.Budget);
                return new WriteCharge(refusal, null);
            }

            writer.Take(subjects);
            owner?.Take(subjects);
            return new WriteCharge(null, ownerKey is null ? () => Refund(subjects, writerKey) : () => Refund(subjects, writerKey, ownerKey));
        }
    }

    /// <summary>
    /// "key:&lt;id&gt;" for a request with an API key, else its client address's partition. Only an
    /// API key, which an operator issued, writes on a budget of its own: a bearer token writes as
    /// its address, since a multi-tenant registration lets anyone mint principals.
    /// </summary>
    internal static string WriterKey(HttpContext context, int ipv6PrefixLength) =>
        RateLimitRejections.KeyPartition(context) ?? ClientAddress.PartitionKey(context.Connection.RemoteIpAddress, ipv6PrefixLength);

    /// <summary>Whose budget a request's writes come from: its API key's, or its address's.</summary>
    public BudgetWriter Writer(HttpContext context)
    {
        var writerKey = WriterKey(context, _options.Ipv6PrefixLength);
        return context.Items[typeof(ApiKeyInfo)] is ApiKeyInfo key
            ? new(writerKey, key.WriteBudget ?? _options.ApiKey.ToBudget(), "api-key")
            : new(writerKey, _options.Address.ToBudget(), "address");
    }

    private TokenBucket Bucket(string key)
    {
        if (!_buckets.TryGetValue(key, out var bucket))
        {
            bucket = new TokenBucket(time.GetTimestamp());
            _buckets[key] = bucket;
        }

        return bucket;
    }

    internal void ReleaseHold(WriterHold hold) => Refund(hold.Subjects, hold.WriterKey);

    /// <summary>Gives one write of <paramref name="subjects"/> back to each of these buckets that is still held.</summary>
    private void Refund(int subjects, params ReadOnlySpan<string> keys)
    {
        lock (_lock)
        {
            foreach (var key in keys)
            {
                if (_buckets.TryGetValue(key, out var bucket))
                {
                    bucket.Give(subjects);
                }
            }
        }
    }

    /// <summary>
    /// Drops buckets that have refilled completely (they hold nothing a new bucket would not) once
    /// more than <see cref="SweepAbove"/> are held: then when the table has doubled since the last
    /// sweep, or a minute has passed (buckets left refilling by a flood are full an hour later
    /// however few writes come). A sweep on each write would scan them all under the lock.
    /// </summary>
    private void SweepIfDue(long now)
    {
        var count = _buckets.Count;
        if (count <= SweepAbove || (count <= _sweepAt && time.GetElapsedTime(_lastSweep, now) < SweepInterval))
        {
            return;
        }

        _lastSweep = now;

        foreach (var (key, bucket) in _buckets)
        {
            if (bucket.IsFullAt(now, time))
            {
                _buckets.Remove(key);
            }
        }

        _sweepAt = Math.Max(SweepAbove, 2 * _buckets.Count);
    }

    /// <summary>Claims and subjects spent, refilled at budget/hour; kept as "spent" so a new bucket is full whatever its budget.</summary>
    private sealed class TokenBucket(long created)
    {
        private double _claimsSpent;
        private double _subjectsSpent;
        private long _at = created;
        private double _lastClaimsPerHour = 1;
        private double _lastSubjectsPerHour = 1;

        public WriteRefusal? Refusal(WriteBudget budget, int subjects, long now, TimeProvider time, string owner)
        {
            Refill(budget, now, time);
            var claimsShort = _claimsSpent + 1 - budget.ClaimsPerHour;
            var subjectsShort = _subjectsSpent + subjects - budget.SubjectsPerHour;
            if (claimsShort <= 0 && subjectsShort <= 0)
            {
                return null;
            }

            var bySubjects = subjectsShort > 0 && subjectsShort * budget.ClaimsPerHour / budget.SubjectsPerHour >= claimsShort;
            var seconds = Math.Max(
                claimsShort > 0 ? claimsShort * 3600 / budget.ClaimsPerHour : 0,
                subjectsShort > 0 ? subjectsShort * 3600 / budget.SubjectsPerHour : 0);
            return new WriteRefusal(
                bySubjects ? $"{owner}-subjects" : $"{owner}-claims",
                bySubjects ? budget.SubjectsPerHour : budget.ClaimsPerHour,
                bySubjects ? "subjects" : "claims",
                Math.Max(1, (int)Math.Ceiling(seconds)));
        }

        public void Take(int subjects)
        {
            _claimsSpent += 1;
            _subjectsSpent += subjects;
        }

        public void Give(int subjects)
        {
            _claimsSpent = Math.Max(0, _claimsSpent - 1);
            _subjectsSpent = Math.Max(0, _subjectsSpent - subjects);
        }

        public bool IsFullAt(long now, TimeProvider time)
        {
            var hours = time.GetElapsedTime(_at, now).TotalHours;
            return _claimsSpent - (hours * _lastClaimsPerHour) <= 0 && _subjectsSpent - (hours * _lastSubjectsPerHour) <= 0;
        }

        private void Refill(WriteBudget budget, long now, TimeProvider time)
        {
            var hours = Math.Max(0, time.GetElapsedTime(_at, now).TotalHours);
            _claimsSpent = Math.Max(0, _claimsSpent - (hours * budget.ClaimsPerHour));
            _subjectsSpent = Math.Max(0, _subjectsSpent - (hours * budget.SubjectsPerHour));
            _at = now;
            _lastClaimsPerHour = budget.ClaimsPerHour;
            _lastSubjectsPerHour = budget.SubjectsPerHour;
        }
    }
}

/// <summary>Which budget refused a write, its size per hour, and when to try again.</summary>
public sealed record WriteRefusal(string Budget, long PerHour, string Unit, int RetryAfterSeconds)
{
    public ProblemHttpResult ToProblem(HttpContext context)
    {
        context.Response.Headers.RetryAfter = RetryAfterSeconds.ToString(CultureInfo.InvariantCulture);
        // The connection closes after the answer, cleanly (Kestrel reads what is left of the body,
        // so the client surely reads which budget is spent): budget refusals come no faster than
        // the write rate lets requests through, and past that rate ClaimWriteRateLimitPolicy cuts off.
        context.Response.Headers.Connection = "close";
        var who = Budget.StartsWith("party", StringComparison.Ordinal) ? "This party's"
            : Budget.StartsWith("api-key", StringComparison.Ordinal) ? "This API key's" : "This client address's";
        var problem = Problems.Create(StatusCodes.Status429TooManyRequests, ProblemCodes.WriteBudgetExceeded,
            $"{who} write budget of {PerHour:N0} {Unit} an hour is spent; retry after {RetryAfterSeconds:N0} s. "
            + "Platforms registering catalogues can ask the operator for an API key with a larger budget.");
        problem.ProblemDetails.Extensions["budget"] = Budget;
        problem.ProblemDetails.Extensions["retry_after"] = RetryAfterSeconds;
        return problem;
    }
}

/// <summary>A writer's bucket key, its budget and the budget's name in refusals.</summary>
public readonly record struct BudgetWriter(string Key, WriteBudget Budget, string Name);

/// <summary>What <see cref="WriteBudgets.Reserve(BudgetWriter, int)"/> took from a writer's budget for a claim being checked; ended by the charge or by <see cref="Release"/>.</summary>
public sealed class WriterHold
{
    private readonly WriteBudgets _budgets;
    private int _ended;

    internal WriterHold(WriteBudgets budgets, string writerKey, int subjects)
    {
        _budgets = budgets;
        WriterKey = writerKey;
        Subjects = subjects;
    }

    internal string WriterKey { get; }

    internal int Subjects { get; }

    /// <summary>Gives the hold back (the claim failed its checks or its request ended); nothing once charged or released.</summary>
    public void Release()
    {
        if (TryEnd())
        {
            _budgets.ReleaseHold(this);
        }
    }

    /// <summary>True the first time only: a hold is given back once.</summary>
    internal bool TryEnd() => Interlocked.Exchange(ref _ended, 1) == 0;
}

/// <summary>The result of a charge: a refusal, or a way to refund a write the log did not store.</summary>
public sealed record WriteCharge(WriteRefusal? Refusal, Action? Refund)
{
    public static WriteCharge Free { get; } = new(null, null);
}
