using ConsentRegistry.Api.Auth;
using System.Net;
using System.Security.Claims;
using ConsentRegistry.Api.Hosting;
using ConsentRegistry.Api.Lookup;
using Microsoft.AspNetCore.Http;

namespace ConsentRegistry.Api.Tests.Lookup;

public sealed class LookupRateLimitPartitionTests
{
    private static readonly LookupOptions Options = new() { RequestsPerSecondPerKey = 200, RequestsPerSecondPerAddress = 50 };

    private static (string Key, int PerSecond) PartitionFor(string address)
    {
        var context = new DefaultHttpContext();
        context.Connection.RemoteIpAddress = IPAddress.Parse(address);
        return LookupRateLimits.Partition(context, Options, 64);
    }

    [Fact]
    public void Eight_addresses_of_one_ipv6_64_block_draw_from_one_lookup_budget()
    {
        var partitions = Enumerable.Range(1, 8).Select(i => PartitionFor($"2001:db8:aa:bb::{i:x}")).Distinct().ToList();

        var only = Assert.Single(partitions);
        Assert.Equal(("ip6:2001:db8:aa:bb::/64", 50), only);
    }

    [Theory]
    [InlineData("2001:db8:aa:bb::1", "2001:db8:aa:bc::1")]
    [InlineData("203.0.113.7", "203.0.113.8")]
    public void Addresses_of_different_blocks_or_ipv4_hosts_get_their_own_lookup_budget(string first, string second) =>
        Assert.NotEqual(PartitionFor(first).Key, PartitionFor(second).Key);

    [Fact]
    public void An_ipv4_client_on_a_dual_stack_socket_shares_its_budget_with_the_plain_ipv4_address() =>
        Assert.Equal(PartitionFor("203.0.113.7"), PartitionFor("::ffff:203.0.113.7"));

    [Fact]
    public void A_client_with_an_api_key_draws_from_its_key_budget_whatever_its_address()
    {
        var context = new DefaultHttpContext { User = new ClaimsPrincipal(new ClaimsIdentity([new Claim(ClaimTypes.NameIdentifier, "key-1")], "test")) };
        context.Items[typeof(ApiKeyInfo)] = new ApiKeyInfo("key-1", "platform", ApiKeyRoles.Client); // as the key's authentication leaves it
        context.Connection.RemoteIpAddress = IPAddress.Parse("2001:db8::1");

        Assert.Equal(("key:key-1", 200), LookupRateLimits.Partition(context, Options, 64));
    }

    [Theory]
    [InlineData("2001:db8:1:2::1", "ip6:2001:db8:1:2::/64")]
    [InlineData("::ffff:198.51.100.1", "ip:198.51.100.1")]
    [InlineData("198.51.100.1", "ip:198.51.100.1")]
    public void The_client_address_partition_key_names_the_ipv4_host_or_the_ipv6_64_block(string address, string key) =>
        Assert.Equal(key, ClientAddress.PartitionKey(IPAddress.Parse(address), 64));
}
