// A thin binding to the MPI C ABI of MPICH (Debian's package mpich, libmpich.so.12), the calls SwarmX needs and no
// more. MPICH's handles are C ints and its predefined ones fixed values of its ABI (mpi.h of MPICH 3.x and 4.x:
// MPI_COMM_WORLD 0x44000000, MPI_BYTE 0x4c00010d); a maintained .NET binding was not used because MPI.NET binds to
// MS-MPI by library name and OpenMPI was seen to crash under it (docs/swarmx.md, "Why this binding").
//
// Every wait is a loop over MPI_Test that first spins (yielding the core) and then sleeps a millisecond at a time, so
// a rank waiting for a peer that computes leaves the cores to it; between tests it asks `watch` whether a peer has
// gone silent (Heartbeat.cs), which then ends the wait with SwarmFailure instead of hanging.
using System.Runtime.InteropServices;
using System.Text;

namespace Wafer.Swarm;

internal static unsafe partial class Mpi
{
    private const string Library = "libmpich.so.12";
    public const int CommWorld = 0x44000000;
    public const int Byte = 0x4c00010d;
    public const int AnySource = -2;
    public const int ThreadMultiple = 3;
    public const int Success = 0;
    public const int ErrorsReturn = 0x54000001;

    [StructLayout(LayoutKind.Sequential)]
    public struct Status
    {
        public int CountLo, CountHiAndCancelled, Source, Tag, Error;
    }

    [LibraryImport(Library, EntryPoint = "MPI_Init_thread")] public static partial int InitThread(int* argc, byte*** argv, int required, int* provided);
    [LibraryImport(Library, EntryPoint = "MPI_Finalize")] public static partial int Finalize();
    [LibraryImport(Library, EntryPoint = "MPI_Abort")] public static partial int Abort(int comm, int code);
    [LibraryImport(Library, EntryPoint = "MPI_Comm_set_errhandler")] public static partial int CommSetErrhandler(int comm, int handler);
    [LibraryImport("libc.so.6", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8)] private static partial int SetEnv(string name, string value, int overwrite);
    [LibraryImport(Library, EntryPoint = "MPI_Comm_rank")] public static partial int CommRank(int comm, int* rank);
    [LibraryImport(Library, EntryPoint = "MPI_Comm_size")] public static partial int CommSize(int comm, int* size);
    [LibraryImport(Library, EntryPoint = "MPI_Isend")] public static partial int Isend(void* buffer, int count, int type, int dest, int tag, int comm, int* request);
    [LibraryImport(Library, EntryPoint = "MPI_Irecv")] public static partial int Irecv(void* buffer, int count, int type, int source, int tag, int comm, int* request);
    [LibraryImport(Library, EntryPoint = "MPI_Test")] public static partial int Test(int* request, int* flag, Status* status);
    [LibraryImport(Library, EntryPoint = "MPI_Iprobe")] public static partial int Iprobe(int source, int tag, int comm, int* flag, Status* status);
    [LibraryImport(Library, EntryPoint = "MPI_Get_count")] public static partial int GetCount(Status* status, int type, int* count);
    [LibraryImport(Library, EntryPoint = "MPI_Cancel")] public static partial int Cancel(int* request);
    [LibraryImport(Library, EntryPoint = "MPI_Request_free")] public static partial int RequestFree(int* request);
    [LibraryImport(Library, EntryPoint = "MPI_Get_library_version")] public static partial int GetLibraryVersion(byte* version, int* length);

    /// <summary>An MPI call that returned an error (errors return rather than abort: see Init).</summary>
    public sealed class Error(int code, string call) : Exception($"{call} failed with MPI error {code}")
    {
        public int Code { get; } = code;
    }

    public static void Check(int rc, string call)
    {
        if (rc != Success) throw new Error(rc, call);
    }

    /// <summary>MPI_Init_thread with MPI_THREAD_MULTIPLE (the prefetch, the heartbeat and the main thread all call MPI).
    /// Throws WaferInputException when the library is missing.</summary>
    public static (int Rank, int Size) Init()
    {
        int provided, rank, size;
        try
        {
            // MPICH's UCX transport copies large messages between processes of one host by process_vm_readv (UCX's
            // "cma"); when the peer has died that copy is a fatal error inside UCX, which aborts this rank before it
            // can report which peer died. So where every rank is on this host (hydra's MPI_LOCALNRANKS = PMI_SIZE),
            // the job uses UCX's shared-memory transports without cma: a dead peer then surfaces as an error of an
            // MPI call or as silence. (Without cma but with tcp, MPI_Finalize was seen to hang.) A UCX_TLS that the
            // user set is left as it is; across hosts UCX keeps its own choice (docs/swarmx.md, "Faults").
            var local = Environment.GetEnvironmentVariable("MPI_LOCALNRANKS");
            if (local is not null && local == Environment.GetEnvironmentVariable("PMI_SIZE")) SetEnv("UCX_TLS", "self,sysv,posix", overwrite: 0);
            Check(InitThread(null, null, ThreadMultiple, &provided), "MPI_Init_thread");
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            throw new Wafer.Core.WaferInputException($"--swarmx needs MPICH's {Library} (Debian: apt-get install mpich) and a launch by its mpiexec");
        }
        if (provided < ThreadMultiple) throw new InvalidOperationException($"MPI gives thread level {provided}; SwarmX needs MPI_THREAD_MULTIPLE ({ThreadMultiple})");
        // Errors come back as return codes (Check throws them), so a call that involves a dead peer ends in a report.
        Check(CommSetErrhandler(CommWorld, ErrorsReturn), "MPI_Comm_set_errhandler");
        Check(CommRank(CommWorld, &rank), "MPI_Comm_rank");
        Check(CommSize(CommWorld, &size), "MPI_Comm_size");
        return (rank, size);
    }

    public static string LibraryVersion()
    {
        var buffer = new byte[8192];
        int length;
        fixed (byte* b = buffer) Check(GetLibraryVersion(b, &length), "MPI_Get_library_version");
        // The first line, its runs of spaces and tabs as one space ("MPICH Version:\t4.0.2" -> "MPICH Version: 4.0.2").
        return string.Join(' ', Encoding.ASCII.GetString(buffer, 0, length).Split('\n')[0].Split((char[])[' ', '\t'], StringSplitOptions.RemoveEmptyEntries));
    }

    /// <summary>Waits for request; watch() is called between tests and throws to end the wait. spinMs: how long to spin
    /// (yielding) before sleeping a millisecond between tests.</summary>
    public static Status Wait(int request, Action watch, int spinMs)
    {
        var spins = 0;
        var since = Environment.TickCount64;
        while (true)
        {
            int flag;
            Status status;
            Check(Test(&request, &flag, &status), "MPI_Test");
            if (flag != 0) return status;
            if (++spins % 64 == 0) watch();
            // Spin while a transfer is in flight (MPICH moves a large message through shared memory only while both
            // ends call into it); after spinMs of waiting, sleep: the peer is computing and needs the core.
            if (Environment.TickCount64 - since < spinMs) Thread.Yield();
            else Thread.Sleep(1);
        }
    }
}
