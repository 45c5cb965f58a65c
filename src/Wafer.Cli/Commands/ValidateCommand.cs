// `wafer validate`: runs the calibration cases of docs/sources.md §9 the simulator can reproduce and prints
// published value, Wafer's value, the error and the tolerance; cases it cannot reproduce yet are listed with the reason.
using Wafer.Core;
using System.CommandLine;
using System.Globalization;
using Wafer.Cli.Reports.Html;
using Wafer.Fabric;
using Wafer.Fabric.Engine;
using Wafer.Gpt.Training;
using Wafer.Kernels.Validation;

namespace Wafer.Cli.Commands;

internal static class ValidateCommand
{
    public static Command Create(TextWriter stdout)
    {
        var json = new Option<bool>("--json") { Description = "Print validate.json's object: rows {name, group, published, simulated, unit, relativeError, tolerance, within, how}, groups {group, rows, meanAbsoluteError, within} (the last: overall), skipped" };
        var outDir = new Option<string?>("--out") { Description = "Also write validate.json and report.html to this folder" };
        var cmd = new Command("validate", "Compare the simulator with published CS-2 measurements and models, and the GPU model with published Megatron-LM runs") { json, outDir };
        cmd.SetAction(parse =>
        {
            var dir = parse.GetValue(outDir) is { } d ? OutputFolder.Create(d) : null; // before the runs, not after them
            var (waferRows, skipped) = Calibration.Run(new SimulatorOptions { Threads = Environment.ProcessorCount });
            var rows = waferRows.Concat(Wafer.Model.GpuCalibration.Rows()).ToList();
            var summary = CalibrationSummary.Of(rows);
            var text = Reports.JsonOutput.Serialize(new
            {
                rows = rows.Select(r => new { name = r.Name, group = r.Group, published = r.Published, simulated = r.Simulated, unit = r.Unit, relativeError = r.RelativeError, tolerance = r.Tolerance, within = r.Within, how = r.How }),
                groups = summary.Select(g => new { group = g.Group, rows = g.Rows, meanAbsoluteError = g.MeanAbsoluteError, within = g.Within }),
                skipped = skipped.Select(s => new { name = s.Name, published = s.Published, why = s.Why }),
                gitRevision = Wafer.Fabric.Stats.RunStats.GitRevision,
            });
            if (dir is not null)
            {
                AtomicFile.WriteText(Path.Combine(dir, "validate.json"), text);
                RunReport.Write(dir);
            }
            if (parse.GetValue(json))
            {
                stdout.WriteLine(text);
                return Program.ExitOk;
            }
            var inv = CultureInfo.InvariantCulture;
            var width = rows.Max(r => r.Name.Length);
            stdout.WriteLine($"  {"case".PadRight(width)}  {"published",14}  {"Wafer",14}  {"unit",-8}  {"error",7}  {"tolerance",9}  within");
            foreach (var r in rows)
                stdout.WriteLine(string.Create(inv, $"  {r.Name.PadRight(width)}  {r.Published,14:G6}  {r.Simulated,14:G6}  {r.Unit,-8}  {r.RelativeError,7:P1}  {r.Tolerance,9:P0}  {(r.Within ? "yes" : "no")}"));
            foreach (var s in skipped) stdout.WriteLine($"  not reproduced: {s.Name} (published {s.Published}): {s.Why}");
            stdout.WriteLine("  mean absolute error: " + string.Join("; ", summary.Select(g =>
                string.Create(inv, $"{g.Group} {g.MeanAbsoluteError:P1} ({g.Within} of {g.Rows} within)"))));
            if (dir is not null) stdout.WriteLine($"  wrote {Path.Combine(dir, "validate.json")}, {RunReport.FileName}");
            return Program.ExitOk;
        });
        return cmd;
    }
}
