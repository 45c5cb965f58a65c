// Per-segment hand-offs between the two batch shards of a free-running pass (GptExecutor.RunFree): who fetches a
// segment's weights and when they are ready; which shard finished a segment second; the segment's reduction (the
// gradient hand-off to MemoryX) as chunk tasks either shard may claim, and when it is done. The shards run one per
// core, so a wait spins (it is short: the other shard is at most a segment or two behind) and never sleeps; a failure
// in either shard releases every wait with an exception instead of a deadlock.
using Wafer.Gpt.Numerics;

namespace Wafer.Gpt.Model;

internal sealed class SegmentFlags(int segments)
{
    private readonly int[] _claimed = new int[segments];
    private readonly float[]?[] _weights = new float[segments][];
    private readonly int[] _finished = new int[segments];
    private readonly int[] _tasks = new int[segments];
    private readonly int[] _published = new int[segments];
    private readonly int[] _nextTask = new int[segments];
    private readonly int[] _doneTasks = new int[segments];
    private readonly int[] _reduced = new int[segments];
    private volatile bool _failed;

    public void Reset()
    {
        foreach (var a in new[] { _claimed, _finished, _tasks, _published, _nextTask, _doneTasks, _reduced }) Array.Clear(a);
        Array.Clear(_weights);
        _failed = false;
    }

    /// <summary>Marks the pass failed: every wait throws from now on.</summary>
    public void Fail() => _failed = true;

    /// <summary>Fetches segment s with fetch() on this thread if no shard has claimed it yet (and publishes it); else
    /// returns at once.</summary>
    public void Claim(int s, Func<float[]> fetch)
    {
        if (Interlocked.CompareExchange(ref _claimed[s], 1, 0) != 0) return;
        Volatile.Write(ref _weights[s], fetch());
    }

    /// <summary>Segment s's weights: fetched here when unclaimed, else waited for.</summary>
    public float[] Weights(int s, Func<float[]> fetch)
    {
        Claim(s, fetch);
        var w = Volatile.Read(ref _weights[s]);
        if (w is not null) return w;
        HelpBoard.SetWaiting(true);
        try
        {
            var spin = new SpinWait();
            while ((w = Volatile.Read(ref _weights[s])) is null) Pause(ref spin);
        }
        finally { HelpBoard.SetWaiting(false); }
        return w;
    }

    /// <summary>Records that one shard finished segment s; true for the second (which then publishes its reduction).</summary>
    public bool FinishIsLast(int s) => Interlocked.Increment(ref _finished[s]) == 2;

    /// <summary>Makes segment s's reduction, `tasks` chunk tasks, claimable (none: it is done at once).</summary>
    public void Publish(int s, int tasks)
    {
        _tasks[s] = tasks;
        if (tasks == 0) Volatile.Write(ref _reduced[s], 1);
        else Volatile.Write(ref _published[s], 1);
    }

    public bool IsReduced(int s) => Volatile.Read(ref _reduced[s]) != 0;

    /// <summary>Runs unclaimed tasks of segment s's published reduction (run(s, task)); the thread that completes its last
    /// task calls end(s) and marks it reduced. False when there was nothing to claim.</summary>
    public bool Help(int s, Action<int, int> run, Action<int> end)
    {
        if (Volatile.Read(ref _published[s]) == 0 || Volatile.Read(ref _nextTask[s]) >= _tasks[s]) return false;
        int k;
        while ((k = Interlocked.Increment(ref _nextTask[s]) - 1) < _tasks[s])
        {
            run(s, k);
            if (Interlocked.Increment(ref _doneTasks[s]) != _tasks[s]) continue;
            end(s);
            Volatile.Write(ref _reduced[s], 1);
        }
        return true;
    }

    /// <summary>Waits until segment s has been reduced, helping with its tasks meanwhile.</summary>
    public void AwaitReduced(int s, Action<int, int> run, Action<int> end)
    {
        if (IsReduced(s)) return;
        HelpBoard.SetWaiting(true);
        try
        {
            var spin = new SpinWait();
            while (!IsReduced(s))
                if (!Help(s, run, end)) Pause(ref spin);
        }
        finally { HelpBoard.SetWaiting(false); }
    }

    private void Pause(ref SpinWait spin)
    {
        // A cancellation: the worker pool reports the other shard's own exception in preference to this one.
        if (_failed) throw new OperationCanceledException("the other batch shard failed");
        if (HelpBoard.TryHelp()) spin.Reset(); // a part of the other shard's job in progress, if any
        else spin.SpinOnce(sleep1Threshold: -1);
    }
}
