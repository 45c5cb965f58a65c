// Runs the CLI in-process and captures its streams.
namespace Wafer.Cli.Tests;

internal static class CliRunner
{
    public static (int Code, string Out, string Err) Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var code = Program.Run(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    public static string TempDir() => Wafer.Tests.TempDirs.Create("wafer-cli-");
}
