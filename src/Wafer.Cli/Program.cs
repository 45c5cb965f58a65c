// The wafer CLI: the only composition root (DESIGN.md §2). Bad input anywhere = one line on stderr, exit code 2.
using System.CommandLine;
using Wafer.Cli.Commands;
using Wafer.Fabric;

namespace Wafer.Cli;

public static class Program
{
    public const int ExitOk = 0, ExitFailed = 1, ExitBadInput = 2;

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
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            var command = parse.CommandResult.Command;
            var message = parse.Errors[0].Message;
            if (message.StartsWith("Required argument missing", StringComparison.Ordinal))
                message = $"{command.Name}: missing argument <{string.Join("> <", command.Arguments.Select(a => a.Name))}>";
            stderr.WriteLine($"wafer: {message} (see 'wafer {(command is RootCommand ? "" : command.Name + " ")}--help')");
            return ExitBadInput;
        }
        try
        {
            return parse.Invoke(new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false });
        }
        catch (WaferInputException e)
        {
            stderr.WriteLine($"wafer: {e.Message}");
            return ExitBadInput;
        }
        catch (Wafer.Gpt.GptInputException e)
        {
            stderr.WriteLine($"wafer: {e.Message}");
            return ExitBadInput;
        }
        catch (IOException e)
        {
            stderr.WriteLine($"wafer: {e.Message}");
            return ExitBadInput;
        }
    }
}
