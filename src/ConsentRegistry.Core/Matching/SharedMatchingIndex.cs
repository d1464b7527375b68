namespace ConsentRegistry.Core.Matching;

/// <summary>
/// The matching index shared by many concurrent readers (lookups) and one writer (the log
/// tailer). Readers hold the lock for a chunk of items, never across an await. Writers are
/// serialised among themselves, so that work which only reads the index can run outside the lock.
/// </summary>
public sealed class SharedMatchingIndex : IDisposable
{
    private readonly ReaderWriterLockSlim _lock = new(LockRecursionPolicy.NoRecursion);
    private MatchingIndex _index;
    private readonly Lock _writer = new();
    private readonly ApproximateVectorSettings? _approximate;
    private long _appliedSeq;
    private bool _ready;
    private int _disposed;

    public SharedMatchingIndex()
        : this(null)
    {
    }

    /// <summary>A shared index whose embeddings are searched approximately as <paramref name="approximate"/> says.</summary>
    public SharedMatchingIndex(ApproximateVectorSettings? approximate)
    {
        _approximate = approximate;
        _index = new MatchingIndex(approximate);
        _index.BeginBulkLoad(); // until MarkReady compacts it
    }

    /// <summary>Whether approximate vector indexes are built as models reach the threshold: from <see cref="MarkReady"/> on.</summary>
    private bool _vectorIndexesBuilt;

    /// <summary>True once the index has been built from the store.</summary>
    public bool IsReady => Volatile.Read(ref _ready);

    /// <summary>The log seq the index reflects, readable without the lock.</summary>
    public long AppliedSeq => Volatile.Read(ref _appliedSeq);

    public ReadScope Read()
    {
        _lock.EnterReadLock();
        return new ReadScope(this);
    }

    public void Write(Action<MatchingIndex> apply)
    {
        lock (_writer)
        {
            WriteHoldingWriter(apply);
        }
    }

    /// <summary>
    /// As <see cref="Write"/> if no other writer holds the index for longer than
    /// <paramref name="wait"/> (a snapshot being written, a large merge); false, and nothing
    /// applied, otherwise: the caller then leaves the change to be read from the log.
    /// </summary>
    /// <remarks>
    /// With <paramref name="merge"/> false the merges and vector indexes the change makes due are
    /// left for <see cref="TryMerge"/> (or the next write that merges): the claim writer applies its
    /// commits so and merges once the callers waiting on it are answered.
    /// </remarks>
    public bool TryWrite(Action<MatchingIndex> apply, TimeSpan wait, bool merge = true)
    {
        if (!_writer.TryEnter(wait))
        {
            return false;
        }

        try
        {
            if (IsDisposed)
            {
                return false;
            }

            WriteHoldingWriter(apply, merge);
            return true;
        }
        finally
        {
            _writer.Exit();
        }
    }

    /// <summary>
    /// Runs the merges and builds the vector indexes that are due, if no other writer holds the
    /// index for longer than <paramref name="wait"/>; false, and nothing done, otherwise.
    /// </summary>
    public bool TryMerge(TimeSpan wait)
    {
        if (!_writer.TryEnter(wait))
        {
            return false;
        }

        try
        {
            if (IsDisposed)
            {
                return false;
            }

            MergeHoldingWriter();
            return true;
        }
        finally
        {
            _writer.Exit();
        }
    }

    private void WriteHoldingWriter(Action<MatchingIndex> apply, bool merge = true)
    {
        _lock.EnterWriteLock();
        try
        {
            apply(_index);
        }
        finally
        {
            Volatile.Write(ref _appliedSeq, _index.AppliedSeq);
            _lock.ExitWriteLock();
        }

        if (merge)
        {
            MergeHoldingWriter();
        }
    }

    private void MergeHoldingWriter()
    {
        // A merge of PDQ or key segments rebuilds up to millions of entries (about 0.3 s a
        // million PDQ hashes); it reads only immutable segments, so lookups go on while it
        // runs and wait only for the swap.
        while (_index.PrepareMerge() is { } merge)
        {
            _lock.EnterWriteLock();
            try
            {
                _index.CommitMerge(merge);
            }
            finally
            {
                _lock.ExitWriteLock();
            }
        }

        // Likewise a model's approximate vector index, first built or built again (seconds for 20,000
        // vectors), once the index serves: during the build from the store, one built at the
        // threshold would then take every later vector one at a time under the write lock (a million
        // into an HNSW graph: half an hour); built once at the end, it adds them from every core.
        if (_vectorIndexesBuilt && _index.PrepareVectorIndexes() is { Count: > 0 } vectors)
        {
            _lock.EnterWriteLock();
            try
            {
                _index.CommitVectorIndexes(vectors);
            }
            finally
            {
                _lock.ExitWriteLock();
            }
        }
    }

    /// <summary>
    /// Before the index is ready: replaces what it holds with the index in <paramref name="snapshot"/>,
    /// whose log after <see cref="MatchingIndex.AppliedSeq"/> is then applied as usual. Throws
    /// <see cref="Snapshots.SnapshotFormatException"/> for a corrupt file, leaving the index as it was.
    /// </summary>
    public void Load(Snapshots.SnapshotReader snapshot)
    {
        if (IsReady)
        {
            throw new InvalidOperationException("The index is serving already; a snapshot is loaded only before it is ready.");
        }

        var loaded = MatchingIndex.ReadSnapshot(snapshot, _approximate);
        lock (_writer)
        {
            _lock.EnterWriteLock();
            try
            {
                var replaced = _index;
                _index = loaded; // not in bulk load: its hot keys are known, and what follows is the log since
                Volatile.Write(ref _appliedSeq, _index.AppliedSeq);
                replaced.Dispose();
            }
            finally
            {
                _lock.ExitWriteLock();
            }
        }
    }

    /// <summary>
    /// Runs <paramref name="write"/> (a snapshot writer) with the index as it stands, unless a pass
    /// over the log is half applied (<see cref="MatchingIndex.InLogPass"/>: its claims may be in
    /// and its revocations not yet, so the index is at no one seq) or the index is disposed (its
    /// native vector indexes freed); false then, and nothing ran. Other writers wait until it is
    /// done, so the index holds still, while lookups go on beside it.
    /// </summary>
    public bool TryWriteSnapshot(Action<MatchingIndex> write)
    {
        lock (_writer)
        {
            if (IsDisposed || _index.InLogPass)
            {
                return false;
            }

            write(_index);
            return true;
        }
    }

    /// <summary>
    /// Called once the build from the store is done: compacts the index, then serves lookups.
    /// After a snapshot was adopted, <paramref name="compact"/> false leaves its segments as they
    /// are (a whole rewrite at start would cost more than the snapshot saved).
    /// </summary>
    public void MarkReady(bool compact = true)
    {
        Volatile.Write(ref _vectorIndexesBuilt, true);
        // A write even without compacting: its merges and approximate vector indexes follow.
        Write(index =>
        {
            if (compact)
            {
                index.Compact();
            }
        });

        Volatile.Write(ref _ready, true);
    }

    public (int Claims, long Subjects) Size()
    {
        using var scope = Read();
        return (scope.Index.ClaimCount - scope.Index.DerivedEntryCount, scope.Index.SubjectCount);
    }

    /// <summary>Claims, subjects by kind and estimated bytes, read under the read lock; cheap (no walk over entries).</summary>
    public IndexSize Measure()
    {
        using var scope = Read();
        var index = scope.Index;
        return new IndexSize(index.ClaimCount - index.DerivedEntryCount, index.SubjectsByKind, index.EstimatedBytes);
    }

    /// <summary>
    /// Frees the index's native memory once no reader holds it (the write lock waits for them); a
    /// reader that comes later meets the disposed lock, not freed memory.
    /// </summary>
    /// <summary>
    /// Frees the index once no writer holds it: merges run outside the read-write lock, so a
    /// writer still draining at shutdown (the claim writer catching up) must not meet freed
    /// memory; a write or merge that comes after finds the index disposed and does nothing.
    /// </summary>
    public void Dispose()
    {
        lock (_writer)
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0)
            {
                return;
            }

            _lock.EnterWriteLock();
            try
            {
                _index.Dispose();
            }
            finally
            {
                _lock.ExitWriteLock();
            }

            _lock.Dispose();
        }
    }

    private bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    public readonly struct ReadScope(SharedMatchingIndex owner) : IDisposable
    {
        public MatchingIndex Index => owner._index;

        public void Dispose() => owner._lock.ExitReadLock();
    }
}

/// <summary>What <see cref="SharedMatchingIndex.Measure"/> reports.</summary>
public readonly record struct IndexSize(int Claims, SubjectCounts Subjects, long Bytes);
