// Lets two threads that each run a long chain of their own work (the executor's free-running batch shards, one per
// core) lend each other a hand: while one waits for the other (a segment not yet handed off, the end of the pass), it
// runs parts of whatever parallel job the other has in progress. A thread attached to a board posts every parallel job
// it runs (WorkerPool.Run inside a shard, which otherwise runs its parts one by one) and claims its parts itself; the
// waiting thread claims the rest. Parts already write their own outputs with a fixed summation order (that is what
// makes WorkerPool's results independent of the thread count), so which thread runs a part changes nothing in the
// results. The two shards end a nano pass 2.4-2.6 ms apart on average (one core slower than the other for a while: a
// shared host), measured over 500 steps (p90 5.5 ms), with that one idle meanwhile.
namespace Wafer.Gpt.Numerics;

internal sealed class HelpBoard
{
    /// <summary>One thread's posted job. Reused: a helper enters (Inside) and then checks the job is still posted, and
    /// the owner retires a job only once no helper is inside, so a helper never runs a part of a retired job.</summary>
    private sealed class Slot
    {
        public Action<int>? Body;
        public int Parts, Next, Done, Inside;
        public Exception? Error;
        public volatile bool Waiting;   // the slot's thread is in a wait (see OtherWaiting)

        public void Record(Exception e)
        {
            lock (this)
                if (Error is null || (Error is OperationCanceledException && e is not OperationCanceledException)) Error = e;
        }
    }

    private readonly Slot[] _slots = [new(), new()];

    /// <summary>Parts run by a helper since the process started (a diagnostic; tests check that helping happens).</summary>
    public static long PartsHelped => Interlocked.Read(ref s_partsHelped);
    private static long s_partsHelped;

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
    public static bool OtherWaiting => Current is { } b && b._slots[1 - t_self].Waiting;

    /// <summary>Runs body(0) .. body(parts - 1) on this thread, the other party taking parts while it waits.</summary>
    public void Run(int parts, Action<int> body)
    {
        var slot = _slots[t_self];
        slot.Parts = parts;
        slot.Next = 0;
        slot.Done = 0;
        slot.Error = null;
        Volatile.Write(ref slot.Body, body); // last: a helper that sees it sees the fields above (and the job's own)
        Work(slot, body);
        var spin = new SpinWait();
        while (Volatile.Read(ref slot.Done) < parts) spin.SpinOnce(-1);
        Volatile.Write(ref slot.Body, null);
        while (Volatile.Read(ref slot.Inside) != 0) spin.SpinOnce(-1); // a helper that entered late leaves with nothing
        // As the parts would have thrown run one by one on this thread (no wrapping): the first failure, as it was.
        if (slot.Error is not null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(slot.Error);
    }

    /// <summary>Marks the calling party as waiting (or no longer): the other splits its products while it waits.</summary>
    public static void SetWaiting(bool waiting)
    {
        if (t_board is { } b) b._slots[t_self].Waiting = waiting;
    }

    /// <summary>Called by a waiting party: runs unclaimed parts of the other's posted job, if any. True when it ran one.</summary>
    public static bool TryHelp()
    {
        if (t_board is not { } b || t_helping) return false;
        var slot = b._slots[1 - t_self];
        var body = Volatile.Read(ref slot.Body);
        if (body is null || Volatile.Read(ref slot.Next) >= slot.Parts) return false;
        Interlocked.Increment(ref slot.Inside);
        try
        {
            if (Volatile.Read(ref slot.Body) != body) return false;
            t_helping = true;
            return Work(slot, body);
        }
        finally
        {
            t_helping = false;
            Interlocked.Decrement(ref slot.Inside);
        }
    }

    private static bool Work(Slot slot, Action<int> body)
    {
        var ran = false;
        int p;
        while ((p = Interlocked.Increment(ref slot.Next) - 1) < slot.Parts)
        {
            ran = true;
            if (t_helping) Interlocked.Increment(ref s_partsHelped);
            try { body(p); }
            catch (Exception e) { slot.Record(e); }
            Interlocked.Increment(ref slot.Done);
        }
        return ran;
    }
}
