// The wafer CLI: the only composition root (docs/design.md §2). Bad input anywhere = one line on stderr, exit code 2;
// anything else that goes wrong = one line saying it is internal, exit code 3.
using Wafer.Core;
using System.CommandLine;
using Wafer.Cli.Commands;
using Wafer.Fabric;

namespace Wafer.Cli;

public static class Program
{
    /// <summary>0 done; 1 a run finished but its result failed its check; 2 bad input (one line says what and where);
    /// 3 an internal error (a bug, a full disk: not the input).</summary>
    public const int ExitOk = 0, ExitFailed = 1, ExitBadInput = 2, ExitInternal = 3;

    public static int Main(string[] args) => Run(args, Console.Out, Console.Error);

    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var root = new RootCommand("Wafer: a Cerebras-CS-2-class wafer-scale engine in software: cycle-level fabric simulator and weight-streaming GPT trainer.");
        root.Subcommands.Add(RunCommand.Create(stdout, stderr));
        root.Subcommands.Add(ConfigCommand.Create(stdout));
        root.Subcommands.Add(TrainCommand.Create(stdout, stderr));
        root.Subcommands.Add(SampleCommand.Create(stdout));
        root.Subcommands.Add(EstimateCommand.Create(stdout));
        root.Subcommands.Add(ValidateCommand.Create(stdout));
        root.Subcommands.Add(ReportCommand.Create(stdout));
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            var command = parse.CommandResult.Command;
            var message = parse.Errors[0].Message;
            if (message.StartsWith("Required argument missing", StringComparison.Ordinal))
                message = $"{command.Name}: missing argument <{string.Join("> <", command.Arguments.Select(a => a.Name))}>";
            stderr.WriteLine($"wafer: {OneLine(message)} (see 'wafer {(command is RootCommand ? "" : command.Name + " ")}--help')");
            return ExitBadInput;
        }
        try
        {
            return parse.Invoke(new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false });
        }
        catch (WaferInputException e)
        {
            stderr.WriteLine($"wafer: {OneLine(e.Message)}");
            return ExitBadInput;
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or PathTooLongException or UnauthorizedAccessException)
        {
            // A path the user gave that cannot be used.
            stderr.WriteLine($"wafer: {OneLine(e.Message)}");
            return ExitBadInput;
        }
        catch (IOException e)
        {
            // Not the input: the disk is full, a device failed.
            stderr.WriteLine($"wafer: I/O error (not a problem with the input): {OneLine(e.Message)}");
            return ExitInternal;
        }
        catch (Exception e)
        {
            var frame = e.StackTrace?.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.StartsWith("at Wafer.", StringComparison.Ordinal)) ?? "";
            stderr.WriteLine($"wafer: internal error (a bug in wafer, not in the input; please report it): {e.GetType().Name}: {OneLine(e.Message)} {frame}".TrimEnd());
            return ExitInternal;
        }
    }

    private static string OneLine(string message) => message.ReplaceLineEndings(" ").Trim();
}
