// Runs wafer (the build beside the tests) as a process, alone or as the ranks of an mpiexec job on this host, and
// captures what it prints.
using System.Diagnostics;

namespace Wafer.Swarm.Tests;

internal sealed record Launched(int Code, string Out, string Err);

internal static class Launcher
{
    public static readonly string? MpiExec = Environment.GetEnvironmentVariable("PATH")?.Split(':')
        .Select(d => Path.Combine(d, "mpiexec")).FirstOrDefault(File.Exists);

    public static string Wafer => Path.Combine(AppContext.BaseDirectory, "wafer.dll");

    /// <summary>wafer with args, alone.</summary>
    public static Launched Alone(params string[] args) => Run(Start("dotnet", [Wafer, .. args]));

    /// <summary>wafer with args as ranks 0..systems of one job (mpiexec -n systems+1, other ranks left running when one
    /// dies, so that rank 0 can report it).</summary>
    public static Launched Job(int systems, params string[] args) => Run(StartJob(systems, args));

    public static Process StartJob(int systems, string[] args) =>
        Start(MpiExec!, ["-disable-auto-cleanup", "-n", (systems + 1).ToString(), "dotnet", Wafer, .. args]);

    /// <summary>An mpiexec job of several commands (MPMD: "-n", "1", "dotnet", wafer.dll, args..., ":", ...).</summary>
    public static Launched Mpmd(params string[][] commands) =>
        Run(Start(MpiExec!, ["-disable-auto-cleanup", .. commands.SelectMany((c, i) => i == 0 ? c : [":", .. c])]));

    public static string[] Rank(int n, params string[] args) => ["-n", n.ToString(), "dotnet", Wafer, .. args];

    public static Process Start(string file, IEnumerable<string> args)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) info.ArgumentList.Add(a);
        return Process.Start(info)!;
    }

    public static Launched Run(Process p, int timeoutSeconds = 600)
    {
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeoutSeconds * 1000))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{p.StartInfo.FileName} {string.Join(' ', p.StartInfo.ArgumentList)} ran past {timeoutSeconds} s");
        }
        return new Launched(p.ExitCode, stdout.Result, stderr.Result);
    }
}
