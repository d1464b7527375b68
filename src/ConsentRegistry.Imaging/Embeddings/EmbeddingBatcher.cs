namespace ConsentRegistry.Imaging.Embeddings;

/// <summary>
/// Runs the embedder for many callers at once: each caller queues its input and one of them (the
/// leader) runs what is queued as one batch of up to <see cref="MaxBatch"/>, so that concurrent
/// images (uploads, the worker's jobs) share inference calls (larger matrix products use the
/// cores better), and only one inference runs at a time, its activations the only ones held.
/// A leader runs one batch and hands on: no caller waits for more than the batches ahead of it.
/// </summary>
public sealed class EmbeddingBatcher(Func<IReadOnlyList<float[]>, float[][]> infer, int maxBatch)
{
    private readonly Lock _queueLock = new();
    private readonly Queue<Pending> _queue = new();
    private bool _running;

    public int MaxBatch => maxBatch;

    /// <summary>The vector of one preprocessed input; blocks until its batch has run.</summary>
    public float[] Embed(float[] input)
    {
        var pending = new Pending(input);
        bool lead;
        lock (_queueLock)
        {
            _queue.Enqueue(pending);
            lead = !_running;
            _running = true;
        }

        if (!lead)
        {
            pending.Turn.Wait();
            if (pending.IsDone)
            {
                return pending.Result();
            }
        }

        // This caller leads: it runs the next batch (its own input is in it) and hands the lead on.
        RunBatch();
        return pending.Result();
    }

    private void RunBatch()
    {
        List<Pending> batch;
        lock (_queueLock)
        {
            batch = new List<Pending>(Math.Min(maxBatch, _queue.Count));
            while (batch.Count < maxBatch && _queue.TryDequeue(out var next))
            {
                batch.Add(next);
            }
        }

        try
        {
            var vectors = infer(batch.ConvertAll(p => p.Input));
            for (var i = 0; i < batch.Count; i++)
            {
                batch[i].Complete(vectors[i], null);
            }
        }
        catch (Exception e)
        {
            batch.ForEach(p => p.Complete(null, e));
        }

        lock (_queueLock)
        {
            if (_queue.TryPeek(out var nextLeader))
            {
                nextLeader.Turn.Set(); // not done: it wakes to lead the next batch
            }
            else
            {
                _running = false;
            }
        }

        foreach (var done in batch)
        {
            done.Turn.Set();
        }
    }

    private sealed class Pending(float[] input)
    {
        private float[]? _vector;
        private Exception? _error;

        public float[] Input { get; } = input;

        public ManualResetEventSlim Turn { get; } = new();

        public bool IsDone { get; private set; }

        public void Complete(float[]? vector, Exception? error)
        {
            (_vector, _error) = (vector, error);
            IsDone = true;
        }

        public float[] Result() =>
            // Turn is not disposed: the leader may still be inside Set when this caller wakes (it holds no kernel handle).
            _error is null ? _vector! : throw new InvalidOperationException("Embedding the image failed.", _error);
    }
}
