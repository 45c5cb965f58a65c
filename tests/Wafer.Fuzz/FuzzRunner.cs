// Runs a case as its own `wafer` process (a crash, a hang or an out-of-memory death cannot take the harness with it),
// under a managed-heap limit (DOTNET_GCHeapHardLimit, which the admission checks read as the memory available) and a
// time limit, and classifies the outcome.
using System.Diagnostics;

namespace Wafer.Fuzz;

public sealed class FuzzRunner(string waferDll, string fixtures, string work, TimeSpan limit, long heapLimitBytes)
{
    public CaseResult Run(FuzzCase c)
    {
        var dir = Path.Combine(work, $"case{c.Index}");
        if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        Directory.CreateDirectory(dir);
        foreach (var (name, bytes) in c.Files) File.WriteAllBytes(Path.Combine(dir, name), bytes);
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = dir, UseShellExecute = false };
        psi.ArgumentList.Add(waferDll);
        foreach (var a in c.Resolve(dir, fixtures)) psi.ArgumentList.Add(a);
        psi.Environment["DOTNET_GCHeapHardLimit"] = $"0x{heapLimitBytes:X}";
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        var sw = Stopwatch.StartNew();
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        var done = p.WaitForExit(limit);
        if (!done) { try { p.Kill(entireProcessTree: true); } catch (InvalidOperationException) { } p.WaitForExit(); }
        var err = stderr.Result;
        _ = stdout.Result;
        var seconds = sw.Elapsed.TotalSeconds;
        try { Directory.Delete(dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        if (!done) return new(c, Outcome.Failure, -1, err, seconds, $"ran past {limit.TotalSeconds:F0} s");
        return Classify(c, p.ExitCode, err, seconds);
    }

    public static CaseResult Classify(FuzzCase c, int code, string err, double seconds)
    {
        var lines = err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        if (err.Contains("Unhandled exception", StringComparison.Ordinal)) return new(c, Outcome.Failure, code, err, seconds, "unhandled exception");
        if (code == 0) return new(c, Outcome.Success, code, err, seconds, "");
        // The error is one line, the last; with --json, train's progress lines go to stderr before it, and so do a long
        // simulation's ("wafer run <program>: simulated cycle ...").
        var errorLines = lines.Count(l => l.StartsWith("wafer: ", StringComparison.Ordinal));
        var progressAllowed = (c.Args.Contains("--json") && c.Args.FirstOrDefault() == "train")
            || (c.Args.FirstOrDefault() == "run" && lines[..^1].All(l => l.StartsWith("wafer run ", StringComparison.Ordinal)));
        if (code == 2 && errorLines == 1 && lines[^1].StartsWith("wafer: ", StringComparison.Ordinal) && (lines.Length == 1 || progressAllowed))
            return new(c, Outcome.CleanError, code, err, seconds, "");
        if (code == 2) return new(c, Outcome.Failure, code, err, seconds, $"exit code 2 with {lines.Length} lines on stderr");
        return new(c, Outcome.Failure, code, err, seconds, $"exit code {code}");
    }

    /// <summary>What identifies a failure across cases: the exception type and the first frame in Wafer code.</summary>
    public static string Signature(CaseResult r)
    {
        var lines = r.Stderr.Split('\n').Select(l => l.Trim()).ToList();
        var ex = lines.FirstOrDefault(l => l.StartsWith("Unhandled exception.", StringComparison.Ordinal));
        if (ex is null) return $"{r.Why}: {lines.FirstOrDefault(l => l.Length > 0) ?? ""}"[..Math.Min(160, r.Why.Length + 2 + (lines.FirstOrDefault(l => l.Length > 0)?.Length ?? 0))];
        var type = ex["Unhandled exception. ".Length..].Split(':')[0];
        var frame = lines.FirstOrDefault(l => l.StartsWith("at Wafer.", StringComparison.Ordinal)) ?? "";
        var inAt = frame.IndexOf(" in ", StringComparison.Ordinal);
        return $"{type} {(inAt > 0 ? frame[..inAt] : frame)}";
    }
}
