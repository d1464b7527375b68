using System.Net;

namespace ConsentRegistry.Api.Hosting;

/// <summary>CIDR networks in the configuration (who may scrape /metrics, which proxies are believed).</summary>
internal static class Networks
{
    /// <summary>How to write one, for the messages that refuse a value.</summary>
    public const string Help = "Write the network's first address and its prefix length, e.g. 10.0.0.0/8, 192.168.1.0/24 or fd00::/8 "
        + "(10.0.0.7/8 is refused: it has host bits set); one address alone is 10.0.0.7/32 or 2001:db8::7/128.";

    /// <summary>
    /// Parses one CIDR network strictly: <see cref="IPNetwork.TryParse(string, out IPNetwork)"/>
    /// quietly clears host bits (10.0.0.7/8 becomes all of 10.0.0.0/8), which would open far more
    /// than the operator meant to, so a network written with host bits set is refused here.
    /// </summary>
    public static bool TryParse(string? text, out IPNetwork network)
    {
        network = default;
        if (text is null || !IPNetwork.TryParse(text, out var parsed))
        {
            return false;
        }

        var address = text.AsSpan(0, text.IndexOf('/'));
        if (!IPAddress.TryParse(address, out var written) || !written.Equals(parsed.BaseAddress))
        {
            return false;
        }

        network = parsed;
        return true;
    }
}
