// Liveness between MemoryX and the systems. MPICH's process manager, started with -disable-auto-cleanup, leaves the
// other ranks running when one dies, but its MPI calls never report the death (a receive from a dead rank just never
// completes; its fault-tolerance mode asserted in ch4 when tried). So every rank's own thread sends a one-byte beat to
// the ranks that watch it (systems to rank 0, rank 0 to every system) every PeriodMs, and takes theirs; a wait that
// has heard nothing from a watched rank for the timeout ends with SwarmFailure naming that rank. A rank that is busy
// computing still beats (its thread is its own), so a slow step is never taken for a dead one.
namespace Wafer.Swarm;

/// <summary>A peer went silent, or a rank's work failed: what to report and the job's exit code.</summary>
internal sealed class SwarmFailure(string message) : Exception(message);

internal sealed unsafe class Heartbeat : IDisposable
{
    public const int PeriodMs = 250;
    private readonly int[] _watched;
    private readonly long[] _lastHeardMs;   // by rank, Environment.TickCount64
    private readonly double _timeoutSeconds;
    private readonly Func<int, string> _describe;
    private readonly Thread _thread;
    private volatile bool _stop;

    /// <summary>Beats to and watches the given ranks; describe(rank) names a rank in the failure message.</summary>
    public Heartbeat(int size, int[] watched, double timeoutSeconds, Func<int, string> describe)
    {
        _watched = watched;
        _timeoutSeconds = timeoutSeconds;
        _describe = describe;
        _lastHeardMs = new long[size];
        Array.Fill(_lastHeardMs, Environment.TickCount64);
        _thread = new Thread(Run) { IsBackground = true, Name = "swarmx-heartbeat" };
        _thread.Start();
    }

    /// <summary>Throws SwarmFailure when a watched rank has been silent for longer than the timeout.</summary>
    public void Check()
    {
        var now = Environment.TickCount64;
        foreach (var r in _watched)
        {
            var silentSeconds = (now - Interlocked.Read(ref _lastHeardMs[r])) / 1000.0;
            if (silentSeconds > _timeoutSeconds)
                throw new SwarmFailure($"{_describe(r)} stopped answering: nothing heard from it for {silentSeconds:F1} s (--swarmx-timeout {_timeoutSeconds:G})");
        }
    }

    // The beat's bytes live outside the managed heap and are never freed: the receive posted last is still pending when
    // the thread ends, and a late beat may land in it until MPI_Finalize.
    private readonly byte* _bytes = (byte*)System.Runtime.InteropServices.NativeMemory.AllocZeroed(2);

    private void Run()
    {
        byte* beat = _bytes, received = _bytes + 1;
        *beat = 1;
        var request = 0;
        int flag;
        Mpi.Status status;
        Mpi.Check(Mpi.Irecv(received, 1, Mpi.Byte, Mpi.AnySource, Wire.TagHeartbeat, Mpi.CommWorld, &request), "MPI_Irecv");
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
                    int send;
                    Mpi.Check(Mpi.Isend(beat, 1, Mpi.Byte, r, Wire.TagHeartbeat, Mpi.CommWorld, &send), "MPI_Isend");
                    Mpi.Check(Mpi.RequestFree(&send), "MPI_Request_free");
                }
                nextBeat = now + PeriodMs;
            }
            while (true)
            {
                Mpi.Check(Mpi.Test(&request, &flag, &status), "MPI_Test");
                if (flag == 0) break;
                Interlocked.Exchange(ref _lastHeardMs[status.Source], Environment.TickCount64);
                Mpi.Check(Mpi.Irecv(received, 1, Mpi.Byte, Mpi.AnySource, Wire.TagHeartbeat, Mpi.CommWorld, &request), "MPI_Irecv");
            }
            Thread.Sleep(20);
        }
        // The last receive is cancelled and completed, so MPI_Finalize finds no request of this rank pending.
        Mpi.Check(Mpi.Cancel(&request), "MPI_Cancel");
        for (var i = 0; i < 1000; i++)
        {
            Mpi.Check(Mpi.Test(&request, &flag, &status), "MPI_Test");
            if (flag != 0) break;
            Thread.Sleep(1);
        }
    }

    public void Dispose()
    {
        _stop = true;
        _thread.Join();
    }
}
