using System.Text.Json;

namespace Wafer.Cli.Tests;

public class EstimateCommandTests
{
    [Theory]
    [InlineData("gpt3-xl")]
    [InlineData("gptj-6b")]
    [InlineData("gpt3-13b")]
    [InlineData("gpt-neox-20b")]
    public void Estimate_Json_HasTheRequiredFields_ForTheSeedModels(string model)
    {
        var (code, stdout, stderr) = CliRunner.Run("estimate", "--model", model, "--system", "cs2", "--vs", "a100-80gb", "--gpus", "128", "--json");
        Assert.True(code == 0, stderr);
        using var doc = JsonDocument.Parse(stdout);
        var r = doc.RootElement;
        Assert.True(r.GetProperty("fits").GetBoolean());
        Assert.True(r.GetProperty("stepSeconds").GetDouble() > 0);
        Assert.True(r.GetProperty("tokensPerSecond").GetDouble() > 0);
        Assert.InRange(r.GetProperty("mfu").GetDouble(), 0.01, 1);
        Assert.False(string.IsNullOrEmpty(r.GetProperty("bottleneck").GetString()));
        Assert.True(r.GetProperty("memoryPlan").GetProperty("passes").GetInt32() >= 1);
        Assert.True(r.GetProperty("timeToTrainSeconds").GetDouble() > 0);
        Assert.Equal(128, r.GetProperty("vs").GetProperty("gpus").GetInt32());
    }

    [Fact]
    public void Estimate_Table_ShowsBothSystemsSideBySide()
    {
        var (code, stdout, _) = CliRunner.Run("estimate", "--model", "gpt3-xl", "--vs", "h100", "--gpus", "16");
        Assert.Equal(0, code);
        foreach (var word in new[] { "cs2", "16 x h100", "mapping", "layer program", "region", "step time", "tokens/s", "utilization", "bottleneck", "time to train" })
            Assert.Contains(word, stdout);
    }

    /// <summary>--layout with sequence parallelism and selective recompute is priced as given and echoed in the JSON; the
    /// same layout with full recompute takes longer and keeps less.</summary>
    [Fact]
    public void Estimate_Layout_TakesRecomputeAndSequenceParallelism()
    {
        JsonElement Layout(string text, out double stepSeconds, out double gbPerGpu)
        {
            var (code, stdout, stderr) = CliRunner.Run("estimate", "--model", "gpt-neox-20b", "--vs", "a100-80gb", "--gpus", "64", "--layout", text, "--json");
            Assert.True(code == 0, stderr);
            var vs = JsonDocument.Parse(stdout).RootElement.GetProperty("vs");
            stepSeconds = vs.GetProperty("stepSeconds").GetDouble();
            gbPerGpu = vs.GetProperty("memoryBytesPerGpu").GetDouble() / 1e9;
            return vs.GetProperty("layout").Clone();
        }
        var selective = Layout("8,4,2,1,sp,selective", out var selectiveStep, out var selectiveGb);
        Assert.True(selective.GetProperty("sequenceParallel").GetBoolean());
        Assert.Equal("selective", selective.GetProperty("recompute").GetString());
        Assert.Equal("8,4,2,1,sp,selective", selective.GetProperty("text").GetString());
        var full = Layout("8,4,2,1,sp", out var fullStep, out var fullGb);
        Assert.Equal("full", full.GetProperty("recompute").GetString());
        Assert.True(fullStep > selectiveStep && fullGb < selectiveGb);
    }

    [Fact]
    public void Estimate_NoFit_SaysWhy()
    {
        var dir = CliRunner.TempDir();
        var sys = Path.Combine(dir, "small-memx.json");
        File.WriteAllText(sys, "{\"kind\": \"cerebras\", \"memoryXBytes\": 1e11}");
        var (code, stdout, _) = CliRunner.Run("estimate", "--model", "gpt-neox-20b", "--system", sys, "--json");
        Assert.Equal(0, code);
        using var doc = JsonDocument.Parse(stdout);
        Assert.False(doc.RootElement.GetProperty("fits").GetBoolean());
        Assert.Contains("MemoryX", doc.RootElement.GetProperty("whyNot").GetString());
    }

    [Theory]
    [InlineData("--model", "gpt9", "neither a preset")]
    [InlineData("--system", "tpu", "neither a preset")]
    [InlineData("--systems", "0", "--systems")]
    [InlineData("--vs", "cs2", "not a GPU system")]
    public void Estimate_BadInput_Exit2(string option, string value, string expected)
    {
        string[] args = option == "--model" ? ["estimate", option, value] : ["estimate", "--model", "gpt3-xl", option, value];
        var (code, _, stderr) = CliRunner.Run(args);
        Assert.Equal(2, code);
        Assert.Contains(expected, stderr);
    }
}
