// The --out folder of a command, created before any work so that a path that cannot hold a folder is bad input
// (one line, exit code 2), not an error after minutes of simulation.
using Wafer.Core;
using Wafer.Fabric;

namespace Wafer.Cli.Commands;

internal static class OutputFolder
{
    public static string Create(string dir)
    {
        if (dir.Length == 0) throw new WaferInputException("--out must name a folder (is empty)");
        try
        {
            Directory.CreateDirectory(dir);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new WaferInputException($"--out '{dir}': cannot create the output folder: {e.Message}");
        }
        return dir;
    }
}
