using ConsentRegistry.Api.Hosting;

namespace ConsentRegistry.Api.Tests.Claims;

/// <summary>
/// The scheduler behind large claims' checks and background renders: its own named threads at a
/// lower priority, async work kept on them after each await, queued work in order, and work
/// cancelled while queued never run.
/// </summary>
public sealed class LowPrioritySchedulerTests
{
    [Fact]
    public async Task Async_work_runs_on_the_schedulers_niced_thread_before_and_after_its_awaits()
    {
        using var scheduler = new LowPriorityScheduler(1, "Test worker");
        var callerNice = ThreadNiceness.Current();

        var seen = await scheduler.Run(async () =>
        {
            var before = (Thread.CurrentThread.Name, ThreadNiceness.Current());
            await Task.Delay(20); // completes on a timer thread: the rest comes back to the scheduler
            await Task.Yield();
            return (Before: before, After: (Thread.CurrentThread.Name, ThreadNiceness.Current()));
        });

        Assert.Equal("Test worker 1", seen.Before.Name);
        Assert.Equal("Test worker 1", seen.After.Name);
        if (OperatingSystem.IsLinux())
        {
            Assert.NotNull(callerNice);
            Assert.Equal(Math.Min(19, callerNice.Value + ThreadNiceness.Step), seen.Before.Item2);
            Assert.Equal(seen.Before.Item2, seen.After.Item2);
        }
    }

    [Fact]
    public async Task Queued_work_runs_in_order_and_work_cancelled_while_queued_never_runs()
    {
        using var scheduler = new LowPriorityScheduler(1, "Test worker");
        using var release = new ManualResetEventSlim();
        using var started = new ManualResetEventSlim();
        var busy = scheduler.Run(() =>
        {
            started.Set();
            return release.Wait(TimeSpan.FromSeconds(60));
        }, CancellationToken.None);
        Assert.True(started.Wait(TimeSpan.FromSeconds(30)), "the scheduler's thread did not take the first task");

        var order = new System.Collections.Concurrent.ConcurrentQueue<int>();
        using var giveUp = new CancellationTokenSource();
        var first = scheduler.Run(() => { order.Enqueue(1); return 1; }, CancellationToken.None);
        var cancelled = scheduler.Run(() => { order.Enqueue(2); return 2; }, giveUp.Token);
        var third = scheduler.Run(() => { order.Enqueue(3); return 3; }, CancellationToken.None);
        await giveUp.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled); // at once, while the first still waits

        release.Set();
        Assert.True(await busy);
        Assert.Equal(1, await first);
        Assert.Equal(3, await third);
        Assert.Equal([1, 3], order.ToArray());
    }
}
