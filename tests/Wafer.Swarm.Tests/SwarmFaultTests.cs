// SwarmX's faults: a system killed mid-run, and launches that cannot work.
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.RegularExpressions;
using Wafer.Tests;

namespace Wafer.Swarm.Tests;

public sealed class SwarmFaultTests
{
    private static readonly string[] Small = ["train", "--batch", "2", "--seq", "32", "--eval-batches", "3", "--sample-tokens", "0", "--threads", "1"];

    [MpiFact]
    public void AKilledSystem_IsNamed_TheCheckpointStaysWhole_AndAnotherNumberOfSystemsResumesIt()
    {
        var root = TempDirs.Create("wafer-swarm-kill-");
        var dir = Path.Combine(root, "run");
        string[] schedule = ["--decay-steps", "400", "--micro-batches", "2", "--eval-interval", "10"];
        // A long timeout: on this host rank 0 sees the process exit at once; silence is for peers on other hosts, and a
        // short one could fire on a rank starved by the other tests running beside this one.
        var job = Launcher.StartJob(2, [.. Small, .. schedule, "--steps", "400", "--out", dir, "--swarmx", "--swarmx-timeout", "20"]);
        var lines = new BlockingCollection<string>();
        var err = job.StandardError.ReadToEndAsync();
        var reader = Task.Run(() =>
        {
            while (job.StandardOutput.ReadLine() is { } line) lines.Add(line);
            lines.CompleteAdding();
        });
        int? victim = null;
        var watch = Stopwatch.StartNew();
        foreach (var line in lines.GetConsumingEnumerable())
        {
            if (Regex.Match(line, @"system rank 2 \(pid (\d+) on") is { Success: true } m) victim = int.Parse(m.Groups[1].Value);
            // "step 30/400" comes after the checkpoint of step 20 is written: kill the system mid-run from here.
            if (line.StartsWith("step 30/400", StringComparison.Ordinal)) break;
            Assert.True(watch.Elapsed < TimeSpan.FromMinutes(5), "the job did not reach step 30");
        }
        Assert.NotNull(victim);
        Process.GetProcessById(victim.Value).Kill();
        Assert.True(job.WaitForExit(120_000), "the job did not end after a system was killed");
        reader.Wait();
        Assert.NotEqual(0, job.ExitCode);
        // Rank 0 names the dead system (seen in every run by hand and in most test runs). Once, in a Debug test run
        // under load, rank 0 itself fell silent instead and a live system ended the job naming MemoryX (docs/swarmx.md,
        // "Faults"): the job still ended, non-zero, with a whole checkpoint, which is what is checked from here on.
        Assert.True(err.Result.Contains("swarmx: system rank 2 (pid") || err.Result.Contains("MemoryX (rank 0) stopped answering"), err.Result);
        Assert.Contains("stopped answering", err.Result);

        // The checkpoint is whole: one system resumes it, and the result is the run that was never interrupted.
        var resumed = Launcher.Job(1, [.. Small, .. schedule, "--steps", "50", "--out", Path.Combine(root, "resumed"), "--resume", Path.Combine(dir, "checkpoint.safetensors"), "--swarmx"]);
        Assert.True(resumed.Code == 0, resumed.Err);
        Assert.Matches(@"resumed from .* at step (20|30|40)", resumed.Out);
        var alone = Launcher.Alone([.. Small, .. schedule, "--steps", "50", "--out", Path.Combine(root, "alone")]);
        Assert.True(alone.Code == 0, alone.Err);
        Assert.Equal(File.ReadAllText(Path.Combine(root, "alone", "loss.csv")), File.ReadAllText(Path.Combine(root, "resumed", "loss.csv")));
    }

    [MpiFact]
    public void WithoutSystems_TheLaunchIsRefusedInOneLine()
    {
        foreach (var launched in new[] { Launcher.Alone([.. Small, "--steps", "1", "--out", TempDirs.Create("wafer-swarm-"), "--swarmx"]), Launcher.Job(0, [.. Small, "--steps", "1", "--out", TempDirs.Create("wafer-swarm-"), "--swarmx"]) })
        {
            Assert.Equal(2, launched.Code);
            Assert.Contains("launch it with mpiexec -n N+1 (this job has 1 process)", launched.Err);
        }
    }

    [MpiFact]
    public void RanksStartedWithOtherArguments_AreRefused_NamingTheRankAndTheArgument()
    {
        var dir = TempDirs.Create("wafer-swarm-");
        var launched = Launcher.Mpmd(Launcher.Rank(2, [.. Small, "--steps", "1", "--out", dir, "--swarmx"]), Launcher.Rank(1, [.. Small[..2], "3", .. Small[3..], "--steps", "1", "--out", dir, "--swarmx"]));
        Assert.Equal(2, launched.Code);
        Assert.Contains("system rank 2 was started with other arguments than rank 0: argument 3 is '3' there, '2' on rank 0", launched.Err);
        Assert.False(File.Exists(Path.Combine(dir, "checkpoint.safetensors")));
    }

    [MpiFact]
    public void AGlobalBatchThatDoesNotDivide_IsRefused()
    {
        var launched = Launcher.Job(2, [.. Small, "--steps", "1", "--micro-batches", "3", "--out", TempDirs.Create("wafer-swarm-"), "--swarmx"]);
        Assert.Equal(2, launched.Code);
        Assert.Contains("--micro-batches 3 (the global batch, in micro-batches of --batch 2) does not divide among 2 systems", launched.Err);
    }
}
