using System.Text.Json;

namespace Wafer.Cli.Tests;

public class RunCommandTests
{
    [Fact]
    public void Run_Json_PrintsOneObjectWithTheRequiredFields_AndWritesStats()
    {
        var dir = CliRunner.TempDir();
        var (code, stdout, stderr) = CliRunner.Run("run", "gemv-grid", "--json", "--out", dir);
        Assert.Equal(0, code);
        Assert.Equal("", stderr);
        var lines = stdout.Trim().Split('\n');
        Assert.Single(lines);
        using var doc = JsonDocument.Parse(lines[0]);
        var root = doc.RootElement;
        Assert.True(root.GetProperty("cycles").GetInt64() > 0);
        Assert.Equal(root.GetProperty("cycles").GetInt64() / 850e6, root.GetProperty("seconds").GetDouble(), 12);
        Assert.True(root.GetProperty("peCyclesPerHostSecond").GetDouble() > 0);
        Assert.True(root.GetProperty("peakRssBytes").GetInt64() > 0);
        Assert.True(root.GetProperty("verified").GetBoolean());
        Assert.Equal(root.GetProperty("cycles").GetInt64(), root.GetProperty("modelCycles").GetInt64());
        Assert.Equal(4, root.GetProperty("width").GetInt32());
        Assert.Equal(3, root.GetProperty("height").GetInt32());
        foreach (var f in new[] { "stats.json", "stats.csv", "report.html" }) Assert.True(File.Exists(Path.Combine(dir, f)), f);
        // The report: simulated against modelled cycles, and four per-PE heatmaps (busy, wavelets, stalls, SRAM).
        var kinds = ReportCheck.ChartsLabelled(Path.Combine(dir, "report.html"));
        Assert.Equal(["bar", "heatmap", "heatmap", "heatmap", "heatmap"], kinds);
        Assert.Contains("PE (3, 2): busyFraction", File.ReadAllText(Path.Combine(dir, "report.html")));
    }

    [Fact]
    public void Run_Table_ShowsCyclesTimeUtilizationAndSpeed()
    {
        var (code, stdout, _) = CliRunner.Run("run", "reduce", "--width", "5", "--height", "3", "--out", CliRunner.TempDir());
        Assert.Equal(0, code);
        Assert.Contains("matches host reference", stdout);
        foreach (var word in new[] { "cycles", "fabric time", "utilization", "PE-cycles/s", "peak RSS" }) Assert.Contains(word, stdout);
    }

    [Fact]
    public void Run_TracePe_WritesChromeTrace()
    {
        var dir = CliRunner.TempDir();
        var (code, _, _) = CliRunner.Run("run", "pipeline", "--trace-pe", "1,0", "--out", dir);
        Assert.Equal(0, code);
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "trace.json")));
        var events = doc.RootElement.GetProperty("traceEvents").EnumerateArray().ToList();
        Assert.Contains(events, e => e.GetProperty("name").GetString()!.StartsWith("arrive C0"));
        Assert.Contains(events, e => e.GetProperty("ph").GetString() == "B");
        // Tracks are named by PE, ops are spans with a duration, and the time unit is stated.
        Assert.Contains(events, e => e.GetProperty("name").GetString() == "thread_name" && e.GetProperty("args").GetProperty("name").GetString() == "PE (1, 0)");
        Assert.Contains(events, e => e.GetProperty("ph").GetString() == "X" && e.GetProperty("dur").GetInt64() >= 1);
        Assert.Contains("1 simulated cycle", events.Single(e => e.GetProperty("name").GetString() == "process_name").GetProperty("args").GetProperty("name").GetString());
    }

    [Theory]
    [InlineData("unknown program", "run", "nosuch")]
    [InlineData("--width", "run", "reduce", "--width", "-3")]
    [InlineData("exceeds", "run", "reduce", "--width", "9")]
    [InlineData("neither a preset", "run", "reduce", "--wafer", "no-such-wafer.json")]
    [InlineData("--trace-pe", "run", "reduce", "--trace-pe", "1;2")]
    [InlineData("--threads", "run", "reduce", "--threads", "0")]
    [InlineData("--bogus", "run", "reduce", "--bogus")]
    [InlineData("run stencil25: --outputs means nothing to this program", "run", "stencil25", "--outputs", "3")]
    [InlineData("run gemv-1pe: --width means nothing to this program (it reads --length, --block, --seed)", "run", "gemv-1pe", "--width", "2")]
    [InlineData("run wsmm: --steps means nothing", "run", "wsmm", "--steps", "2")]
    [InlineData("--block 12 is longer than the column (--length 9)", "run", "stencil25", "--length", "9", "--block", "12")]
    [InlineData("program", "run")]
    [InlineData("--width", "run", "reduce", "--width", "abc")]
    [InlineData("SRAM overflow", "run", "reduce", "--length", "20000")]
    [InlineData("max-cycles", "run", "broadcast", "--max-cycles", "5")]
    [InlineData("17,179,869,176 PEs; no wafer has more than 4,000,000", "run", "gemv", "--width", "8", "--height", "2147483647")]
    [InlineData("a worker's 2147483647 x 8 block: at least 34,359,738,352 bytes", "run", "wsmm", "--width", "4", "--height", "4", "--block", "2147483647")]
    [InlineData("2147483647 outputs x 4 values", "run", "wsmm-sparse", "--width", "4", "--height", "4", "--outputs", "2147483647")]
    [InlineData("a worker's 4 x 2147483647 block", "run", "wsmm-dw", "--width", "4", "--height", "4", "--length", "2147483647")]
    public void BadArguments_OneLineOnStderr_ExitCode2(string mentions, params string[] args)
    {
        var (code, stdout, stderr) = CliRunner.Run(args);
        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        var line = stderr.TrimEnd('\n', '\r');
        Assert.DoesNotContain('\n', line);
        Assert.StartsWith("wafer: ", line);
        Assert.Contains(mentions, line, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void OutPathThatIsAFile_IsRejectedBeforeTheRun()
    {
        var file = Path.Combine(CliRunner.TempDir(), "not-a-folder");
        File.WriteAllText(file, "keep me");
        var (code, _, stderr) = CliRunner.Run("run", "reduce", "--out", file);
        Assert.Equal(2, code);
        Assert.Contains("--out", stderr);
        Assert.Equal("keep me", File.ReadAllText(file));
    }

    [Fact]
    public void BadWaferJson_NamesTheFile_AndLeavesEarlierOutputIntact()
    {
        var dir = CliRunner.TempDir();
        Assert.Equal(0, CliRunner.Run("run", "broadcast", "--out", dir).Code);
        var before = File.ReadAllText(Path.Combine(dir, "stats.json"));
        var wafer = Path.Combine(dir, "bad-wafer.json");
        File.WriteAllText(wafer, "{ \"widthPes\": 8, \"heightPes\": 8, \"sramBytesPerPe\": -5 }");
        var (code, _, stderr) = CliRunner.Run("run", "broadcast", "--wafer", wafer, "--out", dir);
        Assert.Equal(2, code);
        Assert.Contains("bad-wafer.json", stderr);
        Assert.Contains("SramBytesPerPe", stderr);
        Assert.Equal(before, File.ReadAllText(Path.Combine(dir, "stats.json")));
    }

    [Fact]
    public void RunList_DescribesEveryProgram()
    {
        var (code, stdout, _) = CliRunner.Run("run", "list");
        Assert.Equal(0, code);
        foreach (var name in new[] { "gemv-1pe", "gemv-row", "gemv-grid", "gemv", "pipeline", "broadcast", "reduce", "stream", "matvec" })
            Assert.Contains(name + " ", stdout);
    }

    [Fact]
    public void Help_ListsTheRunCommandAndItsOptions()
    {
        var (code, stdout, _) = CliRunner.Run("run", "--help");
        Assert.Equal(0, code);
        foreach (var word in new[] { "--wafer", "--width", "--height", "--json", "--threads", "--trace-pe" }) Assert.Contains(word, stdout);
        var (rootCode, rootOut, _) = CliRunner.Run("--help");
        Assert.Equal(0, rootCode);
        Assert.Contains("run", rootOut);
    }

    [Fact]
    [Trait("Category", "Long")]
    public void Gemv_OnTheFullCs2Rectangle_RunsAndMatchesTheReference()
    {
        var (code, stdout, stderr) = CliRunner.Run("run", "gemv", "--wafer", "cs2", "--json", "--out", CliRunner.TempDir());
        Assert.True(code == 0, stderr);
        using var doc = JsonDocument.Parse(stdout);
        Assert.Equal(750, doc.RootElement.GetProperty("width").GetInt32());
        Assert.Equal(994, doc.RootElement.GetProperty("height").GetInt32());
        Assert.True(doc.RootElement.GetProperty("verified").GetBoolean());
        Assert.True(doc.RootElement.GetProperty("peakRssBytes").GetInt64() < 8L << 30);
    }
}

public class ConfigCommandTests
{
    [Theory]
    [InlineData("tiny")]
    [InlineData("cs2")]
    [InlineData("cs3")]
    public void ShippedWaferFiles_MatchThePresets(string preset)
    {
        var (code, stdout, _) = CliRunner.Run("config", "--wafer", preset);
        Assert.Equal(0, code);
        var root = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "../../../../.."));
        Assert.Equal(File.ReadAllText(Path.Combine(root, "configs", "wafers", $"{preset}.json")).Trim(), stdout.Trim());
    }

    [Fact]
    public void ShippedWaferFile_RunsAsAWafer()
    {
        var root = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "../../../../.."));
        var (code, _, stderr) = CliRunner.Run("run", "reduce", "--wafer", Path.Combine(root, "configs", "wafers", "tiny.json"), "--out", CliRunner.TempDir());
        Assert.True(code == 0, stderr);
    }
}
