using ConsentRegistry.Core.Pdq;

namespace ConsentRegistry.Core.Tests.Pdq;

public sealed class PdqHashTests
{
    private const string Bridge = "d8f8f0cee0f4a84f0637022a078f67f0b36e2ed596621e1d33e6339c4e9c9b22";

    [Fact]
    public void Hex_round_trips_through_parse_and_format()
    {
        Assert.True(PdqHash.TryParseHex(Bridge, out var hash));

        Assert.Equal(Bridge, hash.ToHex());
        Assert.Equal(Bridge, hash.ToString());
    }

    [Fact]
    public void Upper_case_hex_parses_to_the_same_hash()
    {
        Assert.Equal(PdqHash.ParseHex(Bridge), PdqHash.ParseHex(Bridge.ToUpperInvariant()));
    }

    [Theory]
    [InlineData("")]
    [InlineData("d8f8")]
    [InlineData("d8f8f0cee0f4a84f0637022a078f67f0b36e2ed596621e1d33e6339c4e9c9b2")]
    [InlineData("d8f8f0cee0f4a84f0637022a078f67f0b36e2ed596621e1d33e6339c4e9c9b220")]
    [InlineData("g8f8f0cee0f4a84f0637022a078f67f0b36e2ed596621e1d33e6339c4e9c9b22")]
    [InlineData(" 8f8f0cee0f4a84f0637022a078f67f0b36e2ed596621e1d33e6339c4e9c9b22")]
    [InlineData(null)]
    public void Malformed_hex_is_rejected(string? hex)
    {
        Assert.False(PdqHash.TryParseHex(hex, out var hash));
        Assert.True(hash.IsZero);
    }

    [Fact]
    public void The_first_hex_word_is_word_fifteen_and_bit_k_is_bit_k_mod_16_of_word_k_div_16()
    {
        var hash = PdqHash.ParseHex("8000" + new string('0', 56) + "0003");

        Assert.Equal(0x8000, hash.GetWord(15));
        Assert.Equal(0x0003, hash.GetWord(0));
        Assert.True(hash.GetBit(255));
        Assert.True(hash.GetBit(0));
        Assert.True(hash.GetBit(1));
        Assert.False(hash.GetBit(2));
        Assert.Equal(3, hash.PopCount());
    }

    [Fact]
    public void Words_rebuild_the_same_hash()
    {
        var hash = PdqHash.ParseHex(Bridge);
        var words = new ushort[PdqHash.WordCount];
        for (int w = 0; w < words.Length; w++)
        {
            words[w] = hash.GetWord(w);
        }

        Assert.Equal(hash, PdqHash.FromWords(words));
        Assert.Equal(0x9b22, hash.GetWord(0));
        Assert.Equal(0xd8f8, hash.GetWord(15));
    }

    [Fact]
    public void Hamming_distance_counts_the_differing_bits()
    {
        var hash = PdqHash.ParseHex(Bridge);
        var allOnes = PdqHash.ParseHex(new string('f', 64));

        Assert.Equal(0, hash.HammingDistance(hash));
        Assert.Equal(256, PdqHash.Zero.HammingDistance(allOnes));
        Assert.Equal(hash.PopCount(), hash.HammingDistance(PdqHash.Zero));
        Assert.Equal(256 - hash.PopCount(), hash.HammingDistance(allOnes));
    }

    [Fact]
    public void Hamming_distance_between_the_bridge_and_a_sharpened_copy_is_fourteen_bits_either_way()
    {
        // bridge-mods/sharpen-a-lot.jpg per the reference, 14 bits from the original.
        var sharpened = PdqHash.ParseHex("d0f8f0cec0f4a84f0e370a22238f67f0b36a2ef596231e1d73e6a39c4e9c9b22");
        var original = PdqHash.ParseHex(Bridge);

        Assert.Equal(14, original.HammingDistance(sharpened));
        Assert.Equal(14, sharpened.HammingDistance(original));
    }

    [Fact]
    public void Equal_hashes_are_equal_and_hash_alike()
    {
        var a = PdqHash.ParseHex(Bridge);
        var b = PdqHash.ParseHex(Bridge.ToUpperInvariant());
        var c = PdqHash.ParseHex(new string('0', 63) + "1");

        Assert.True(a == b);
        Assert.False(a != b);
        Assert.Equal(a.GetHashCode(), b.GetHashCode());
        Assert.NotEqual(a, c);
        Assert.False(c.IsZero);
        Assert.True(default(PdqHash).IsZero);
    }
}
