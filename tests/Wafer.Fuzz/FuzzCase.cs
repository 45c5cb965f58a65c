// One generated input: the command line (with {dir} for the case's own folder and {fx} for the fixtures folder) and
// the files written into the case's folder before it runs.
namespace Wafer.Fuzz;

public sealed record FuzzCase(int Index, string Kind, string[] Args, IReadOnlyDictionary<string, byte[]> Files)
{
    public string[] Resolve(string dir, string fixtures) =>
        Args.Select(a => a.Replace("{dir}", dir, StringComparison.Ordinal).Replace("{fx}", fixtures, StringComparison.Ordinal)).ToArray();

    public override string ToString() => $"#{Index} [{Kind}] wafer {string.Join(' ', Args.Select(Quote))}";

    private static string Quote(string a) => a.Length == 0 ? "''" : a.Any(c => char.IsWhiteSpace(c) || c is '\'' or '"' || char.IsControl(c)) ? $"'{a.Replace("'", "'\\''")}'" : a;
}

/// <summary>Clean error: exit code 2 and one line on stderr starting "wafer: ". Success: exit code 0. Anything else
/// (an unhandled exception, another exit code, several lines, a run past the time limit) is a failure.</summary>
public enum Outcome { Success, CleanError, Failure }

public sealed record CaseResult(FuzzCase Case, Outcome Outcome, int ExitCode, string Stderr, double Seconds, string Why);
