using ConsentRegistry.Core.Claims;

namespace ConsentRegistry.Core.Tests.Claims;

public sealed class Base64UrlTests
{
    [Theory]
    [InlineData("", new byte[0])]
    [InlineData("AA", new byte[] { 0 })]
    [InlineData("AAE", new byte[] { 0, 1 })]
    [InlineData("-_8", new byte[] { 0xfb, 0xff })]
    public void Canonical_base64url_decodes(string encoded, byte[] expected)
    {
        Assert.True(Base64Url.TryDecode(encoded, out var bytes));
        Assert.Equal(expected, bytes);
    }

    [Theory]
    [InlineData("AA==")] // padding
    [InlineData("A+8")] // standard alphabet
    [InlineData("A/8")]
    [InlineData("A A")] // whitespace
    [InlineData("A")] // impossible length
    [InlineData("AB")] // unused low bits set: "AA" is the canonical form of the same byte
    [InlineData("AAF")] // same for two bytes: "AAE"
    public void Non_canonical_or_foreign_encodings_are_refused(string encoded)
    {
        Assert.False(Base64Url.TryDecode(encoded, out _));
    }
}
