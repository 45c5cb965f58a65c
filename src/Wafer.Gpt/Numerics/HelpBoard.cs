// Lets two threads that each run a long chain of their own work (the executor's free-running batch shards, one per
// core) lend each other a hand: while one waits for the other (a segment not yet handed off, the end of the pass), it
// runs parts of whatever parallel job the other has in progress. A thread attached to a board posts every parallel job
// it runs (WorkerPool.Run inside a shard, which otherwise runs its parts one by one) and claims its parts itself; the
// waiting thread claims the rest. Parts already write their own outputs with a fixed summation order (that is what
// makes WorkerPool's results independent of the thread count), so which thread runs a part changes nothing in the
// results. Why: on a shared host one core runs slower than the other for a while, so the two shards end a pass apart,
// and without the board the first to finish would idle until the other ends.
namespace Wafer.Gpt.Numerics;

internal sealed class HelpBoard
{
    // Per party: the job it is running now (a fresh WorkerPool.Job per post, so a helper holding a finished one only
    // finds nothing left to claim), and whether it is waiting.
    private readonly WorkerPool.Job?[] _posted = new WorkerPool.Job?[2];
    private readonly bool[] _waiting = new bool[2];

    /// <summary>Parts run by a helper on this board (a diagnostic; tests check that helping happens).</summary>
    public long PartsHelped => Interlocked.Read(ref _partsHelped);
    private long _partsHelped;

    [ThreadStatic] private static HelpBoard? t_board;
    [ThreadStatic] private static int t_self;
    [ThreadStatic] private static bool t_helping;

    /// <summary>Attaches the calling thread as party `self` (0 or 1) until the returned scope is disposed.</summary>
    public Scope Attach(int self)
    {
        if (self is not (0 or 1)) throw new ArgumentOutOfRangeException(nameof(self));
        t_board = this;
        t_self = self;
        return new Scope();
    }

    public readonly struct Scope : IDisposable
    {
        public void Dispose() => t_board = null;
    }

    /// <summary>The board the calling thread may post to: attached, and not running a part of the other's job (a part
    /// runs inline, as it would on a pool worker).</summary>
    public static HelpBoard? Current => t_helping ? null : t_board;

    /// <summary>Whether the other party is waiting now (and so would take parts of a job posted now).</summary>
    public static bool OtherWaiting => Current is { } b && Volatile.Read(ref b._waiting[1 - t_self]);

    /// <summary>Runs body(0) .. body(parts - 1) on this thread, the other party taking parts while it waits. A failed
    /// part is rethrown as it was, as if the parts had run one by one here.</summary>
    public void Run(int parts, Action<int> body)
    {
        var job = new WorkerPool.Job(body, parts);
        Volatile.Write(ref _posted[t_self], job);
        WorkerPool.Work(job);
        WorkerPool.AwaitDone(job);
        Volatile.Write(ref _posted[t_self], null);
        if (job.Error is not null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(job.Error);
    }

    /// <summary>Marks the calling party as waiting (or no longer): the other splits its products while it waits.</summary>
    public static void SetWaiting(bool waiting)
    {
        if (t_board is { } b) Volatile.Write(ref b._waiting[t_self], waiting);
    }

    /// <summary>Called by a waiting party: runs unclaimed parts of the other's posted job, if any. True when it ran one.</summary>
    public static bool TryHelp()
    {
        if (t_board is not { } b || t_helping) return false;
        var job = Volatile.Read(ref b._posted[1 - t_self]);
        if (job is null || Volatile.Read(ref job.Next) >= job.Parts) return false;
        t_helping = true;
        try
        {
            var ran = WorkerPool.Work(job);
            Interlocked.Add(ref b._partsHelped, ran);
            return ran > 0;
        }
        finally { t_helping = false; }
    }
}
