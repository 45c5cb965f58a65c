using System.Xml;
using System.Xml.Linq;

namespace Wafer.Cli.Tests;

/// <summary>Parses a report.html and checks that every chart has a title, axis labels, a legend or colour bar, and
/// data marks that carry their values.</summary>
internal static class ReportCheck
{
    private static readonly XNamespace Svg = "http://www.w3.org/2000/svg";
    private static readonly XNamespace Xhtml = "http://www.w3.org/1999/xhtml";

    /// <summary>Returns the chart kinds in page order.</summary>
    public static List<string> ChartsLabelled(string path)
    {
        XDocument doc;
        using (var reader = XmlReader.Create(path, new XmlReaderSettings { DtdProcessing = DtdProcessing.Ignore }))
            doc = XDocument.Load(reader);
        Assert.False(string.IsNullOrWhiteSpace(doc.Descendants(Xhtml + "title").Single().Value));
        // Self-contained: nothing is fetched (no script, stylesheet link, image or frame source).
        Assert.DoesNotContain(doc.Descendants(), e => e.Name.LocalName is "script" or "link" or "img" or "iframe");
        var kinds = new List<string>();
        foreach (var figure in doc.Descendants(Xhtml + "figure").Where(f => (string?)f.Attribute("class") == "chart"))
        {
            var kind = (string)figure.Attribute("data-chart")!;
            kinds.Add(kind);
            var svg = figure.Element(Svg + "svg")!;
            string Text(string cls) => svg.Descendants(Svg + "text").Where(t => (string?)t.Attribute("class") == cls).Select(t => t.Value).FirstOrDefault() ?? "";
            var title = svg.Element(Svg + "title")!.Value;
            Assert.False(string.IsNullOrWhiteSpace(title));
            Assert.Equal(title, Text("chart-title"));
            Assert.False(string.IsNullOrWhiteSpace(Text("x-label")), $"{title}: no x-axis label");
            Assert.False(string.IsNullOrWhiteSpace(Text("y-label")), $"{title}: no y-axis label");
            Assert.Contains(svg.Descendants(Svg + "text"), t => (string?)t.Attribute("class") == "tick");
            // Every data mark names its value on hover.
            var marks = svg.Descendants().Where(e => (e.Name == Svg + "circle") || (e.Name == Svg + "rect" && (string?)e.Attribute("class") is "bar" or "cell")).ToList();
            Assert.All(marks, m => Assert.False(string.IsNullOrWhiteSpace(m.Element(Svg + "title")?.Value), $"{title}: a mark without its value"));
            switch (kind)
            {
                case "line":
                    var series = svg.Descendants(Svg + "g").Where(g => (string?)g.Attribute("class") == "series").ToList();
                    Assert.NotEmpty(series);
                    Assert.Contains(series, s => (int)s.Attribute("data-points")! > 0);
                    Assert.Equal(series.Select(s => (string)s.Attribute("data-name")!), Legend(svg));
                    break;
                case "bar":
                    Assert.NotEmpty(marks);
                    Assert.NotEmpty(Legend(svg));
                    break;
                case "heatmap":
                    Assert.NotEmpty(marks);
                    var bar = svg.Descendants(Svg + "g").Single(g => (string?)g.Attribute("class") == "colorbar");
                    Assert.Matches(@"\(.+\)$", bar.Descendants(Svg + "text").Single(t => (string?)t.Attribute("class") == "colorbar-label").Value);
                    break;
                default:
                    Assert.Fail($"unknown chart kind {kind}");
                    break;
            }
        }
        return kinds;
    }

    private static List<string> Legend(XElement svg) =>
        svg.Descendants(Svg + "g").Single(g => (string?)g.Attribute("class") == "legend")
            .Descendants(Svg + "text").Select(t => t.Value).ToList();
}

public class ReportTests
{
    [Fact]
    public void Train_WritesAReport_WithTheLabelledLossChart_AndReportRebuildsItExactly()
    {
        var dir = CliRunner.TempDir();
        var (code, _, stderr) = CliRunner.Run("train", "--steps", "4", "--eval-interval", "2", "--eval-batches", "1", "--sample-tokens", "0", "--threads", "1", "--out", dir);
        Assert.True(code == 0, stderr);
        var path = Path.Combine(dir, "report.html");
        var kinds = ReportCheck.ChartsLabelled(path);
        Assert.Equal("line", kinds[0]);
        var html = File.ReadAllText(path);
        Assert.Contains("validation loss, evaluated", html);
        Assert.Contains("cross-entropy loss (nats/token)", html);
        Assert.Contains(">seed<", html);
        var first = File.ReadAllBytes(path);
        File.Delete(path);
        var (c2, stdout, e2) = CliRunner.Run("report", dir);
        Assert.True(c2 == 0, e2);
        Assert.Contains("report.html", stdout);
        Assert.Equal(first, File.ReadAllBytes(path));
    }

    [Fact]
    public void Estimate_Out_WritesTheSideBySideReport()
    {
        var dir = CliRunner.TempDir();
        var (code, _, stderr) = CliRunner.Run("estimate", "--model", "gpt3-xl", "--vs", "a100-80gb", "--out", dir);
        Assert.True(code == 0, stderr);
        Assert.True(File.Exists(Path.Combine(dir, "estimate.json")));
        var kinds = ReportCheck.ChartsLabelled(Path.Combine(dir, "report.html"));
        Assert.Equal(["bar", "bar", "bar"], kinds);
        var html = File.ReadAllText(Path.Combine(dir, "report.html"));
        Assert.Contains("64 x a100-80gb", html);
        Assert.Contains("1 x cs2", html);
    }

    [Theory]
    [InlineData("", "holds none of")]
    [InlineData("summary.json", "not valid JSON")]
    [InlineData("stats.json", "not valid JSON")]
    [InlineData("estimate.json", "not a JSON object")]
    public void Report_BadFolder_IsOneLine_ExitCode2(string file, string expected)
    {
        var dir = CliRunner.TempDir();
        if (file.Length > 0) File.WriteAllText(Path.Combine(dir, file), file == "estimate.json" ? "[1, 2]" : "{\"steps\": 3,");
        var (code, stdout, stderr) = CliRunner.Run("report", dir);
        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        Assert.Single(stderr.Trim().Split('\n'));
        Assert.Contains(expected, stderr);
        Assert.False(File.Exists(Path.Combine(dir, "report.html")));
    }

    [Fact]
    public void Report_MissingFolder_IsOneLine_ExitCode2()
    {
        var (code, _, stderr) = CliRunner.Run("report", Path.Combine(CliRunner.TempDir(), "nope"));
        Assert.Equal(2, code);
        Assert.Contains("is not a folder", stderr);
    }
}
