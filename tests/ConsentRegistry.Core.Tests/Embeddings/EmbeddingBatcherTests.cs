using ConsentRegistry.Imaging.Embeddings;

namespace ConsentRegistry.Core.Tests.Embeddings;

/// <summary>Concurrent images share inference calls: each caller gets its own vector, batches stay within the limit, and only one runs at a time.</summary>
public sealed class EmbeddingBatcherTests
{
    [Fact]
    public void Concurrent_callers_are_batched_one_inference_at_a_time_and_each_gets_its_own_vector()
    {
        var running = 0;
        var overlapped = false;
        var batches = new List<int>();
        var batcher = new EmbeddingBatcher(inputs =>
        {
            overlapped |= Interlocked.Increment(ref running) > 1;
            Thread.Sleep(20);
            lock (batches)
            {
                batches.Add(inputs.Count);
            }

            Interlocked.Decrement(ref running);
            return inputs.Select(input => new[] { input[0] * 2 }).ToArray();
        }, maxBatch: 4);

        // A thread per caller: callers block while their batch runs, as decoding threads do.
        var results = new float[40][];
        var callers = Enumerable.Range(0, 40).Select(i => new Thread(() => results[i] = batcher.Embed([i]))).ToList();
        callers.ForEach(t => t.Start());
        callers.ForEach(t => t.Join());

        Assert.Equal(Enumerable.Range(0, 40).Select(i => (float)(i * 2)), results.Select(r => r[0]));
        Assert.False(overlapped);
        Assert.Equal(40, batches.Sum());
        Assert.All(batches, size => Assert.InRange(size, 1, 4));
        Assert.Contains(batches, size => size > 1);
    }

    [Fact]
    public async Task A_failed_inference_fails_every_caller_of_its_batch_and_the_next_callers_still_run()
    {
        var fail = true;
        var batcher = new EmbeddingBatcher(inputs => Volatile.Read(ref fail)
            ? throw new InvalidDataException("the model broke")
            : inputs.Select(input => input).ToArray(), maxBatch: 8);

        var failure = await Assert.ThrowsAsync<InvalidOperationException>(() => Task.Run(() => batcher.Embed([1])));
        Assert.IsType<InvalidDataException>(failure.InnerException);

        Volatile.Write(ref fail, false);
        Assert.Equal([5f], batcher.Embed([5]));
    }
}
