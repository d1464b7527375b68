using System.Net;
using System.Net.Sockets;

namespace ConsentRegistry.Api.Hosting;

/// <summary>
/// Which budget a client address draws from in the per-address rate limits. IPv6 clients are counted
/// per /64, the block one subscriber usually holds, so cycling through its addresses buys nothing;
/// IPv4 clients (also IPv4-mapped IPv6, as a dual-stack socket reports them) per address.
/// </summary>
internal static class ClientAddress
{
    /// <summary>"ip:a.b.c.d" for IPv4 (also IPv4-mapped IPv6), "ip6:&lt;first 64 bits&gt;::/64" for IPv6.</summary>
    public static string PartitionKey(IPAddress? address)
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
        bytes[8..].Clear();
        return "ip6:" + new IPAddress(bytes) + "/64";
    }
}
