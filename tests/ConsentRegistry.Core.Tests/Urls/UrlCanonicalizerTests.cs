using ConsentRegistry.Core.Urls;

namespace ConsentRegistry.Core.Tests.Urls;

public sealed class UrlCanonicalizerTests
{
    private static string Canonical(string input)
    {
        Assert.True(UrlCanonicalizer.TryCanonicalize(input, out CanonicalUrl url, out string? error), $"{input} refused: {error}");
        return url.Value;
    }

    private static string Refusal(string input)
    {
        Assert.False(UrlCanonicalizer.TryCanonicalize(input, out CanonicalUrl url, out string? error), $"{input} accepted as {url.Value}");
        return error;
    }

    [Theory]
    [InlineData("http://a.example:80/", "http://a.example/")]
    [InlineData("https://a.example:443/x", "https://a.example/x")]
    [InlineData("http://a.example:0080/", "http://a.example/")]
    [InlineData("http://a.example:/", "http://a.example/")]
    public void Default_ports_are_dropped(string input, string expected)
    {
        Assert.Equal(expected, Canonical(input));
    }

    [Theory]
    [InlineData("http://a.example:443/", "http://a.example:443/")]
    [InlineData("https://a.example:80/", "https://a.example:80/")]
    [InlineData("https://a.example:8443/x", "https://a.example:8443/x")]
    [InlineData("http://a.example:008080/", "http://a.example:8080/")]
    [InlineData("http://a.example:0/", "http://a.example:0/")]
    public void Other_ports_are_kept_in_decimal(string input, string expected)
    {
        Assert.Equal(expected, Canonical(input));
    }

    [Theory]
    [InlineData("http://a.example:65536/")]
    [InlineData("http://a.example:99999999999999999999/")]
    [InlineData("http://a.example:8o/")]
    [InlineData("http://a.example:-1/")]
    [InlineData("http://a.example:80:80/")]
    public void Invalid_ports_are_refused(string input)
    {
        Assert.Equal("invalid port", Refusal(input));
    }

    [Theory]
    [InlineData("http://a.example/a%2fb", "http://a.example/a%2Fb")]
    [InlineData("http://a.example/?q=%3d%e2%82%ac", "http://a.example/?q=%3D%E2%82%AC")]
    [InlineData("http://a.example/%c3%a9", "http://a.example/%C3%A9")]
    public void Percent_escapes_get_upper_case_hex(string input, string expected)
    {
        Assert.Equal(expected, Canonical(input));
    }

    [Theory]
    [InlineData("http://a.example/%7Euser/%41", "http://a.example/~user/A")]
    [InlineData("http://a.example/%7euser", "http://a.example/~user")]
    [InlineData("http://a.example/a%2Db%5Fc%2Ed", "http://a.example/a-b_c.d")]
    [InlineData("http://a.example/x?a%2Db=%7E%61", "http://a.example/x?a-b=~a")]
    public void Escapes_of_unreserved_characters_are_decoded(string input, string expected)
    {
        Assert.Equal(expected, Canonical(input));
    }

    [Theory]
    [InlineData("http://a.example/a%2Fb%3Fc%20d", "http://a.example/a%2Fb%3Fc%20d")]
    [InlineData("http://a.example/x?a=%26%3D%2B%20%25", "http://a.example/x?a=%26%3D%2B%20%25")]
    public void Escapes_of_reserved_characters_stay_encoded(string input, string expected)
    {
        Assert.Equal(expected, Canonical(input));
    }

    [Theory]
    [InlineData("http://a.example/100%", "http://a.example/100%")]
    [InlineData("http://a.example/%zz?%G1", "http://a.example/%zz?%G1")]
    [InlineData("http://a.example/%%47", "http://a.example/%G")]
    public void A_percent_sign_that_starts_no_escape_stays(string input, string expected)
    {
        Assert.Equal(expected, Canonical(input));
    }

    [Theory]
    [InlineData("http://a.example/%%41", "http://a.example/%%41")]
    [InlineData("http://a.example/%%34%31", "http://a.example/%%341")]
    [InlineData("http://a.example/%4%31", "http://a.example/%4%31")]
    [InlineData("http://a.example/?%%34G", "http://a.example/?%%34G")]
    public void Decoding_never_turns_a_stray_percent_sign_into_an_escape(string input, string expected)
    {
        string canonical = Canonical(input);
        Assert.Equal(expected, canonical);
        Assert.Equal(canonical, Canonical(canonical));
    }

    [Theory]
    [InlineData("http://a.example/%2e/b", "http://a.example/b")]
    [InlineData("http://a.example/a/%2E%2e/b", "http://a.example/b")]
    [InlineData("http://a.example/a/b/../../../c", "http://a.example/c")]
    [InlineData("http://a.example/a/./b/.", "http://a.example/a/b/")]
    [InlineData("http://a.example/a/..", "http://a.example/")]
    [InlineData("http://a.example\\a\\..\\b", "http://a.example/b")]
    public void Dot_segments_are_resolved(string input, string expected)
    {
        Assert.Equal(expected, Canonical(input));
    }

    [Theory]
    [InlineData("https://Bücher.example/", "https://xn--bcher-kva.example/")]
    [InlineData("https://BÜCHER.example/", "https://xn--bcher-kva.example/")]
    [InlineData("http://例え.テスト/", "http://xn--r8jz45g.xn--zckzah/")]
    [InlineData("http://xn--BCHER-KVA.example/", "http://xn--bcher-kva.example/")]
    [InlineData("http://faß.example/", "http://xn--fa-hia.example/")]
    [InlineData("http://%C3%BC.example/", "http://xn--tda.example/")]
    [InlineData("http://ＥＸＡＭＰＬＥ．com/", "http://example.com/")]
    public void Internationalized_hosts_become_punycode(string input, string expected)
    {
        Assert.Equal(expected, Canonical(input));
    }

    [Theory]
    [InlineData("http://a.example./x", "http://a.example/x")]
    [InlineData("http://A.Example.:8080/", "http://a.example:8080/")]
    [InlineData("http://bücher.example./", "http://xn--bcher-kva.example/")]
    public void The_trailing_dot_of_the_host_is_dropped(string input, string expected)
    {
        Assert.Equal(expected, Canonical(input));
    }

    [Theory]
    [InlineData("http://a.example../")]
    [InlineData("http://./")]
    public void A_host_ending_in_an_empty_label_is_refused(string input)
    {
        Assert.Equal("invalid host", Refusal(input));
    }

    [Theory]
    [InlineData("http://a.example/x#frag", "http://a.example/x")]
    [InlineData("http://a.example/x?q=1#frag?x", "http://a.example/x?q=1")]
    [InlineData("http://a.example#", "http://a.example/")]
    public void The_fragment_is_dropped(string input, string expected)
    {
        Assert.Equal(expected, Canonical(input));
    }

    [Theory]
    [InlineData("http://user:pass@a.example/x", "http://a.example/x")]
    [InlineData("http://user@a.example:81/", "http://a.example:81/")]
    [InlineData("http://a@b@a.example/", "http://a.example/")]
    [InlineData("http://:@a.example/", "http://a.example/")]
    public void Userinfo_is_dropped(string input, string expected)
    {
        Assert.Equal(expected, Canonical(input));
    }

    [Theory]
    [InlineData("HTTP://A.EXAMPLE/Path", "http://a.example/Path")]
    [InlineData("HtTpS://Www.Example.COM/", "https://www.example.com/")]
    public void Scheme_and_host_are_lowercased(string input, string expected)
    {
        Assert.Equal(expected, Canonical(input));
    }

    [Fact]
    public void Path_and_query_keep_their_case()
    {
        Assert.Equal("https://cdn.example/Images/Photo.JPG?Size=Large&Q=X", Canonical("https://CDN.example/Images/Photo.JPG?Size=Large&Q=X"));
    }

    [Fact]
    public void Query_parameters_keep_their_order()
    {
        Assert.Equal("http://a.example/?z=1&a=2&m=3&a=1", Canonical("http://a.example/?z=1&a=2&m=3&a=1"));
    }

    [Theory]
    [InlineData("http://a.example/x?", "http://a.example/x")]
    [InlineData("http://a.example?#x", "http://a.example/")]
    public void An_empty_query_is_dropped(string input, string expected)
    {
        Assert.Equal(expected, Canonical(input));
    }

    [Theory]
    [InlineData("http://a.example", "http://a.example/")]
    [InlineData("http://a.example?x", "http://a.example/?x")]
    public void An_empty_path_becomes_a_slash(string input, string expected)
    {
        Assert.Equal(expected, Canonical(input));
    }

    [Theory]
    [InlineData("javascript:alert(1)")]
    [InlineData("ftp://a.example/file")]
    [InlineData("data:text/plain,hello")]
    [InlineData("file:///etc/passwd")]
    [InlineData("ws://a.example/")]
    [InlineData("/relative/path")]
    [InlineData("a.example/path")]
    [InlineData("//a.example/path")]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("httpx://a.example/")]
    [InlineData("1http://a.example/")]
    public void Anything_but_absolute_http_and_https_is_refused(string input)
    {
        Assert.Equal("not an absolute http or https URL", Refusal(input));
    }

    [Fact]
    public void Input_over_8192_characters_is_refused()
    {
        string atLimit = "http://a.example/" + new string('a', UrlCanonicalizer.MaxLength - "http://a.example/".Length);
        Assert.Equal(atLimit, Canonical(atLimit));
        Assert.Equal("longer than 8192 characters", Refusal(atLimit + "a"));
    }

    [Theory]
    [InlineData("http://0x7f.1/", "http://127.0.0.1/")]
    [InlineData("http://127.0.0.1/", "http://127.0.0.1/")]
    [InlineData("http://2130706433/", "http://127.0.0.1/")]
    [InlineData("http://0177.0.0.01/", "http://127.0.0.1/")]
    [InlineData("http://192.168.257/", "http://192.168.1.1/")]
    [InlineData("http://0xC0.0250.1/", "http://192.168.0.1/")]
    [InlineData("http://127.0.0.1./", "http://127.0.0.1/")]
    [InlineData("http://%31%32%37.0.0.1/", "http://127.0.0.1/")]
    public void IPv4_addresses_in_every_number_form_become_dotted_decimal(string input, string expected)
    {
        Assert.Equal(expected, Canonical(input));
    }

    [Theory]
    [InlineData("http://256.0.0.1/")]
    [InlineData("http://1.2.3.4.5/")]
    [InlineData("http://4294967296/")]
    [InlineData("http://foo.0x/")]
    [InlineData("http://foo.09/")]
    public void Hosts_ending_in_a_number_that_is_no_IPv4_address_are_refused(string input)
    {
        Assert.Equal("invalid IPv4 address", Refusal(input));
    }

    [Theory]
    [InlineData("http://[2001:DB8:0:0:0:0:0:1]/", "http://[2001:db8::1]/")]
    [InlineData("http://[2001:db8:0:0:1:0:0:1]/", "http://[2001:db8::1:0:0:1]/")]
    [InlineData("http://[0:0:0:0:0:0:0:0]/", "http://[::]/")]
    [InlineData("http://[::1]:8080/x", "http://[::1]:8080/x")]
    [InlineData("http://[1:0:0:2::3:0]/", "http://[1::2:0:0:3:0]/")]
    [InlineData("http://[::ffff:192.168.0.1]/", "http://[::ffff:c0a8:1]/")]
    [InlineData("http://[0001:0002:0003:0004:0005:0006:0007:0008]/", "http://[1:2:3:4:5:6:7:8]/")]
    public void IPv6_addresses_are_compressed(string input, string expected)
    {
        Assert.Equal(expected, Canonical(input));
    }

    [Fact]
    public void IPv6_host_offsets_include_the_brackets()
    {
        Assert.True(UrlCanonicalizer.TryCanonicalize("http://[::1]:81/p?q", out CanonicalUrl url, out _));
        Assert.Equal("[::1]", url.Host.ToString());
        Assert.Equal("/p?q", url.PathAndQuery.ToString());
    }

    [Theory]
    [InlineData("http://[::1/")]
    [InlineData("http://[1:2:3:4:5:6:7:8:9]/")]
    [InlineData("http://[::1::2]/")]
    [InlineData("http://[g::1]/")]
    public void Invalid_IPv6_addresses_are_refused(string input)
    {
        Assert.Equal("invalid IPv6 address", Refusal(input));
    }

    [Theory]
    [InlineData("http://a.example/a b", "http://a.example/a%20b")]
    [InlineData("http://a.example/x?a b", "http://a.example/x?a%20b")]
    [InlineData(" http://a.example/a b ", "http://a.example/a%20b")]
    public void Spaces_in_path_and_query_are_percent_encoded(string input, string expected)
    {
        Assert.Equal(expected, Canonical(input));
    }

    [Theory]
    [InlineData("http://a.example/é", "http://a.example/%C3%A9")]
    [InlineData("http://a.example/日本?q=€", "http://a.example/%E6%97%A5%E6%9C%AC?q=%E2%82%AC")]
    [InlineData("http://a.example/😀", "http://a.example/%F0%9F%98%80")]
    public void Non_ASCII_in_path_and_query_is_percent_encoded_as_UTF8_with_upper_case_hex(string input, string expected)
    {
        Assert.Equal(expected, Canonical(input));
    }

    [Fact]
    public void A_lone_surrogate_is_encoded_as_the_replacement_character()
    {
        string lone = new(new[] { (char)0xD800 });
        Assert.Equal("http://a.example/%EF%BF%BD?%EF%BF%BD", Canonical("http://a.example/" + lone + "?" + lone));
    }

    [Theory]
    [InlineData("http://a.example/\"<>`{}", "http://a.example/%22%3C%3E%60%7B%7D")]
    [InlineData("http://a.example/?\"<>'`{}", "http://a.example/?%22%3C%3E%27`{}")]
    public void Path_and_query_use_their_own_percent_encode_sets(string input, string expected)
    {
        Assert.Equal(expected, Canonical(input));
    }

    [Theory]
    [InlineData("\t http://a.exa\nmple/p\rath \u0001", "http://a.example/path")]
    [InlineData("http:\\\\a.example\\x", "http://a.example/x")]
    [InlineData("http:////a.example/x", "http://a.example/x")]
    [InlineData("https:a.example/x", "https://a.example/x")]
    public void Input_is_read_as_browsers_read_it(string input, string expected)
    {
        Assert.Equal(expected, Canonical(input));
    }

    [Theory]
    [InlineData("http://?x")]
    [InlineData("http://user@/x")]
    [InlineData("http://a b.example/")]
    [InlineData("http://a%2Fb.example/")]
    [InlineData("http://a<b.example/")]
    [InlineData("http://\u00ad/")]
    [InlineData("http://xn--a.ß/")]
    public void Invalid_hosts_are_refused(string input)
    {
        Assert.Equal("invalid host", Refusal(input));
    }

    [Fact]
    public void Offsets_point_at_the_host_and_the_path()
    {
        Assert.True(UrlCanonicalizer.TryCanonicalize("HTTPS://user@Example.COM:8443/A/b?C=d#e", out CanonicalUrl url, out _));
        Assert.Equal("https://example.com:8443/A/b?C=d", url.Value);
        Assert.Equal("example.com", url.Host.ToString());
        Assert.Equal("/A/b?C=d", url.PathAndQuery.ToString());
        Assert.True(url.IsHttps);
    }

    [Theory]
    [InlineData("https://example.com/")]
    [InlineData("https://example.com/a/b.html?x=1&y=%2F")]
    [InlineData("http://sub.example.co.uk:8080/p/%E2%82%AC?q")]
    [InlineData("https://xn--bcher-kva.example/")]
    public void Already_canonical_URLs_come_back_unchanged_by_the_fast_path(string input)
    {
        Assert.True(UrlCanonicalizer.TryCanonicalizeFast(input, out CanonicalUrl fast));
        Assert.True(UrlCanonicalizer.TryCanonicalizeFull(input, out CanonicalUrl full, out _));
        Assert.Equal(full, fast);
        Assert.Equal(input, fast.Value);
    }

    [Theory]
    [InlineData("https://example.com")]
    [InlineData("https://Example.com/")]
    [InlineData("https://example.com:443/")]
    [InlineData("https://example.com./")]
    [InlineData("https://example.1a/")]
    [InlineData("https://example.com/a/../b")]
    [InlineData("https://example.com/%7e")]
    [InlineData("https://example.com/%2f")]
    [InlineData("https://example.com/x?")]
    [InlineData("https://example.com/x#y")]
    [InlineData("https://example.com/a b")]
    public void Input_that_needs_work_leaves_the_fast_path(string input)
    {
        Assert.False(UrlCanonicalizer.TryCanonicalizeFast(input, out _));
        Assert.True(UrlCanonicalizer.TryCanonicalizeFull(input, out CanonicalUrl full, out _));
        Assert.Equal(full, Assert.IsType<CanonicalUrl>(Canonicalized(input)));
    }

    private static CanonicalUrl Canonicalized(string input)
    {
        Assert.True(UrlCanonicalizer.TryCanonicalize(input, out CanonicalUrl url, out _));
        return url;
    }
}
