using System.Net;
using ConsentRegistry.Api.Verification;

namespace ConsentRegistry.Api.Tests.Verification;

public sealed class AddressPolicyTests
{
    [Theory]
    [InlineData("0.0.0.0", AddressKind.Unspecified)]
    [InlineData("0.1.2.3", AddressKind.Unspecified)]
    [InlineData("10.0.0.1", AddressKind.Private)]
    [InlineData("10.255.255.255", AddressKind.Private)]
    [InlineData("100.64.0.1", AddressKind.CarrierGradeNat)]
    [InlineData("100.127.255.254", AddressKind.CarrierGradeNat)]
    [InlineData("100.100.100.200", AddressKind.CloudMetadata)]
    [InlineData("127.0.0.1", AddressKind.Loopback)]
    [InlineData("127.255.0.9", AddressKind.Loopback)]
    [InlineData("169.254.169.254", AddressKind.CloudMetadata)]
    [InlineData("169.254.0.1", AddressKind.LinkLocal)]
    [InlineData("172.16.0.1", AddressKind.Private)]
    [InlineData("172.31.255.255", AddressKind.Private)]
    [InlineData("192.168.1.1", AddressKind.Private)]
    [InlineData("192.0.0.192", AddressKind.Reserved)]
    [InlineData("198.18.0.1", AddressKind.Reserved)]
    [InlineData("224.0.0.1", AddressKind.Multicast)]
    [InlineData("239.255.255.250", AddressKind.Multicast)]
    [InlineData("240.0.0.1", AddressKind.Reserved)]
    [InlineData("255.255.255.255", AddressKind.Broadcast)]
    [InlineData("168.63.129.16", AddressKind.CloudMetadata)]
    public void IPv4_addresses_outside_the_public_internet_are_classified(string address, AddressKind kind) =>
        Assert.Equal(kind, AddressPolicy.Classify(IPAddress.Parse(address)));

    [Theory]
    [InlineData("::", AddressKind.Unspecified)]
    [InlineData("::1", AddressKind.Loopback)]
    [InlineData("::ffff:127.0.0.1", AddressKind.Loopback)]
    [InlineData("::ffff:10.1.2.3", AddressKind.Private)]
    [InlineData("::ffff:169.254.169.254", AddressKind.CloudMetadata)]
    [InlineData("::127.0.0.1", AddressKind.Loopback)]
    [InlineData("::192.168.0.1", AddressKind.Private)]
    [InlineData("64:ff9b::10.0.0.1", AddressKind.Private)]
    [InlineData("2002:7f00:1::", AddressKind.Loopback)]
    [InlineData("fc00::1", AddressKind.Private)]
    [InlineData("fd12:3456::1", AddressKind.Private)]
    [InlineData("fd00:ec2::254", AddressKind.CloudMetadata)]
    [InlineData("fe80::1", AddressKind.LinkLocal)]
    [InlineData("febf::1", AddressKind.LinkLocal)]
    [InlineData("ff02::1", AddressKind.Multicast)]
    [InlineData("2001:db8::1", AddressKind.Reserved)]
    [InlineData("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", AddressKind.Reserved)] // documentation, 2001:db8::/32
    [InlineData("2001:2::1", AddressKind.Reserved)] // benchmarking, 2001:2::/48 (RFC 5180)
    [InlineData("2001:2:0:ffff:ffff:ffff:ffff:ffff", AddressKind.Reserved)]
    [InlineData("3fff::1", AddressKind.Reserved)] // documentation, 3fff::/20 (RFC 9637)
    [InlineData("3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff", AddressKind.Reserved)]
    [InlineData("2001::1", AddressKind.Reserved)]
    [InlineData("100::1", AddressKind.Reserved)]
    [InlineData("fec0::1", AddressKind.Reserved)]
    public void IPv6_addresses_and_their_ipv4_forms_outside_the_public_internet_are_classified(string address, AddressKind kind) =>
        Assert.Equal(kind, AddressPolicy.Classify(IPAddress.Parse(address)));

    [Theory]
    [InlineData("8.8.8.8")]
    [InlineData("1.1.1.1")]
    [InlineData("93.184.216.34")]
    [InlineData("172.15.255.255")]
    [InlineData("172.32.0.1")]
    [InlineData("100.63.255.255")]
    [InlineData("100.128.0.1")]
    [InlineData("192.169.0.1")]
    [InlineData("223.255.255.255")]
    [InlineData("2606:4700:4700::1111")]
    [InlineData("2a00:1450:4001:81c::200e")]
    [InlineData("::ffff:8.8.8.8")]
    [InlineData("64:ff9b::8.8.8.8")]
    [InlineData("2002:0808:0808::1")]
    [InlineData("2001:2:1::1")] // just past 2001:2::/48
    [InlineData("2001:3::1")]
    [InlineData("3fff:1000::1")] // just past 3fff::/20
    [InlineData("3ffe:ffff::1")]
    public void Public_addresses_are_allowed(string address) =>
        Assert.True(AddressPolicy.IsPublic(IPAddress.Parse(address)));
}
