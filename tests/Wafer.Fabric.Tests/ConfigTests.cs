using Wafer.Fabric.Config;

namespace Wafer.Fabric.Tests;

public class ConfigTests
{
    [Fact]
    public void Presets_AreValid_AndCs2IsTheProgramRectangle()
    {
        foreach (var preset in WaferPresets.All.Values) Assert.Empty(preset.Validate());
        Assert.Equal(745_500, WaferPresets.Cs2.PeCount);
        Assert.Equal(49_152, WaferPresets.Cs2.SramBytesPerPe);
        Assert.Equal(24, WaferPresets.Cs2.ColorCount);
        Assert.Equal(850e6, WaferPresets.Cs2.ClockHz);
        Assert.Equal(8, WaferPresets.Cs3.SimdWidthFp16);
    }

    [Fact]
    public void Json_RoundTrips()
    {
        var json = WaferConfigJson.Serialize(WaferPresets.Cs3);
        Assert.Equal(WaferConfigJson.Serialize(WaferConfigJson.Parse(json, "cs3.json")), json);
        var parsed = WaferConfigJson.Parse(json, "cs3.json");
        Assert.Equal(WaferPresets.Cs3.InputQueueDepthWords.ToArray(), parsed.InputQueueDepthWords.ToArray());
        Assert.Equal(755, parsed.WidthPes);
    }

    [Fact]
    public void Validate_ListsEveryErrorAtOnce()
    {
        var bad = WaferPresets.Tiny with { WidthPes = 0, ColorCount = 40, HopLatencyCycles = 0, ClockHz = -1 };
        var errors = bad.Validate();
        Assert.Equal(4, errors.Count);
        Assert.Contains(errors, e => e.StartsWith("WidthPes"));
        Assert.Contains(errors, e => e.StartsWith("ColorCount"));
        Assert.Contains(errors, e => e.StartsWith("HopLatencyCycles"));
        Assert.Contains(errors, e => e.StartsWith("ClockHz"));
    }

    [Fact]
    public void Parse_UnknownField_NamesFileAndField()
    {
        var e = Assert.Throws<ConfigException>(() => WaferConfigJson.Parse("{\"widthPes\": 4, \"sramKb\": 48}", "my.json"));
        Assert.StartsWith("my.json:", e.Message);
        Assert.Contains("sramKb", e.Message);
    }

    [Fact]
    public void Parse_InvalidValues_ReportsAllProblemsOnOneLine()
    {
        var e = Assert.Throws<ConfigException>(() => WaferConfigJson.Parse("{\"widthPes\": -1, \"rampLatencyCycles\": 2, \"heightPes\": 0}", "w.json"));
        Assert.Contains("WidthPes", e.Message);
        Assert.Contains("HeightPes", e.Message);
        Assert.DoesNotContain("\n", e.Message);
    }

    [Fact]
    public void Parse_Malformed_NamesLine()
    {
        var e = Assert.Throws<ConfigException>(() => WaferConfigJson.Parse("{\n\"widthPes\": ,\n}", "w.json"));
        Assert.Contains("w.json", e.Message);
        Assert.Contains("line", e.Message);
    }

    [Fact]
    public void Resolve_UnknownPresetOrMissingFile_IsAnInputError()
    {
        var e = Assert.Throws<ConfigException>(() => WaferConfigJson.Resolve("cs9"));
        Assert.Contains("cs9", e.Message);
        Assert.Contains("tiny", e.Message);
    }
}
