namespace ConsentRegistry.Core.Claims;

/// <summary>
/// How much the registry vouches for a claim (DESIGN.md 2). Ordered: a higher value is more trusted.
/// Opt-outs count at every level; consents only at the configured minimum or above.
/// </summary>
public enum TrustLevel
{
    Signed = 0,
    Domain = 1,
    Reviewed = 2,
}

public static class TrustLevels
{
    public static string ToWire(this TrustLevel trust) => trust switch
    {
        TrustLevel.Signed => "signed",
        TrustLevel.Domain => "domain",
        TrustLevel.Reviewed => "reviewed",
        _ => throw new ArgumentOutOfRangeException(nameof(trust)),
    };

    public static bool TryParse(string? value, out TrustLevel trust)
    {
        (var ok, trust) = value switch
        {
            "signed" => (true, TrustLevel.Signed),
            "domain" => (true, TrustLevel.Domain),
            "reviewed" => (true, TrustLevel.Reviewed),
            _ => (false, TrustLevel.Signed),
        };
        return ok;
    }
}
