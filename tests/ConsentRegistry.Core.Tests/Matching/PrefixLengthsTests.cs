using ConsentRegistry.Core.Matching;

namespace ConsentRegistry.Core.Tests.Matching;

/// <summary>The per-authority prefix lengths: each length once and ascending, found by key across growth, absent keys absent.</summary>
public sealed class PrefixLengthsTests
{
    [Fact]
    public void Lengths_stay_ascending_and_unique_per_authority_through_growth()
    {
        var table = new PrefixLengths();
        var random = new Random(3);
        var model = new Dictionary<UInt128, SortedSet<int>>();
        var authorities = Enumerable.Range(0, 5_000).Select(_ => new UInt128((ulong)random.NextInt64(), (ulong)random.NextInt64())).ToArray();
        for (var i = 0; i < 40_000; i++)
        {
            var authority = authorities[random.Next(authorities.Length)];
            var length = random.Next(10, 60);
            table.Add(authority, length);
            (model.TryGetValue(authority, out var set) ? set : model[authority] = []).Add(length);
        }

        Assert.Equal(model.Count, table.Count);
        foreach (var (authority, lengths) in model)
        {
            Assert.True(table.TryGet(authority, out var held));
            Assert.Equal(lengths, held);
        }

        Assert.False(table.TryGet(new UInt128(1, 2), out var none));
        Assert.Empty(none);
        Assert.Equal(model.Keys.Order(), table.Entries.Select(entry => entry.Authority).Order());
        var lengthCount = model.Values.Sum(set => set.Count);
        Assert.InRange(table.Bytes, lengthCount * sizeof(int), (lengthCount * sizeof(int)) + (model.Count * 24L * 4) + (model.Count * 24L));
    }

    [Fact]
    public void A_snapshots_lists_are_taken_once_per_authority()
    {
        var table = new PrefixLengths();
        table.EnsureCapacity(1_000);
        for (var i = 0; i < 1_000; i++)
        {
            Assert.True(table.TryAdd(new UInt128(0, (ulong)i), [i + 10, i + 20]));
        }

        Assert.False(table.TryAdd(new UInt128(0, 7), [1]));
        Assert.True(table.TryGet(new UInt128(0, 7), out var lengths));
        Assert.Equal([17, 27], lengths);
        Assert.Equal(1_000, table.Count);
    }
}
