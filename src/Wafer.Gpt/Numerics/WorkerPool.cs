// Runs the parts of a parallel job on the caller and up to threads - 1 persistent workers. Workers spin for a short
// while between jobs instead of sleeping: a training step issues hundreds of sub-millisecond products, and waking a
// sleeping pool thread (Parallel.For) cost more than the product itself (nano's matmuls ran slower on two
// threads than on one that way). Parts are claimed dynamically; each part writes its own outputs with a fixed summation
// order, so results do not depend on which thread ran it. Several callers may run jobs at once (two executors in one
// process, tests in parallel): every job in progress is listed, a free worker takes a part of any of them, and the pool
// holds at least as many workers as the jobs in progress ask for together, so a job whose parts wait on each other (the
// free-running batch shards) always gets its threads.
using System.Diagnostics;

namespace Wafer.Gpt.Numerics;

internal static class WorkerPool
{
    /// <summary>How long an idle worker spins before it blocks, e.g. 200 us (longer than the gaps between products).</summary>
    private static readonly long SpinTicks = Stopwatch.Frequency / 5000;

    /// <summary>One parallel job: its parts are claimed through Next by whichever threads work on it (the pool's, or
    /// a waiting batch shard's through HelpBoard).</summary>
    internal sealed class Job(Action<int> body, int parts)
    {
        public readonly Action<int> Body = body;
        public readonly int Parts = parts;
        public int Next;
        public int Done;
        public Exception? Error;

        /// <summary>Keeps the first failure, except that a part's cancellation (OperationCanceledException: it gave up
        /// because another part failed) yields to the failure that caused it.</summary>
        public void Record(Exception e)
        {
            lock (this)
                if (Error is null || (Error is OperationCanceledException && e is not OperationCanceledException)) Error = e;
        }
    }

    private static readonly object Gate = new();
    private static readonly ManualResetEventSlim Wake = new(false, 0);
    private static Job[] _active = [];   // jobs in progress, replaced (not changed) under Gate: workers read it unlocked
    private static int _demand;          // helper threads the jobs in progress ask for together
    private static int _workers;

    /// <summary>True on a thread while it runs a part of a parallel job: a parallel call made from inside a part (a
    /// product inside one batch shard) runs inline on that thread (or through the shard's HelpBoard), not as a job of
    /// its own.</summary>
    public static bool InPart => t_inPart;
    [ThreadStatic] private static bool t_inPart;

    /// <summary>Runs body(0) ... body(parts - 1), on up to `threads` threads (the caller is one), and returns when all are done.</summary>
    public static void Run(int parts, int threads, Action<int> body)
    {
        if (parts <= 1 || threads <= 1 || t_inPart)
        {
            // Inside a free-running batch shard: the other shard may take parts while it waits (HelpBoard).
            if (parts > 1 && threads > 1 && HelpBoard.Current is { } board) board.Run(parts, body);
            else for (var p = 0; p < parts; p++) body(p);
            return;
        }
        var helpers = Math.Min(threads, parts) - 1;
        var job = new Job(body, parts);
        Post(job, helpers);
        try
        {
            Work(job);
            AwaitDone(job);
        }
        finally { Withdraw(job, helpers); }
        if (job.Error is not null) throw new AggregateException(job.Error);
    }

    /// <summary>Lists the job for the workers, with enough of them for every job in progress.</summary>
    private static void Post(Job job, int helpers)
    {
        lock (Gate)
        {
            _demand += helpers;
            while (_workers < _demand)
            {
                new Thread(WorkerLoop) { IsBackground = true, Name = $"wafer-pool-{_workers}" }.Start();
                _workers++;
            }
            Volatile.Write(ref _active, [.. _active, job]);
        }
        Wake.Set();
    }

    private static void Withdraw(Job job, int helpers)
    {
        lock (Gate)
        {
            _demand -= helpers;
            var rest = new Job[_active.Length - 1];
            var n = 0;
            foreach (var j in _active)
                if (j != job) rest[n++] = j;
            Volatile.Write(ref _active, rest);
        }
    }

    /// <summary>Runs parts of the job until none is left to claim; returns how many this thread ran. A part's failure
    /// is recorded in the job (its owner throws it).</summary>
    internal static int Work(Job job)
    {
        var ran = 0;
        var wasInPart = t_inPart; // a batch shard helping the other is inside a part already
        int p;
        while ((p = Interlocked.Increment(ref job.Next) - 1) < job.Parts)
        {
            ran++;
            t_inPart = true;
            try { job.Body(p); }
            catch (Exception e) { job.Record(e); }
            finally { t_inPart = wasInPart; }
            Interlocked.Increment(ref job.Done);
        }
        return ran;
    }

    /// <summary>Spins until every part of the job is done.</summary>
    internal static void AwaitDone(Job job)
    {
        var spin = new SpinWait();
        while (Volatile.Read(ref job.Done) < job.Parts) spin.SpinOnce(-1);
    }

    /// <summary>A listed job with a part left to claim, the oldest first; null when none.</summary>
    private static Job? Claimable()
    {
        foreach (var job in Volatile.Read(ref _active))
            if (Volatile.Read(ref job.Next) < job.Parts) return job;
        return null;
    }

    private static void WorkerLoop()
    {
        while (true)
        {
            Job? job;
            var since = Stopwatch.GetTimestamp();
            var iterations = 0;
            while ((job = Claimable()) is null)
            {
                Thread.SpinWait(20);
                if ((++iterations & 63) != 0 || Stopwatch.GetTimestamp() - since < SpinTicks) continue;
                Wake.Reset();
                if (Claimable() is null) Wake.Wait();
                since = Stopwatch.GetTimestamp();
            }
            Work(job);
        }
    }
}
