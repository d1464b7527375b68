using System.Runtime.InteropServices;
using ConsentRegistry.Api.Tests.Infrastructure;
using ConsentRegistry.Imaging;

namespace ConsentRegistry.Api.Tests.Images;

public sealed class ImageHashingGateTests
{
    [Fact]
    public void Uploads_beyond_the_memory_budget_are_refused_until_one_finishes()
    {
        var gate = new ImageHashingGate(decodeSlots: 2, uploadBudget: 100);
        var first = gate.TryReserveUpload(60);

        Assert.NotNull(first);
        Assert.Null(gate.TryReserveUpload(60));
        Assert.NotNull(gate.TryReserveUpload(40));

        first!.Dispose();
        first.Dispose(); // once only
        Assert.NotNull(gate.TryReserveUpload(60));
        Assert.Null(gate.TryReserveUpload(1));
    }

    [Fact]
    public async Task A_decode_waits_while_every_slot_is_taken()
    {
        var gate = new ImageHashingGate(decodeSlots: 1, uploadBudget: 1);
        var first = await gate.EnterDecodeAsync(1000, CancellationToken.None);

        var second = gate.EnterDecodeAsync(1000, CancellationToken.None);
        await Task.Delay(50);
        Assert.False(second.IsCompleted);

        first!.Dispose();
        using var entered = await second.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.NotNull(entered);
    }

    private const long MiB = 1024 * 1024;

    [Fact]
    public async Task The_gate_counts_the_decodes_running_the_bytes_they_reserved_and_the_requests_queued()
    {
        var gate = new ImageHashingGate(decodeSlots: 2, uploadBudget: 1, decodeBudget: 100 * MiB);
        var large = await gate.EnterDecodeAsync(64 * MiB, CancellationToken.None);
        var small = await gate.EnterDecodeAsync(MiB + 1, CancellationToken.None);
        Assert.Equal((2, 0, 66 * MiB), (gate.Decoding, gate.Waiting, gate.DecodeBytesReserved));

        var queued = gate.EnterDecodeAsync(1000, CancellationToken.None);
        await Task.Delay(50);
        Assert.Equal((2, 1), (gate.Decoding, gate.Waiting));

        small!.Dispose();
        using (await queued.WaitAsync(TimeSpan.FromSeconds(5)))
        {
            Assert.Equal((2, 0, 65 * MiB), (gate.Decoding, gate.Waiting, gate.DecodeBytesReserved));
        }

        large!.Dispose();
        Assert.Equal((0, 0, 0L), (gate.Decoding, gate.Waiting, gate.DecodeBytesReserved));
    }

    [Fact]
    public async Task A_decode_waits_while_the_decode_memory_budget_is_spent_even_with_slots_free()
    {
        var gate = new ImageHashingGate(decodeSlots: 4, uploadBudget: 1, decodeBudget: 100 * MiB);
        var first = await gate.EnterDecodeAsync(64 * MiB, CancellationToken.None);
        using var small = await gate.EnterDecodeAsync(30 * MiB, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(5));

        var second = gate.EnterDecodeAsync(64 * MiB, CancellationToken.None);
        await Task.Delay(50);
        Assert.NotNull(small);
        Assert.False(second.IsCompleted);
        Assert.Equal((3, 1), (gate.Decoding, gate.Waiting));

        first!.Dispose();
        using var entered = await second.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.NotNull(entered);
        Assert.Equal(94 * MiB, gate.DecodeBytesReserved);
    }

    [Fact]
    public async Task A_decode_larger_than_the_whole_budget_waits_for_all_of_it_and_then_runs()
    {
        var gate = new ImageHashingGate(decodeSlots: 2, uploadBudget: 1, decodeBudget: 10 * MiB);
        var small = await gate.EnterDecodeAsync(MiB, CancellationToken.None);

        var huge = gate.EnterDecodeAsync(400 * MiB, CancellationToken.None);
        await Task.Delay(50);
        Assert.False(huge.IsCompleted);

        small!.Dispose();
        using var entered = await huge.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.NotNull(entered);
        Assert.Equal(10 * MiB, gate.DecodeBytesReserved);
    }

    [Fact]
    public async Task A_cancelled_wait_gives_back_its_slot_and_the_bytes_it_had_reserved_so_far()
    {
        var gate = new ImageHashingGate(decodeSlots: 2, uploadBudget: 1, decodeBudget: 10 * MiB);
        var first = await gate.EnterDecodeAsync(6 * MiB, CancellationToken.None);
        using var cancel = new CancellationTokenSource(50);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => gate.EnterDecodeAsync(10 * MiB, cancel.Token));

        // The cancelled wait held the second slot and the 4 MiB left while it waited for the rest; both are free again.
        using var small = await gate.EnterDecodeAsync(4 * MiB, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(5));
        Assert.NotNull(small);
        Assert.Equal((2, 10 * MiB), (gate.Decoding, gate.DecodeBytesReserved));
        first!.Dispose();
    }

    [Fact]
    public async Task The_native_heap_is_trimmed_once_after_large_decodes_end_and_not_while_one_runs_or_after_small_ones()
    {
        var trims = 0;
        var gate = new ImageHashingGate(decodeSlots: 2, uploadBudget: 1, decodeBudget: 200 * MiB, trim: () => Interlocked.Increment(ref trims) > 0, trimDelay: TimeSpan.FromMilliseconds(20));

        // Small decodes, 10 MiB in all: below the threshold, never a trim.
        for (var i = 0; i < 10; i++)
        {
            (await gate.EnterDecodeAsync(MiB, CancellationToken.None))!.Dispose();
        }

        await Task.Delay(200);
        Assert.Equal(0, Volatile.Read(ref trims));

        // Two large decodes at once: the first one's end (past the threshold by itself) does not trim while the other runs.
        var first = await gate.EnterDecodeAsync(60 * MiB, CancellationToken.None);
        var second = await gate.EnterDecodeAsync(40 * MiB, CancellationToken.None);
        first!.Dispose();
        await Task.Delay(200);
        Assert.Equal(0, Volatile.Read(ref trims));

        second!.Dispose();
        await Eventually.HoldsAsync(() => Volatile.Read(ref trims) == 1, "the trim after the last decode");
        await Task.Delay(200);
        Assert.Equal(1, Volatile.Read(ref trims));
    }

    [Fact]
    public void Trimming_the_native_heap_works_on_glibc()
    {
        // Linux with glibc (Debian, Ubuntu) has malloc_trim; elsewhere Trim says false and does nothing.
        var glibc = OperatingSystem.IsLinux() && NativeLibrary.TryLoad("libc.so.6", out var libc) && NativeLibrary.TryGetExport(libc, "malloc_trim", out _);
        Assert.Equal(glibc, NativeHeap.Trim());
    }
}
