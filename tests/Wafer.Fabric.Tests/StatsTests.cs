using Wafer.Core;
using System.Text.Json;
using Wafer.Fabric.Stats;

namespace Wafer.Fabric.Tests;

public class StatsTests
{
    [Fact]
    public void Png_HasSignatureAndDimensions()
    {
        var png = Png.Encode(3, 2, new byte[3 * 2 * 3]);
        Assert.Equal(new byte[] { 137, 80, 78, 71, 13, 10, 26, 10 }, png[..8]);
        Assert.Equal("IHDR", System.Text.Encoding.ASCII.GetString(png, 12, 4));
        Assert.Equal(3, (png[16] << 24) | (png[17] << 16) | (png[18] << 8) | png[19]);
        Assert.Equal(2, (png[20] << 24) | (png[21] << 16) | (png[22] << 8) | png[23]);
    }

    [Fact]
    public void Collect_CountsBusyCyclesTrafficAndSram()
    {
        var sim = TestPrograms.Row(4, 10);
        var cycles = sim.Run();
        var s = RunStats.Collect(sim);
        Assert.Equal(cycles, s.Cycles);
        Assert.Equal(4, s.PeCount);
        // 10 wavelets leave PE 0's, 1's and 2's routers eastward and PE 3's router to its RAMP.
        Assert.Equal(40, s.WaveletsForwarded);
        Assert.Equal(30, s.LinkWavelets[1]);
        Assert.Equal(10, s.LinkWavelets[4]);
        Assert.Equal(0, s.PeBusyCycles[1]); // a pass-through PE has no code
        Assert.True(s.PeBusyCycles[0] >= 10 && s.PeBusyCycles[3] >= 10);
        Assert.Equal(40, s.MaxSramBytesPerPe);
        Assert.Equal(s.Cycles / s.ClockHz, s.Seconds);
    }

    [Fact]
    public void Json_EmbedsConfigSeedAndRevision_Csv_IsLongForm()
    {
        var sim = TestPrograms.Row(3, 4);
        sim.Run();
        var s = RunStats.Collect(sim);
        using var doc = JsonDocument.Parse(StatsWriter.Json(s, sim.Config, "row", new Dictionary<string, object> { ["n"] = 4 }, 42));
        Assert.Equal(42, doc.RootElement.GetProperty("seed").GetInt64());
        Assert.Equal(3, doc.RootElement.GetProperty("config").GetProperty("widthPes").GetInt32());
        Assert.False(string.IsNullOrEmpty(doc.RootElement.GetProperty("gitRevision").GetString()));
        var stat = doc.RootElement.GetProperty("stats").EnumerateArray().First(e => e.GetProperty("name").GetString() == "cycles");
        Assert.Equal("cycles", stat.GetProperty("unit").GetString());
        var csv = StatsWriter.Csv(s).Split('\n');
        Assert.Equal("scope,x,y,stat,unit,value", csv[0]);
        Assert.Contains(csv, l => l.StartsWith("pe,2,0,busyCycles,cycles,"));
    }

    [Fact]
    public void WriteAtomic_ReplacesWholeFile()
    {
        var dir = Directory.CreateTempSubdirectory();
        var path = Path.Combine(dir.FullName, "a.txt");
        AtomicFile.WriteText(path, "first");
        AtomicFile.WriteText(path, "second");
        Assert.Equal("second", File.ReadAllText(path));
        Assert.Single(Directory.GetFiles(dir.FullName));
        dir.Delete(true);
    }
}
