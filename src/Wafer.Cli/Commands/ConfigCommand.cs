// `wafer config`: prints a wafer preset (or a JSON file, validated) as JSON, the starting point for a custom wafer.
using System.CommandLine;
using Wafer.Fabric.Config;

namespace Wafer.Cli.Commands;

internal static class ConfigCommand
{
    public static Command Create(TextWriter stdout)
    {
        var wafer = new Option<string>("--wafer") { Description = "Wafer preset (tiny, cs2, cs3) or a wafer JSON file to validate", DefaultValueFactory = _ => "cs2" };
        var cmd = new Command("config", "Print a wafer configuration as JSON (every field with its unit is documented in docs/architecture.md)") { wafer };
        cmd.SetAction(parse =>
        {
            stdout.WriteLine(WaferConfigJson.Serialize(WaferConfigJson.Resolve(parse.GetValue(wafer)!)));
            return Program.ExitOk;
        });
        return cmd;
    }
}
