using System.Text.Json;

namespace Wafer.Cli.Tests;

public class TrainCommandTests
{
    [Fact]
    public void Train_Json_PrintsTheSummary_AndSampleReadsTheCheckpoint()
    {
        var dir = CliRunner.TempDir();
        var model = Path.Combine(dir, "m.json");
        File.WriteAllText(model, "{\"layers\": 1, \"channels\": 16, \"heads\": 2, \"ffnChannels\": 64, \"maxSeqLen\": 16}");
        var (code, stdout, stderr) = CliRunner.Run("train", "--model", model, "--steps", "6", "--batch", "2", "--seq", "16", "--eval-interval", "3",
            "--eval-batches", "2", "--sample-tokens", "20", "--threads", "1", "--out", dir, "--json");
        Assert.True(code == 0, stderr);
        using var doc = JsonDocument.Parse(stdout.Trim());
        var root = doc.RootElement;
        foreach (var field in new[] { "bestValLoss", "finalTrainLoss", "tokensPerSecond", "peakRssBytes", "bytesStreamedPerStep" })
            Assert.True(root.GetProperty(field).GetDouble() > 0, field);
        Assert.Equal(6, root.GetProperty("steps").GetInt32());
        // camelCase throughout, the evaluation points included: steps 0, 3 and 6.
        var evals = root.GetProperty("evals").EnumerateArray().ToList();
        Assert.Equal([0, 3, 6], evals.Select(e => e.GetProperty("step").GetInt32()));
        Assert.All(evals, e => Assert.True(e.GetProperty("trainLoss").GetDouble() > 0 && e.GetProperty("valLoss").GetDouble() > 0));
        Assert.Contains("step 6/6", stderr);
        foreach (var f in new[] { "checkpoint.safetensors", "loss.csv", "loss.png", "sample.txt", "summary.json" }) Assert.True(File.Exists(Path.Combine(dir, f)), f);
        var (sc, sout, serr) = CliRunner.Run("sample", "--checkpoint", Path.Combine(dir, "checkpoint.safetensors"), "--prompt", "ROMEO:", "--tokens", "10");
        Assert.True(sc == 0, serr);
        Assert.StartsWith("ROMEO:", sout);
        Assert.Equal("ROMEO:".Length + 10, sout.TrimEnd('\n').Length);
    }

    [Fact]
    public void ExtendingARun_KeepsItsSchedule_WithDecaySteps_AndIsRefusedWithout()
    {
        var dir = CliRunner.TempDir();
        var model = Path.Combine(dir, "m.json");
        File.WriteAllText(model, "{\"layers\": 1, \"channels\": 16, \"heads\": 2, \"ffnChannels\": 32, \"maxSeqLen\": 8}");
        string[] Args(string outDir, int steps) => ["train", "--model", model, "--steps", steps.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--batch", "2", "--seq", "8", "--warmup", "1", "--eval-interval", "2", "--eval-batches", "1", "--sample-tokens", "0", "--threads", "1", "--out", outDir];
        var whole = Path.Combine(dir, "whole");
        var (c1, _, e1) = CliRunner.Run([.. Args(whole, 8), "--decay-steps", "4"]);
        Assert.True(c1 == 0, e1);
        var part = Path.Combine(dir, "part");
        var (c2, _, e2) = CliRunner.Run(Args(part, 4)); // --decay-steps defaults to --steps: 4
        Assert.True(c2 == 0, e2);
        var checkpoint = Path.Combine(part, "checkpoint.safetensors");
        var (refused, _, why) = CliRunner.Run([.. Args(part, 8), "--resume", checkpoint]);
        Assert.Equal(2, refused);
        Assert.Contains("decaySteps 4 -> 8", why);
        Assert.Contains("--decay-steps", why);
        var (c3, _, e3) = CliRunner.Run([.. Args(part, 8), "--resume", checkpoint, "--decay-steps", "4"]);
        Assert.True(c3 == 0, e3);
        Assert.Equal(File.ReadAllBytes(Path.Combine(whole, "checkpoint.safetensors")), File.ReadAllBytes(checkpoint));
    }

    [Fact]
    public void Train_FidelityCycle_RunsOnTheSimulatedWafer_WithTheFastReference()
    {
        var dir = CliRunner.TempDir();
        var model = Path.Combine(dir, "m.json");
        File.WriteAllText(model, "{\"layers\": 2, \"channels\": 12, \"heads\": 3, \"ffnChannels\": 24, \"maxSeqLen\": 8}");
        var (code, stdout, stderr) = CliRunner.Run("train", "--fidelity", "cycle", "--region", "4x3", "--model", model, "--steps", "3", "--batch", "2",
            "--seq", "8", "--eval-interval", "3", "--eval-batches", "1", "--sample-tokens", "5", "--threads", "2", "--out", dir, "--json");
        Assert.True(code == 0, stderr);
        using var doc = JsonDocument.Parse(stdout.Trim());
        var root = doc.RootElement;
        Assert.Equal("cycle", root.GetProperty("fidelity").GetString());
        var fabric = root.GetProperty("fabric");
        Assert.Equal(3, fabric.GetProperty("columns").GetInt32());
        Assert.Equal(4, fabric.GetProperty("workerRows").GetInt32());
        Assert.True(fabric.GetProperty("cyclesPerStep").GetDouble() > 0);
        Assert.InRange(fabric.GetProperty("modelError").GetDouble(), -0.05, 0.05);
        Assert.Equal(4, fabric.GetProperty("layers").GetArrayLength()); // 2 layers, forward and backward
        Assert.Equal(3, root.GetProperty("referenceStepLosses").GetArrayLength());
        Assert.Contains("wafer ", stderr);
        Assert.Contains("simulated wafer (cs2, 4 x 3 + edge)", stderr);
        foreach (var f in new[] { "checkpoint.safetensors", "loss.csv", "loss.png", "sample.txt", "summary.json" }) Assert.True(File.Exists(Path.Combine(dir, f)), f);
        // The report draws the wafer's curve over the fast reference and the per-layer cycles beside the model's.
        var kinds = ReportCheck.ChartsLabelled(Path.Combine(dir, "report.html"));
        Assert.Equal(["line", "bar", "bar"], kinds);
        var html = File.ReadAllText(Path.Combine(dir, "report.html"));
        Assert.Contains("fast executor on the same batches (reference)", html);
        Assert.Contains("Per layer, last training pass", html);
    }

    public static TheoryData<string[], string> BadInputs()
    {
        var dir = CliRunner.TempDir();
        var bin = Path.Combine(dir, "data.bin");
        File.WriteAllBytes(bin, [1, 2, 0, 3]);
        var shortText = Path.Combine(dir, "short.txt");
        File.WriteAllText(shortText, "To be, or not to be.");
        var badModel = Path.Combine(dir, "bad.json");
        File.WriteAllText(badModel, "{\"channels\": 30, \"heads\": 4}");
        var rotary = Path.Combine(dir, "rotary.json");
        File.WriteAllText(rotary, "{\"channels\": 16, \"heads\": 2, \"ffnChannels\": 32, \"maxSeqLen\": 8, \"positions\": \"rotary\", \"rotaryDims\": 4, \"parallelResidual\": true}");
        var notCkpt = Path.Combine(dir, "ckpt.safetensors");
        File.WriteAllBytes(notCkpt, [200, 0, 0, 0, 0, 0, 0, 0, 1, 2]);
        return new()
        {
            { ["train", "--data", Path.Combine(dir, "missing.txt")], "does not exist" },
            { ["train", "--data", bin], "binary" },
            { ["train", "--data", shortText], "too short" },
            { ["train", "--model", badModel], "Heads must divide" },
            { ["train", "--model", "gpt5"], "neither a preset" },
            { ["train", "--steps", "-1"], "--steps" },
            { ["train", "--decay-steps", "-5"], "--decay-steps must be >= 0 (is -5)" },
            { ["train", "--eval-batches", "2147483647"], "--eval-batches must be between 1 and 10,000 (is 2147483647)" },
            { ["train", "--lr", "-1"], "--lr must be a positive number (is -1)" },
            { ["train", "--precision", "fp8"], "--precision" },
            { ["train", "--resume", notCkpt], "not usable" },
            { ["sample", "--checkpoint", Path.Combine(dir, "none.safetensors")], "does not exist" },
            { ["train", "--fidelity", "exact"], "--fidelity must be fast or cycle" },
            { ["train", "--fidelity", "cycle", "--region", "96"], "--region must be RxC" },
            { ["train", "--region", "96x8"], "--region applies to --fidelity cycle" },
            { ["train", "--fidelity", "cycle", "--region", "5x8"], "5 worker rows do not divide the 768 tokens" },
            { ["train", "--fidelity", "cycle", "--region", "2x1"], "bytes of SRAM" },
            { ["train", "--fidelity", "cycle", "--precision", "bf16"], "no bf16 arithmetic" },
            { ["train", "--fidelity", "cycle", "--model", rotary, "--seq", "8", "--batch", "1", "--region", "2x16"], "would split rotary pairs" },
            { ["train", "--fidelity", "cycle", "--model", "gpt3-xl", "--seq", "64", "--batch", "1", "--region", "4x16"], "a worker PE needs" },
        };
    }

    [Theory]
    [MemberData(nameof(BadInputs))]
    public void BadInput_GivesOneLineAndExitCode2(string[] args, string expected)
    {
        var (code, _, stderr) = CliRunner.Run(args[0] == "train" ? [.. args, "--out", CliRunner.TempDir()] : args);
        Assert.Equal(2, code);
        Assert.Contains(expected, stderr);
        Assert.Single(stderr.Trim().Split('\n'));
    }
}
