namespace ConsentRegistry.Api.Hosting;

/// <summary>
/// A task scheduler whose threads run at a lower priority than the process's
/// (<see cref="ThreadNiceness"/>), for bulk work that requests must not wait behind: large claims'
/// checks, crawler documents rendered in the background. Tasks run in the order queued; work
/// cancelled while queued never runs. Async work started here comes back here
/// after each await (an await resumes on the scheduler it left, unless told otherwise), so all of
/// its CPU time runs at the lower priority, including what it does with rows a database sends.
/// </summary>
public sealed class LowPriorityScheduler : TaskScheduler, IDisposable
{
    private readonly Queue<Task> _queue = new();
    private readonly Thread[] _threads;
    private bool _disposed;

    /// <param name="threads">How many tasks run at once.</param>
    /// <param name="name">The threads' name, numbered from 1.</param>
    public LowPriorityScheduler(int threads, string name)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        _threads = [.. Enumerable.Range(0, threads).Select(n => new Thread(Run) { IsBackground = true, Name = $"{name} {n + 1}" })];
        foreach (var thread in _threads)
        {
            thread.Start();
        }
    }

    public override int MaximumConcurrencyLevel => _threads.Length;

    /// <summary>
    /// Runs <paramref name="work"/> here. Cancelling <paramref name="cancellationToken"/> cancels the
    /// returned task at once; work not started by then never runs, work under way runs to its end.
    /// </summary>
    public Task<T> Run<T>(Func<T> work, CancellationToken cancellationToken)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        var cancelled = cancellationToken.Register(() => done.TrySetCanceled(cancellationToken));
        _ = Task.Factory.StartNew(() =>
        {
            using (cancelled)
            {
                if (done.Task.IsCompleted)
                {
                    return; // cancelled while queued
                }

                try
                {
                    done.TrySetResult(work());
                }
                catch (Exception e)
                {
                    done.TrySetException(e);
                }
            }
        }, CancellationToken.None, TaskCreationOptions.DenyChildAttach, this);
        return done.Task;
    }

    /// <summary>Runs <paramref name="work"/> here, and its continuations after each await.</summary>
    public Task<T> Run<T>(Func<Task<T>> work) =>
        Task.Factory.StartNew(work, CancellationToken.None, TaskCreationOptions.DenyChildAttach, this).Unwrap();

    /// <summary>Lets the queued tasks finish, then stops the threads; tasks queued after (continuations of work under way) run on the pool.</summary>
    public void Dispose()
    {
        lock (_queue)
        {
            _disposed = true;
            Monitor.PulseAll(_queue);
        }

        foreach (var thread in _threads)
        {
            thread.Join();
        }
    }

    protected override void QueueTask(Task task)
    {
        lock (_queue)
        {
            if (!_disposed)
            {
                _queue.Enqueue(task);
                Monitor.Pulse(_queue);
                return;
            }
        }

        // Disposed (the host is stopping): work still under way, back from an await, ends on the pool.
        ThreadPool.UnsafeQueueUserWorkItem(_ => TryExecuteTask(task), null);
    }

    // Never inline: work queued here runs on the scheduler's threads only (Run cancels by its own
    // flag, so nothing needs a queued task taken back out).
    protected override bool TryExecuteTaskInline(Task task, bool taskWasPreviouslyQueued) => false;

    protected override IEnumerable<Task> GetScheduledTasks()
    {
        lock (_queue)
        {
            return [.. _queue];
        }
    }

    private void Run()
    {
        ThreadNiceness.Lower();
        while (true)
        {
            Task? task;
            lock (_queue)
            {
                while (_queue.Count == 0 && !_disposed)
                {
                    Monitor.Wait(_queue);
                }

                if (!_queue.TryDequeue(out task))
                {
                    return; // disposed, and every queued task has run
                }
            }

            TryExecuteTask(task);
        }
    }
}
