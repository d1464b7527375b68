using ConsentRegistry.Api.Images;

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

    [Fact]
    public async Task The_gate_counts_the_decodes_running_and_the_requests_queued_for_a_slot()
    {
        var gate = new ImageHashingGate(decodeSlots: 2, uploadBudget: 1);
        var large = await gate.EnterDecodeAsync(ImageLimits.LargePixels + 1, CancellationToken.None);
        var small = await gate.EnterDecodeAsync(1000, CancellationToken.None);
        Assert.Equal((2, 0), (gate.Decoding, gate.Waiting));

        var queued = gate.EnterDecodeAsync(1000, CancellationToken.None);
        var queuedLarge = gate.EnterDecodeAsync(ImageLimits.LargePixels + 1, CancellationToken.None);
        await Task.Delay(50);
        Assert.Equal((2, 2), (gate.Decoding, gate.Waiting));

        small!.Dispose(); // the small one takes the slot; the large one then waits for the large-image slot
        using (await queued.WaitAsync(TimeSpan.FromSeconds(5)))
        {
            await Task.Delay(50);
            Assert.Equal((2, 1), (gate.Decoding, gate.Waiting));
        }

        await Task.Delay(50);
        Assert.Equal((2, 1), (gate.Decoding, gate.Waiting)); // the large one holds a slot, queued behind the large-image slot
        large!.Dispose();
        (await queuedLarge.WaitAsync(TimeSpan.FromSeconds(5)))!.Dispose();
        Assert.Equal((0, 0), (gate.Decoding, gate.Waiting));
    }

    [Fact]
    public async Task Large_images_decode_one_at_a_time_while_small_ones_go_on()
    {
        var gate = new ImageHashingGate(decodeSlots: 4, uploadBudget: 1);
        var large = await gate.EnterDecodeAsync(ImageLimits.LargePixels + 1, CancellationToken.None);

        var secondLarge = gate.EnterDecodeAsync(ImageLimits.MaxPixels, CancellationToken.None);
        using var small = await gate.EnterDecodeAsync(ImageLimits.LargePixels, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(5));
        await Task.Delay(50);
        Assert.NotNull(small);
        Assert.False(secondLarge.IsCompleted);

        large!.Dispose();
        using var entered = await secondLarge.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.NotNull(entered);
    }

    [Fact]
    public async Task A_cancelled_wait_gives_its_slot_back()
    {
        var gate = new ImageHashingGate(decodeSlots: 2, uploadBudget: 1);
        var large = await gate.EnterDecodeAsync(ImageLimits.MaxPixels, CancellationToken.None);
        using var cancel = new CancellationTokenSource(50);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => gate.EnterDecodeAsync(ImageLimits.MaxPixels, cancel.Token));

        // The cancelled wait held the second slot while it waited for the large one; it is free again.
        using var small = await gate.EnterDecodeAsync(1, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(5));
        Assert.NotNull(small);
        large!.Dispose();
    }
}
