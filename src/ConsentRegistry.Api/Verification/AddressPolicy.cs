using System.Net;
using System.Net.Sockets;

namespace ConsentRegistry.Api.Verification;

/// <summary>Why an address is not on the public internet; <see cref="Public"/> when it is.</summary>
public enum AddressKind
{
    Public,
    Unspecified,
    Loopback,
    Private,
    CarrierGradeNat,
    LinkLocal,
    Multicast,
    Broadcast,
    CloudMetadata,
    Reserved,
}

/// <summary>
/// Classifies the addresses an outgoing fetch may connect to (DESIGN.md 7). IPv6 forms that
/// carry an IPv4 address (mapped, compatible, NAT64, 6to4) are judged by that IPv4 address, so
/// <c>::ffff:127.0.0.1</c> is loopback. Anything not known to be global unicast is refused.
/// </summary>
public static class AddressPolicy
{
    // Azure's host endpoint sits in public space but answers only inside the cloud.
    private static readonly IPAddress AzureWireServer = IPAddress.Parse("168.63.129.16");

    private static readonly IPAddress AwsMetadataV6 = IPAddress.Parse("fd00:ec2::254");

    public static bool IsPublic(IPAddress address) => Classify(address) == AddressKind.Public;

    public static AddressKind Classify(IPAddress address) => address.AddressFamily switch
    {
        AddressFamily.InterNetwork => ClassifyV4(V4Bits(address)),
        AddressFamily.InterNetworkV6 => ClassifyV6(address),
        _ => AddressKind.Reserved,
    };

    private static uint V4Bits(IPAddress address)
    {
        Span<byte> bytes = stackalloc byte[4];
        address.TryWriteBytes(bytes, out _);
        return (uint)bytes[0] << 24 | (uint)bytes[1] << 16 | (uint)bytes[2] << 8 | bytes[3];
    }

    private static AddressKind ClassifyV4(uint ip)
    {
        if (ip == 0xA9FEA9FE || ip == 0x646464C8 || ip == V4Bits(AzureWireServer))
        {
            return AddressKind.CloudMetadata; // 169.254.169.254, 100.100.100.200 (Alibaba), 168.63.129.16
        }

        return ip switch
        {
            0xFFFFFFFF => AddressKind.Broadcast,
            _ when In(ip, 0x00000000, 8) => AddressKind.Unspecified,       // 0.0.0.0/8 "this network"
            _ when In(ip, 0x0A000000, 8) => AddressKind.Private,           // 10/8
            _ when In(ip, 0x64400000, 10) => AddressKind.CarrierGradeNat,  // 100.64/10
            _ when In(ip, 0x7F000000, 8) => AddressKind.Loopback,          // 127/8
            _ when In(ip, 0xA9FE0000, 16) => AddressKind.LinkLocal,        // 169.254/16
            _ when In(ip, 0xAC100000, 12) => AddressKind.Private,          // 172.16/12
            _ when In(ip, 0xC0000000, 24) => AddressKind.Reserved,         // 192.0.0/24 IETF (Oracle metadata 192.0.0.192)
            _ when In(ip, 0xC0000200, 24) => AddressKind.Reserved,         // 192.0.2/24 documentation
            _ when In(ip, 0xC0586300, 24) => AddressKind.Reserved,         // 192.88.99/24 6to4 relay
            _ when In(ip, 0xC0A80000, 16) => AddressKind.Private,          // 192.168/16
            _ when In(ip, 0xC6120000, 15) => AddressKind.Reserved,         // 198.18/15 benchmarking
            _ when In(ip, 0xC6336400, 24) => AddressKind.Reserved,         // 198.51.100/24 documentation
            _ when In(ip, 0xCB007100, 24) => AddressKind.Reserved,         // 203.0.113/24 documentation
            _ when In(ip, 0xE0000000, 4) => AddressKind.Multicast,         // 224/4
            _ when In(ip, 0xF0000000, 4) => AddressKind.Reserved,          // 240/4
            _ => AddressKind.Public,
        };
    }

    private static AddressKind ClassifyV6(IPAddress address)
    {
        if (address.Equals(AwsMetadataV6))
        {
            return AddressKind.CloudMetadata;
        }

        Span<byte> b = stackalloc byte[16];
        address.TryWriteBytes(b, out _);
        var high = (ulong)b[0] << 56 | (ulong)b[1] << 48 | (ulong)b[2] << 40 | (ulong)b[3] << 32
            | (ulong)b[4] << 24 | (ulong)b[5] << 16 | (ulong)b[6] << 8 | b[7];
        var mid = (uint)b[8] << 24 | (uint)b[9] << 16 | (uint)b[10] << 8 | b[11];
        var low = (uint)b[12] << 24 | (uint)b[13] << 16 | (uint)b[14] << 8 | b[15];

        if (high == 0 && mid == 0)
        {
            // ::, ::1, and the deprecated IPv4-compatible ::a.b.c.d
            return low switch
            {
                0 => AddressKind.Unspecified,
                1 => AddressKind.Loopback,
                _ => ClassifyV4(low),
            };
        }

        if (high == 0 && mid == 0x0000FFFF)
        {
            return ClassifyV4(low); // ::ffff:a.b.c.d, IPv4-mapped
        }

        if (high == 0x0064FF9B00000000 && mid == 0)
        {
            return ClassifyV4(low); // 64:ff9b::/96, NAT64 reaches the embedded IPv4 address
        }

        if (b[0] == 0x20 && b[1] == 0x02)
        {
            return ClassifyV4((uint)b[2] << 24 | (uint)b[3] << 16 | (uint)b[4] << 8 | b[5]); // 2002::/16, 6to4
        }

        return (high >> 48) switch
        {
            >= 0xFF00 => AddressKind.Multicast,                       // ff00::/8
            >= 0xFE80 and < 0xFEC0 => AddressKind.LinkLocal,          // fe80::/10
            >= 0xFC00 and < 0xFE00 => AddressKind.Private,            // fc00::/7 unique local
            0x2001 when (high >> 32 & 0xFFFF) is 0x0000 or 0x0DB8 => AddressKind.Reserved, // Teredo, documentation
            0x2001 when (high >> 36 & 0xFFF) is 0x001 or 0x002 => AddressKind.Reserved,   // 2001:10::/28, 2001:20::/28 ORCHID
            0x2001 when high >> 16 == 0x2001_0002_0000 => AddressKind.Reserved,         // 2001:2::/48 benchmarking (RFC 5180)
            0x3FFF when high >> 44 == 0x3FFF0 => AddressKind.Reserved,                   // 3fff::/20 documentation (RFC 9637)
            >= 0x2000 and < 0x4000 => AddressKind.Public,             // 2000::/3 global unicast
            _ => AddressKind.Reserved,                                // 100::/64 discard, 64:ff9b:1::/48, fec0::/10, unassigned
        };
    }

    private static bool In(uint ip, uint network, int prefixLength) => (ip ^ network) >> (32 - prefixLength) == 0;
}
