// SwarmX's messages: their tags, and sends and receives of any length (in pieces of at most PieceValues values, so a segment
// of any size fits MPI's int counts, and a tree node can pass a piece on while the next arrives). Every wait watches
// the heartbeat. The counts of bytes and messages this rank sends are what BENCHMARKS.md reports per step.
using System.Runtime.InteropServices;

namespace Wafer.Swarm;

internal sealed unsafe class Wire(Heartbeat? heartbeat)
{
    public const int TagHello = 1;      // system -> 0: who it is, its arguments and binary
    public const int TagJob = 2;        // 0 -> system: go (the model) or stop (a bad launch)
    public const int TagCommand = 3;    // 0 -> system: train or evaluate one batch, or end
    public const int TagResult = 4;     // system -> 0: the batch's loss (and wafer cycles), the system's counters
    public const int TagRequest = 5;    // a child of rank 0 -> 0: the segment it fetches next
    public const int TagWeights = 6;    // parent -> child: a segment's weights
    public const int TagGradient = 7;   // child -> parent: a segment's gradient term (a header, then the values)
    public const int TagHeartbeat = 8;

    /// <summary>Values one MPI message carries at most, of any type (16 MiB of 128-bit sums, 4 MiB of floats): a
    /// payload of n values travels as ceil(n / PieceValues) messages, so a node can receive and pass on piece by piece.</summary>
    public const int PieceValues = 1 << 20;

    /// <summary>How long a wait for a matched transfer spins before it sleeps between tests: on a 2-core host, 20 ms of
    /// spinning on MemoryX's rank cost the systems a third of their step (BENCHMARKS.md, SwarmX).</summary>
    private const int SpinMs = 20;

    private long _bytesSent, _messagesSent;
    public long BytesSent => Interlocked.Read(ref _bytesSent);
    public long MessagesSent => Interlocked.Read(ref _messagesSent);

    private void Watch() => heartbeat?.Check();

    /// <summary>An MPI call with peer failed: the heartbeat's account if it has one (it names the rank that died), else
    /// this call's.</summary>
    private SwarmFailure Lost(int peer, Mpi.Error e)
    {
        if (heartbeat is null) return new SwarmFailure($"rank {peer}: {e.Message}");
        heartbeat.Failed(peer, $"an MPI call with it failed ({e.Message})");
        try
        {
            heartbeat.Check();
        }
        catch (SwarmFailure f)
        {
            return f;
        }
        return new SwarmFailure($"{heartbeat.Describe(peer)}: {e.Message}");
    }

    public void Send<T>(int dest, int tag, ReadOnlySpan<T> values) where T : unmanaged
    {
        try
        {
            SendPieces(dest, tag, values);
        }
        catch (Mpi.Error e)
        {
            throw Lost(dest, e);
        }
    }

    /// <summary>Receives exactly values.Length values from source, sent by Send with the same tag.</summary>
    public void Receive<T>(int source, int tag, Span<T> values) where T : unmanaged
    {
        try
        {
            ReceivePieces(source, tag, values);
        }
        catch (Mpi.Error e)
        {
            throw Lost(source, e);
        }
    }

    private void SendPieces<T>(int dest, int tag, ReadOnlySpan<T> values) where T : unmanaged
    {
        var at = 0;
        do
        {
            var piece = MemoryMarshal.AsBytes(values.Slice(at, Math.Min(PieceValues, values.Length - at)));
            var n = piece.Length;
            fixed (byte* p = piece)
            {
                int request;
                Mpi.Check(Mpi.Isend(p, n, Mpi.Byte, dest, tag, Mpi.CommWorld, &request), "MPI_Isend");
                Mpi.Wait(request, Watch, SpinMs);
            }
            Interlocked.Add(ref _bytesSent, n);
            Interlocked.Increment(ref _messagesSent);
            at += PieceValues;
        } while (at < values.Length);
    }

    private void ReceivePieces<T>(int source, int tag, Span<T> values) where T : unmanaged
    {
        var at = 0;
        do
        {
            var piece = MemoryMarshal.AsBytes(values.Slice(at, Math.Min(PieceValues, values.Length - at)));
            var n = piece.Length;
            fixed (byte* p = piece)
            {
                int request, count;
                Mpi.Check(Mpi.Irecv(p, n, Mpi.Byte, source, tag, Mpi.CommWorld, &request), "MPI_Irecv");
                var status = Mpi.Wait(request, Watch, SpinMs);
                Mpi.Check(Mpi.GetCount(&status, Mpi.Byte, &count), "MPI_Get_count");
                if (count != n) throw new SwarmFailure($"rank {source} sent {count} bytes where {n} were due (tag {tag}): the ranks are out of step");
            }
            at += PieceValues;
        } while (at < values.Length);
    }

    /// <summary>A message of unknown length (at most PieceValues bytes): hellos and jobs.</summary>
    public byte[] ReceiveBlob(int source, int tag)
    {
        while (true)
        {
            int flag;
            Mpi.Status status;
            var rc = Mpi.Iprobe(source, tag, Mpi.CommWorld, &flag, &status);
            if (rc != Mpi.Success) throw Lost(source, new Mpi.Error(rc, "MPI_Iprobe"));
            if (flag != 0)
            {
                int count;
                Mpi.Check(Mpi.GetCount(&status, Mpi.Byte, &count), "MPI_Get_count");
                var blob = new byte[count];
                Receive<byte>(status.Source, tag, blob);
                return blob;
            }
            Watch();
            Thread.Sleep(1);
        }
    }

    /// <summary>Waits for the first message from any rank on any of the tags; returns its source and tag (not received).</summary>
    public (int Source, int Tag) Probe(ReadOnlySpan<int> tags)
    {
        var spins = 0;
        var since = Environment.TickCount64;
        while (true)
        {
            foreach (var tag in tags)
            {
                int flag;
                Mpi.Status status;
                // A probe of any source that fails (a peer died mid-message) is tried again: the heartbeat names the
                // peer within its timeout.
                if (Mpi.Iprobe(Mpi.AnySource, tag, Mpi.CommWorld, &flag, &status) != Mpi.Success) continue;
                if (flag != 0) return (status.Source, tag);
            }
            if (++spins % 64 == 0) Watch();
            // A new message is awaited while the peers compute: a short spin, then sleeps that leave them the cores.
            if (Environment.TickCount64 - since < SpinMs) Thread.Yield();
            else Thread.Sleep(1);
        }
    }
}
