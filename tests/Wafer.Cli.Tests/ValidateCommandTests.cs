using System.Text.Json;

namespace Wafer.Cli.Tests;

public class ValidateCommandTests
{
    [Fact]
    public void Validate_Json_ListsEveryReproducedCaseWithItsError()
    {
        var (code, stdout, stderr) = CliRunner.Run("validate", "--json");
        Assert.True(code == 0, stderr);
        using var doc = JsonDocument.Parse(stdout);
        var rows = doc.RootElement.GetProperty("rows").EnumerateArray().ToList();
        Assert.True(rows.Count >= 5);
        // Per group and overall: the mean of |relative error| over the group's rows, and how many are within tolerance.
        var groups = doc.RootElement.GetProperty("groups").EnumerateArray().ToList();
        Assert.Equal("overall", groups[^1].GetProperty("group").GetString());
        foreach (var g in groups)
        {
            var name = g.GetProperty("group").GetString();
            var members = name == "overall" ? rows : rows.Where(r => r.GetProperty("group").GetString() == name).ToList();
            Assert.Equal(members.Count, g.GetProperty("rows").GetInt32());
            Assert.Equal(members.Average(r => Math.Abs(r.GetProperty("relativeError").GetDouble())), g.GetProperty("meanAbsoluteError").GetDouble(), 12);
            Assert.Equal(members.Count(r => r.GetProperty("within").GetBoolean()), g.GetProperty("within").GetInt32());
        }
        Assert.Contains(groups, g => g.GetProperty("group").GetString() == "SC21 Megatron-LM (GPU model)");
        foreach (var r in rows)
        {
            var published = r.GetProperty("published").GetDouble();
            var simulated = r.GetProperty("simulated").GetDouble();
            Assert.True(published > 0 && simulated > 0);
            Assert.Equal((simulated - published) / published, r.GetProperty("relativeError").GetDouble(), 9);
            Assert.False(string.IsNullOrEmpty(r.GetProperty("unit").GetString()));
        }
        // The simulated chain reduce within 5 % of the HPDC'24 model at every size (6 cycles an adding hop, as the model:
        // the execute register; without it the simulator read 4-10 % fast).
        Assert.All(rows.Where(r => r.GetProperty("name").GetString()!.StartsWith("chain reduce")), r =>
            Assert.InRange(r.GetProperty("relativeError").GetDouble(), -0.05, 0.05));
        // The SC22 stencil time, extrapolated from a simulated part, is within the 15 %.
        var stencil = rows.Single(r => r.GetProperty("name").GetString()!.StartsWith("25-point stencil, 755 x 994"));
        Assert.Equal("s", stencil.GetProperty("unit").GetString());
        Assert.InRange(stencil.GetProperty("relativeError").GetDouble(), -0.15, 0.15);
        // The centre PE's busy fraction within 5 points of SC22's profile (69.6 %): bank-conflict cycles count as idle on
        // memory, as the hardware's pipeline stalls on them.
        var busy = rows.Single(r => r.GetProperty("name").GetString()!.StartsWith("25-point stencil busy cycles"));
        Assert.InRange(busy.GetProperty("simulated").GetDouble(), 0.696 - 0.05, 0.696 + 0.05);
        Assert.Contains("idle on memory", busy.GetProperty("how").GetString());
        // So is WaferLLM's 16K GEMV (MeshGEMV on an assumed 512 x 512 grid, one row simulated).
        var gemv = rows.Single(r => r.GetProperty("name").GetString()!.StartsWith("GEMV [1,16K]"));
        Assert.InRange(gemv.GetProperty("relativeError").GetDouble(), -0.15, 0.15);
        // The whole table: mean absolute error at most 6 % (the fidelity target), the GPU rows within 5 %.
        var overall = groups.Single(g => g.GetProperty("group").GetString() == "overall");
        Assert.InRange(overall.GetProperty("meanAbsoluteError").GetDouble(), 0, 0.06);
        Assert.All(rows.Where(r => r.GetProperty("name").GetString()!.StartsWith("megatron")), r =>
            Assert.InRange(r.GetProperty("relativeError").GetDouble(), -0.05, 0.05));
    }

    [Fact]
    public void Validate_Table_ListsTheHardwareRows_WithTolerances_AndOutWritesTheReport()
    {
        var dir = CliRunner.TempDir();
        var (code, stdout, _) = CliRunner.Run("validate", "--out", dir);
        Assert.Equal(0, code);
        Assert.Contains("GEMV [1,16K]", stdout);
        Assert.Contains("25-point stencil", stdout);
        Assert.Contains("chain reduce", stdout);
        Assert.Contains("tolerance", stdout.Split('\n')[0]);
        Assert.Contains("mean absolute error: ", stdout);
        Assert.Contains("; overall ", stdout);
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "validate.json")));
        foreach (var r in doc.RootElement.GetProperty("rows").EnumerateArray())
            Assert.Equal(Math.Abs(r.GetProperty("relativeError").GetDouble()) <= r.GetProperty("tolerance").GetDouble(), r.GetProperty("within").GetBoolean());
        Assert.Equal(["bar"], ReportCheck.ChartsLabelled(Path.Combine(dir, "report.html")));
    }
}
