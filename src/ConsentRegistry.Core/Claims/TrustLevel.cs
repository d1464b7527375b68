using System.Diagnostics.CodeAnalysis;

namespace ConsentRegistry.Core.Claims;

/// <summary>
/// How much the registry vouches for a claim (DESIGN.md 2): <c>signed</c> &lt; <c>domain</c> &lt;
/// <c>reviewed</c>. Opt-outs count at every level; consents only at the configured minimum or above.
/// A value type rather than an enum so that the store can map it to its wire name in one place
/// (a Dapper type handler: Dapper sends enums as integers whatever handler is registered).
/// </summary>
public readonly record struct TrustLevel : IComparable<TrustLevel>
{
    private readonly byte _rank;

    private TrustLevel(byte rank) => _rank = rank;

    public static TrustLevel Signed { get; } = new(0);

    public static TrustLevel Domain { get; } = new(1);

    public static TrustLevel Reviewed { get; } = new(2);

    /// <summary>0 for signed, 1 for domain, 2 for reviewed: the level as a snapshot file holds it.</summary>
    public byte Rank => _rank;

    /// <summary>The level of <see cref="Rank"/> <paramref name="rank"/>; throws for any other number.</summary>
    public static TrustLevel FromRank(byte rank) =>
        rank <= 2 ? new TrustLevel(rank) : throw new FormatException($"Unknown trust rank {rank}: expected 0 (signed), 1 (domain) or 2 (reviewed).");

    /// <summary>The name used in the API, the configuration and the store.</summary>
    public string ToWire() => _rank switch
    {
        0 => "signed",
        1 => "domain",
        _ => "reviewed",
    };

    public override string ToString() => ToWire();

    public static bool TryParse([NotNullWhen(true)] string? value, out TrustLevel trust)
    {
        (var ok, trust) = value switch
        {
            "signed" => (true, Signed),
            "domain" => (true, Domain),
            "reviewed" => (true, Reviewed),
            _ => (false, Signed),
        };
        return ok;
    }

    /// <summary>Parses a stored or configured name; anything else is a broken invariant, not bad input.</summary>
    public static TrustLevel Parse(string value) =>
        TryParse(value, out var trust) ? trust : throw new FormatException($"Unknown trust level '{value}': expected signed, domain or reviewed.");

    public int CompareTo(TrustLevel other) => _rank.CompareTo(other._rank);

    public static bool operator <(TrustLevel left, TrustLevel right) => left._rank < right._rank;

    public static bool operator >(TrustLevel left, TrustLevel right) => left._rank > right._rank;

    public static bool operator <=(TrustLevel left, TrustLevel right) => left._rank <= right._rank;

    public static bool operator >=(TrustLevel left, TrustLevel right) => left._rank >= right._rank;
}
