// Each rank's work runs in a child process of the one mpiexec started. MPICH's process manager (hydra 4.0) kills every
// rank of a job, at once and without warning, when one of its processes dies by a signal, even with
// -disable-auto-cleanup, so a system killed with SIGKILL would take rank 0 with it before rank 0 could say which one
// died. A parent that waits for its child turns the child's death into an ordinary exit status (128 + the signal),
// which -disable-auto-cleanup leaves alone: the other ranks live on, rank 0 notices and ends the job with its report.
// The child inherits everything the rank needs from the parent: environment (PMI_RANK, PMI_FD, ...), open files and
// standard streams; it shares the parent's process group, so a signal to the job reaches both.
using System.Diagnostics;

namespace Wafer.Swarm;

internal static class RankProcess
{
    private const string Marker = "WAFER_SWARMX_RANK_PROCESS";

    /// <summary>True in a process that mpiexec started and that has not yet handed its rank to a child.</summary>
    public static bool IsLauncher => Environment.GetEnvironmentVariable("PMI_RANK") is not null && Environment.GetEnvironmentVariable(Marker) is null;

    /// <summary>Runs this same command as a child, waits for it, and returns its exit code (128 + signal if killed).</summary>
    public static int RunChild()
    {
        var path = Environment.ProcessPath ?? throw new InvalidOperationException("the path of this program is unknown");
        var args = Environment.GetCommandLineArgs();
        var info = new ProcessStartInfo(path) { UseShellExecute = false };
        // Under `dotnet wafer.dll ...` the child is `dotnet wafer.dll ...` again; under the installed tool, `wafer ...`.
        var host = Path.GetFileNameWithoutExtension(path) == "dotnet";
        foreach (var a in host ? args : args.Skip(1)) info.ArgumentList.Add(a);
        info.Environment[Marker] = "1";
        using var child = Process.Start(info)!;
        child.WaitForExit();
        return child.ExitCode;
    }
}
