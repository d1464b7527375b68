using System.Net;
using System.Net.Sockets;

namespace ConsentRegistry.Api.Hosting;

/// <summary>
/// Which budget a client address draws from in the per-address rate limits and write budgets. IPv6
/// clients are counted per prefix (Registry:WriteBudgets:Ipv6PrefixLength, 64 by default: the
/// block one subscriber usually holds), so cycling through its addresses buys nothing; IPv4
/// clients (also IPv4-mapped IPv6, as a dual-stack socket reports them) per address.
/// </summary>
internal static class ClientAddress
{
    /// <summary>
    /// "ip:a.b.c.d" for IPv4 (also IPv4-mapped IPv6), "ip6:&lt;prefix&gt;/&lt;length&gt;" for IPv6
    /// grouped by its first <paramref name="ipv6PrefixLength"/> bits (1 to 128).
    /// </summary>
    public static string PartitionKey(IPAddress? address, int ipv6PrefixLength)
    {
        if (address is null)
        {
            return "ip:unknown";
        }

        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        if (address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return "ip:" + address;
        }

        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out _);
        var prefix = Math.Clamp(ipv6PrefixLength, 1, 128);
        for (var bit = prefix; bit < 128; bit++)
        {
            bytes[bit / 8] &= (byte)~(0x80 >> (bit % 8));
        }

        return "ip6:" + new IPAddress(bytes) + "/" + prefix;
    }
}
