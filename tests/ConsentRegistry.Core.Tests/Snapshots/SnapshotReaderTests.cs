using ConsentRegistry.Core.Snapshots;
using ConsentRegistry.Core.Tests.Matching;

namespace ConsentRegistry.Core.Tests.Snapshots;

/// <summary>Where a snapshot reader puts the arrays it reads: on the pinned heap only when asked, and only the large ones.</summary>
[Collection(MemoryMeasurements.Name)]
public sealed class SnapshotReaderTests : IDisposable
{
    private const int PinnedHeap = 4; // GCMemoryInfo.GenerationInfo: gen0, gen1, gen2, large-object heap, pinned-object heap

    private readonly string _folder = Directory.CreateTempSubdirectory("snapshot-reader-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public void Arrays_over_a_mebibyte_go_to_the_pinned_heap_when_asked_and_read_back_the_same_either_way()
    {
        var large = Enumerable.Range(0, 1_000_000).Select(i => i * 31L).ToArray(); // 8 MB
        long[] small = [1, 2, 3];
        var path = Path.Combine(_folder, "arrays.snap");
        using (var writer = new SnapshotWriter(path, new SnapshotHeader(SnapshotHeader.CurrentFormat, Guid.NewGuid(), 1, DateTimeOffset.UnixEpoch)))
        {
            writer.BeginSection("arrays");
            writer.WriteArray<long>(large);
            writer.WriteArray<long>(small);
            writer.EndSection();
            writer.Finish();
        }

        var (plainLarge, plainSmall, plainHeap) = Read(path, pin: false);
        var (pinnedLarge, pinnedSmall, pinnedHeap) = Read(path, pin: true);

        Assert.Equal(large, plainLarge);
        Assert.Equal(large, pinnedLarge);
        Assert.Equal(small, plainSmall);
        Assert.Equal(small, pinnedSmall);
        Assert.True(pinnedHeap - plainHeap >= large.Length * sizeof(long), $"the pinned heap holds {plainHeap:N0} bytes after a plain read, {pinnedHeap:N0} after a pinning one");
        Assert.True(pinnedHeap - plainHeap < 2 * large.Length * sizeof(long), "only the large array went there");
        GC.KeepAlive(plainLarge);
        GC.KeepAlive(pinnedLarge);
    }

    /// <summary>Reads the two arrays; with them alive, the pinned heap's size after a full collection.</summary>
    private static (long[] Large, long[] Small, long PinnedHeapBytes) Read(string path, bool pin)
    {
        using var reader = new SnapshotReader(path) { PinLargeArrays = pin };
        reader.BeginSection("arrays");
        var large = reader.ReadArray<long>();
        var small = reader.ReadArray<long>();
        reader.EndSection();
        GC.Collect();
        return (large, small, GC.GetGCMemoryInfo(GCKind.FullBlocking).GenerationInfo[PinnedHeap].SizeAfterBytes);
    }
}
