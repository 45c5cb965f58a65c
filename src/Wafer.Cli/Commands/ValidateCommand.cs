// `wafer validate`: runs the calibration cases of docs/sources.md §9 the simulator can reproduce and prints
// published value, Wafer's value and the error; cases it cannot reproduce yet are listed with the reason.
using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Wafer.Fabric.Engine;
using Wafer.Kernels.Validation;

namespace Wafer.Cli.Commands;

internal static class ValidateCommand
{
    public static Command Create(TextWriter stdout)
    {
        var json = new Option<bool>("--json") { Description = "Print a JSON array of {name, published, simulated, unit, relativeError}" };
        var cmd = new Command("validate", "Compare the simulator with published CS-2 measurements and models") { json };
        cmd.SetAction(parse =>
        {
            var (rows, skipped) = Calibration.Run(new SimulatorOptions { Threads = Environment.ProcessorCount });
            if (parse.GetValue(json))
            {
                stdout.WriteLine(Reports.JsonOutput.Serialize(rows.Select(r => new { name = r.Name, published = r.Published, simulated = r.Simulated, unit = r.Unit, relativeError = r.RelativeError, how = r.How })));
                return Program.ExitOk;
            }
            var inv = CultureInfo.InvariantCulture;
            var width = rows.Max(r => r.Name.Length);
            stdout.WriteLine($"  {"case".PadRight(width)}  {"published",14}  {"Wafer",14}  {"unit",-7}  error");
            foreach (var r in rows)
                stdout.WriteLine(string.Create(inv, $"  {r.Name.PadRight(width)}  {r.Published,14:G6}  {r.Simulated,14:G6}  {r.Unit,-7}  {r.RelativeError,7:P1}"));
            foreach (var s in skipped) stdout.WriteLine($"  not reproduced: {s.Name} (published {s.Published}): {s.Why}");
            return Program.ExitOk;
        });
        return cmd;
    }
}
