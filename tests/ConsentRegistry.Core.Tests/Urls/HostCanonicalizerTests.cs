using ConsentRegistry.Core.Urls;

namespace ConsentRegistry.Core.Tests.Urls;

public sealed class HostCanonicalizerTests
{
    [Theory]
    [InlineData("Example.COM", "example.com")]
    [InlineData("example.com.", "example.com")]
    [InlineData("bücher.example", "xn--bcher-kva.example")]
    [InlineData("BÜCHER.example", "xn--bcher-kva.example")]
    [InlineData("[::1]", "[::1]")]
    [InlineData("[0:0:0:0:0:0:0:1]", "[::1]")]
    [InlineData("127.0.0.1", "127.0.0.1")]
    [InlineData("0x7f.1", "127.0.0.1")]
    [InlineData("-x.example", "-x.example")]
    [InlineData("a--b.example", "a--b.example")]
    [InlineData("xn--bcher-kva.example", "xn--bcher-kva.example")]
    [InlineData("localhost", "localhost")]
    public void Bare_hosts_are_accepted_in_canonical_form(string input, string expected)
    {
        Assert.True(HostCanonicalizer.TryCanonicalize(input, out string? host, out string? error), error);
        Assert.Equal(expected, host);
    }

    [Theory]
    [InlineData("http://example.com")]
    [InlineData("example.com:80")]
    [InlineData("example.com/path")]
    [InlineData("example.com?q")]
    [InlineData("example.com#f")]
    [InlineData("user@example.com")]
    [InlineData("[::1]:80")]
    [InlineData("example.com\\x")]
    public void Hosts_with_scheme_port_path_query_fragment_or_userinfo_are_refused(string input)
    {
        Assert.False(HostCanonicalizer.TryCanonicalize(input, out string? host, out _), host);
    }

    [Theory]
    [InlineData(" example.com")]
    [InlineData("example.com ")]
    [InlineData("exa mple.com")]
    [InlineData("example.com\t")]
    [InlineData("example\u00A0.com")]
    [InlineData("example\u3000com")]
    public void Hosts_with_whitespace_are_refused(string input)
    {
        Assert.False(HostCanonicalizer.TryCanonicalize(input, out string? host, out _), host);
    }

    [Theory]
    [InlineData("")]
    [InlineData(".")]
    [InlineData("example.com..")]
    [InlineData("[::1")]
    [InlineData("[]")]
    [InlineData("256.1.1.1")]
    [InlineData("a<b")]
    [InlineData("\u00AD")]
    [InlineData("\u200D.example")]
    public void Empty_or_invalid_hosts_are_refused(string input)
    {
        Assert.False(HostCanonicalizer.TryCanonicalize(input, out string? host, out string? error), host);
        Assert.False(string.IsNullOrEmpty(error));
    }

    [Theory]
    [InlineData("Example.COM")]
    [InlineData("bücher.example.")]
    [InlineData("[2001:DB8::0:1]")]
    [InlineData("0300.0250.0.1")]
    public void The_host_is_the_same_as_in_a_URL(string input)
    {
        Assert.True(HostCanonicalizer.TryCanonicalize(input, out string? host, out _));
        Assert.True(UrlCanonicalizer.TryCanonicalize("https://" + input + "/x", out CanonicalUrl url, out _));
        Assert.Equal(url.Host.ToString(), host);
    }

    [Theory]
    [InlineData("d\u0307\u0323.example", "xn--rsa949k.example")]
    [InlineData("\u1E0B\u0323.example", "xn--rsa949k.example")]
    [InlineData("a\u0308.example", "xn--4ca.example")]
    [InlineData("\u1100\u1161\u11A8.example", "xn--p39a.example")]
    [InlineData("e\u0301\u0301.example", "xn--9ca68h.example")]
    public void Hosts_are_normalized_to_NFC_before_punycode(string input, string expected)
    {
        Assert.True(HostCanonicalizer.TryCanonicalize(input, out string? host, out string? error), error);
        Assert.Equal(expected, host);
    }
}
