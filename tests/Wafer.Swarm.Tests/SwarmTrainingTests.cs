// SwarmX end to end: wafer train --swarmx under mpiexec on this host against wafer train alone, with the same global
// batch (--micro-batches M; the N systems take M / N each).
using Wafer.Tests;

namespace Wafer.Swarm.Tests;

public sealed class SwarmTrainingTests
{
    // nano on the built-in corpus, small batches: a step takes tens of milliseconds.
    private static readonly string[] Small = ["train", "--batch", "2", "--seq", "32", "--eval-batches", "5", "--sample-tokens", "40", "--threads", "1"];

    private static string[] Args(string outDir, params string[] more) => [.. Small, "--out", outDir, .. more];

    private static void AssertSameRun(string expected, string actual, string what)
    {
        Assert.Equal(File.ReadAllText(Path.Combine(expected, "loss.csv")), File.ReadAllText(Path.Combine(actual, "loss.csv")));
        Assert.True(File.ReadAllBytes(Path.Combine(expected, "checkpoint.safetensors")).AsSpan()
            .SequenceEqual(File.ReadAllBytes(Path.Combine(actual, "checkpoint.safetensors"))), $"{what}: the checkpoints differ");
        Assert.Equal(File.ReadAllText(Path.Combine(expected, "sample.txt")), File.ReadAllText(Path.Combine(actual, "sample.txt")));
    }

    [MpiFact]
    public void OneTwoAndThreeSystems_GiveTheBitsOfOneProcess()
    {
        // Six micro-batches a step: N = 1, 2, 3 systems take 6, 3 and 2 rounds. Fan-out 1 makes a chain (inner systems
        // send 128-bit sums up), fan-out 2 a tree; eval batches (5) do not divide by 2 or 3 (spare systems in the last round).
        var root = TempDirs.Create("wafer-swarm-");
        string[] common = ["--steps", "12", "--micro-batches", "6", "--eval-interval", "6"];
        var alone = Launcher.Alone(Args(Path.Combine(root, "alone"), common));
        Assert.True(alone.Code == 0, alone.Err);
        foreach (var (n, fanOut) in new[] { (1, 2), (2, 1), (3, 1), (3, 2) })
        {
            var dir = Path.Combine(root, $"n{n}f{fanOut}");
            var job = Launcher.Job(n, Args(dir, [.. common, "--swarmx", "--swarmx-fan-out", fanOut.ToString()]));
            Assert.True(job.Code == 0, $"N={n}: exit {job.Code}: {job.Err}");
            Assert.Contains($"{n} system{(n == 1 ? "" : "s")} in a tree of fan-out {Math.Min(fanOut, n)}", job.Out);
            AssertSameRun(Path.Combine(root, "alone"), dir, $"N={n}, fan-out {fanOut}");
        }
    }

    [MpiFact]
    public void TwoHundredSteps_OnTwoSystems_AreBitIdenticalToOneProcess()
    {
        // The issue's check: mpiexec -n 3 wafer train --swarmx --steps 200 on nano, the same global batch alone.
        var root = TempDirs.Create("wafer-swarm-");
        string[] common = ["--steps", "200", "--micro-batches", "2", "--eval-interval", "50"];
        var one = Launcher.Alone(Args(Path.Combine(root, "alone"), common));
        Assert.True(one.Code == 0, one.Err);
        var job = Launcher.Job(2, Args(Path.Combine(root, "swarm"), [.. common, "--swarmx"]));
        Assert.True(job.Code == 0, job.Err);
        AssertSameRun(Path.Combine(root, "alone"), Path.Combine(root, "swarm"), "200 steps");
        // Two leaves under MemoryX move what one process streams: each pass's weights out and its gradient in, 4 bytes a value.
        using var alone = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(root, "alone", "summary.json")));
        using var swarm = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(root, "swarm", "swarmx.json")));
        var perStep = swarm.RootElement.GetProperty("perTrainingStep");
        Assert.Equal(alone.RootElement.GetProperty("bytesStreamedPerStep").GetDouble(),
            perStep.GetProperty("memoryXWeightBytesOut").GetDouble() + perStep.GetProperty("memoryXGradientBytesIn").GetDouble());
        // And the run learned: the last evaluation is well under the first (ln 65 = 4.17 at the start).
        var evals = File.ReadAllLines(Path.Combine(root, "swarm", "loss.csv")).Where(l => l.StartsWith("eval,")).Select(l => double.Parse(l.Split(',')[3], System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        Assert.True(evals[^1] < evals[0] - 1.0, $"val loss {evals[0]} -> {evals[^1]}");
    }

    [MpiFact]
    public void AtCycleFidelity_TwoSystemsOnTheSimulatedWafer_GiveTheBitsOfOneProcess()
    {
        var root = TempDirs.Create("wafer-swarm-cycle-");
        var model = Path.Combine(root, "m.json");
        File.WriteAllText(model, "{\"layers\": 2, \"channels\": 12, \"heads\": 3, \"ffnChannels\": 24, \"maxSeqLen\": 8}");
        string[] args = ["train", "--fidelity", "cycle", "--region", "4x3", "--model", model, "--steps", "3", "--batch", "2", "--seq", "8",
            "--micro-batches", "2", "--eval-interval", "3", "--eval-batches", "1", "--sample-tokens", "5", "--threads", "1"];
        var alone = Launcher.Alone([.. args, "--out", Path.Combine(root, "alone")]);
        Assert.True(alone.Code == 0, alone.Err);
        var job = Launcher.Job(2, [.. args, "--out", Path.Combine(root, "swarm"), "--swarmx"]);
        Assert.True(job.Code == 0, job.Err);
        AssertSameRun(Path.Combine(root, "alone"), Path.Combine(root, "swarm"), "cycle fidelity");
        // Rank 0 reports the systems' wafer as one process reports its own.
        Assert.Contains("simulated wafer (cs2, 4 x 3 + edge)", job.Out);
        Assert.Contains("\"fidelity\":\"cycle\"", File.ReadAllText(Path.Combine(root, "swarm", "summary.json")));
    }
}
