// Liveness between MemoryX and the systems. MPICH's process manager, started with -disable-auto-cleanup, leaves the
// other ranks running when one dies, but its MPI calls never report the death (a receive from a dead rank just never
// completes; its fault-tolerance mode asserted in ch4 when tried). So every rank's own thread sends a one-byte beat to
// the ranks that watch it (systems to rank 0, rank 0 to every system) every PeriodMs, and takes theirs; a wait that
// has heard nothing from a watched rank for the timeout ends with SwarmFailure naming that rank. A rank that is busy
// computing still beats (its thread is its own), so a slow step is never taken for a dead one.
namespace Wafer.Swarm;

/// <summary>A peer went silent, or a rank's work failed: what to report and the job's exit code.</summary>
internal sealed class SwarmFailure(string message) : Exception(message);

internal sealed unsafe partial class Heartbeat : IDisposable
{
    public const int PeriodMs = 250;
    private readonly int[] _watched;
    private readonly long[] _lastHeardMs;   // by rank, Environment.TickCount64
    private readonly double _timeoutSeconds;
    private readonly Func<int, string> _describe;
    private readonly string?[] _failures;   // by rank: an MPI call with it failed (it has died)
    private readonly Thread _thread, _watchdog;
    private volatile bool _stop;
    private volatile Exception? _broken;
    private readonly int[] _localPids;       // by rank: its process id where it runs on this host, else 0
    private readonly Action<SwarmFailure> _onLost;

    [System.Runtime.InteropServices.LibraryImport("libc.so.6", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    /// <summary>Beats to and watches the given ranks; describe(rank) names a rank in the failure message; onLost is
    /// called once, from the heartbeat's own thread, when a watched rank is found dead or silent (the rank's main thread
    /// may be inside an MPI call that never returns).</summary>
    public Heartbeat(int size, int[] watched, double timeoutSeconds, Func<int, string> describe, Action<SwarmFailure> onLost)
    {
        _onLost = onLost;
        _localPids = new int[size];
        _watched = watched;
        _timeoutSeconds = timeoutSeconds;
        _describe = describe;
        _lastHeardMs = new long[size];
        _failures = new string?[size];
        _bytes = (byte*)System.Runtime.InteropServices.NativeMemory.AllocZeroed((nuint)(1 + watched.Length));
        Array.Fill(_lastHeardMs, Environment.TickCount64);
        _thread = new Thread(Run) { IsBackground = true, Name = "swarmx-heartbeat" };
        _thread.Start();
        // The watchdog makes no MPI call: a dead peer can leave MPI calls of this rank blocked (the beats included).
        _watchdog = new Thread(Watch) { IsBackground = true, Name = "swarmx-watchdog" };
        _watchdog.Start();
    }

    public string Describe(int rank) => _describe(rank);

    /// <summary>Rank runs on this host as process pid: its exit is seen at once, not only by its silence.</summary>
    public void WatchProcess(int rank, int pid) => Volatile.Write(ref _localPids[rank], pid);

    /// <summary>Notes that an MPI call with rank failed (the next Check names it).</summary>
    public void Failed(int rank, string what) => Interlocked.CompareExchange(ref _failures[rank], what, null);

    /// <summary>Throws SwarmFailure when a watched rank has been silent for longer than the timeout, or an MPI call with
    /// it has failed.</summary>
    public void Check()
    {
        if (_broken is { } b) throw new SwarmFailure($"the heartbeat thread failed: {b.Message}");
        foreach (var r in _watched)
        {
            if (Volatile.Read(ref _failures[r]) is { } failure) throw new SwarmFailure($"{_describe(r)} stopped answering: {failure}");
            var pid = Volatile.Read(ref _localPids[r]);
            if (pid > 0 && !Alive(pid)) throw new SwarmFailure($"{_describe(r)} stopped answering: its process has exited");
        }
        // Where several are silent, the one silent longest is named: the others may be waiting on it.
        var now = Environment.TickCount64;
        var quietest = _watched.MinBy(r => Interlocked.Read(ref _lastHeardMs[r]));
        var silentSeconds = (now - Interlocked.Read(ref _lastHeardMs[quietest])) / 1000.0;
        if (silentSeconds > _timeoutSeconds)
            throw new SwarmFailure($"{_describe(quietest)} stopped answering: nothing heard from it for {silentSeconds:F1} s (--swarmx-timeout {_timeoutSeconds:G})");
    }

    // The beats' bytes (one to send, one per watched rank to receive into) live outside the managed heap and are never
    // freed: a receive whose cancel failed is still pending when the thread ends.
    private readonly byte* _bytes;

    /// <summary>kill(pid, 0) fails with ESRCH (3) once the process is gone; until its parent (RankProcess) reaps it, a
    /// dead process is a zombie, state Z in /proc/pid/stat.</summary>
    private static bool Alive(int pid)
    {
        if (Kill(pid, 0) != 0) return System.Runtime.InteropServices.Marshal.GetLastPInvokeError() != 3;
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var state = stat.LastIndexOf(')') is var close and >= 0 && close + 2 < stat.Length ? stat[close + 2] : 'R';
            return state != 'Z' && state != 'X';
        }
        catch (IOException)
        {
            return false; // gone between the two looks
        }
    }

    private void Watch()
    {
        while (!_stop)
        {
            try
            {
                Check();
            }
            catch (SwarmFailure f)
            {
                _onLost(f);
                return;
            }
            Thread.Sleep(20);
        }
    }

    private void Run()
    {
        try
        {
            Beat();
        }
        catch (Exception e)
        {
            _broken = e;
        }
    }

    private void Beat()
    {
        byte* beat = _bytes;
        *beat = 1;
        // One receive posted per watched rank (not one from any source: after a peer dies, MPICH fails receives from
        // any source, which would silence the live peers too).
        var requests = new int[_watched.Length];
        var open = new bool[_watched.Length];
        int flag;
        Mpi.Status status;
        for (var i = 0; i < _watched.Length; i++) open[i] = Post(i, ref requests[i]);
        var nextBeat = 0L;
        while (!_stop)
        {
            var now = Environment.TickCount64;
            if (now >= nextBeat)
            {
                foreach (var r in _watched)
                {
                    // Eager one-byte sends complete locally; the request is freed, never waited on (a dead peer never
                    // takes it).
                    if (Volatile.Read(ref _failures[r]) is not null) continue;
                    int send;
                    var rc = Mpi.Isend(beat, 1, Mpi.Byte, r, Wire.TagHeartbeat, Mpi.CommWorld, &send);
                    if (rc != Mpi.Success) Failed(r, $"a heartbeat to it failed (MPI error {rc})");
                    else Mpi.Check(Mpi.RequestFree(&send), "MPI_Request_free");
                }
                nextBeat = now + PeriodMs;
            }
            for (var i = 0; i < _watched.Length; i++)
            {
                while (open[i])
                {
                    fixed (int* request = &requests[i])
                    {
                        var rc = Mpi.Test(request, &flag, &status);
                        if (rc != Mpi.Success)
                        {
                            Failed(_watched[i], $"a heartbeat from it failed (MPI error {rc})");
                            open[i] = false;
                            break;
                        }
                    }
                    if (flag == 0) break;
                    if (status.Error != Mpi.Success)
                    {
                        // Completed with an error: the peer is gone (MPICH completes receives from a dead rank so).
                        Failed(_watched[i], $"a heartbeat from it failed (MPI error {status.Error})");
                        open[i] = false;
                        break;
                    }
                    Interlocked.Exchange(ref _lastHeardMs[_watched[i]], Environment.TickCount64);
                    open[i] = Post(i, ref requests[i]);
                }
            }
            Thread.Sleep(20);
        }
        // The posted receives are cancelled and completed, so MPI_Finalize finds no request of this rank pending.
        for (var i = 0; i < _watched.Length; i++)
        {
            if (!open[i]) continue;
            fixed (int* request = &requests[i])
            {
                if (Mpi.Cancel(request) != Mpi.Success) continue;
                for (var k = 0; k < 1000; k++)
                {
                    if (Mpi.Test(request, &flag, &status) != Mpi.Success || flag != 0) break;
                    Thread.Sleep(1);
                }
            }
        }
    }

    /// <summary>Posts the receive of watched rank i's next beat; false when MPI refuses (the rank has died).</summary>
    private bool Post(int i, ref int request)
    {
        int posted;
        var rc = Mpi.Irecv(_bytes + 1 + i, 1, Mpi.Byte, _watched[i], Wire.TagHeartbeat, Mpi.CommWorld, &posted);
        request = posted;
        if (rc == Mpi.Success) return true;
        Failed(_watched[i], $"a heartbeat from it could not be received (MPI error {rc})");
        return false;
    }

    public void Dispose()
    {
        _stop = true;
        _thread.Join();
        _watchdog.Join();
    }
}
