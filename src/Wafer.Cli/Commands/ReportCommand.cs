// `wafer report DIR`: rebuilds DIR/report.html from the run files in DIR (what train, run, estimate --out and
// validate --out wrote there).
using System.CommandLine;
using Wafer.Cli.Reports.Html;

namespace Wafer.Cli.Commands;

internal static class ReportCommand
{
    public static Command Create(TextWriter stdout)
    {
        var dir = new Argument<string>("dir") { Description = "A run folder: wafer train's --out, wafer run's --out, or estimate / validate --out" };
        var cmd = new Command("report", "Write a run folder's report.html: charts with titles, axes, units and legends, one self-contained file") { dir };
        cmd.SetAction(parse =>
        {
            stdout.WriteLine($"wrote {RunReport.Write(parse.GetValue(dir)!)}");
            return Program.ExitOk;
        });
        return cmd;
    }
}
