// wafer-fuzz: generated bad (and good) inputs for every command of the wafer CLI, each run as its own process; every
// outcome must be a success (exit 0) or a clean error (exit 2, one line). Usage:
//   dotnet run -c Release --project tests/Wafer.Fuzz -- [--cases 10000] [--seed 1] [--from 0] [--jobs 2]
//       [--timeout 120] [--heap-gb 4] [--case N] [--kind train|run|report|...] [--report fuzz-report.txt]
// --case N runs case N alone and prints its command line and output. Exit code 0: no failures.
using System.Collections.Concurrent;
using System.Diagnostics;
using Wafer.Fuzz;

var opts = new Dictionary<string, string>();
for (var i = 0; i + 1 < args.Length; i += 2)
{
    if (!args[i].StartsWith("--", StringComparison.Ordinal)) { Console.Error.WriteLine($"wafer-fuzz: unexpected '{args[i]}'"); return 2; }
    opts[args[i][2..]] = args[i + 1];
}
if (args.Length % 2 != 0) { Console.Error.WriteLine($"wafer-fuzz: option {args[^1]} needs a value"); return 2; }
int Int(string k, int d) => opts.TryGetValue(k, out var v) ? int.Parse(v, System.Globalization.CultureInfo.InvariantCulture) : d;
var cases = Int("cases", 10_000);
var seed = Int("seed", 1);
var from = Int("from", 0);
var jobs = Int("jobs", Environment.ProcessorCount);
var timeout = TimeSpan.FromSeconds(Int("timeout", 120));
var heap = (long)Int("heap-gb", 4) << 30;
var work = Path.Combine(Path.GetTempPath(), $"wafer-fuzz-{Environment.ProcessId}");
var fixtures = Path.Combine(work, "fixtures");
Fixtures.Write(fixtures);
var dll = Path.Combine(AppContext.BaseDirectory, "wafer.dll");
var runner = new FuzzRunner(dll, fixtures, work, timeout, heap);

if (opts.TryGetValue("case", out var one))
{
    var c = CaseGenerator.Make(seed, int.Parse(one, System.Globalization.CultureInfo.InvariantCulture));
    Console.WriteLine(c);
    foreach (var (name, bytes) in c.Files) Console.WriteLine($"  file {name}: {bytes.Length} bytes");
    var r = runner.Run(c);
    Console.WriteLine($"{r.Outcome} (exit {r.ExitCode}, {r.Seconds:F1} s) {r.Why}");
    Console.WriteLine(r.Stderr);
    return r.Outcome == Outcome.Failure ? 1 : 0;
}

var results = new ConcurrentBag<CaseResult>();
var sw = Stopwatch.StartNew();
var doneCount = 0;
// --kind K runs only the cases of that kind among the range (generating a case is cheap; running it is not).
var kind = opts.GetValueOrDefault("kind");
var selected = Enumerable.Range(from, cases).Select(i => CaseGenerator.Make(seed, i)).Where(c => kind is null || c.Kind == kind).ToList();
Parallel.ForEach(selected, new ParallelOptions { MaxDegreeOfParallelism = jobs }, c =>
{
    var r = runner.Run(c);
    results.Add(r);
    var n = Interlocked.Increment(ref doneCount);
    if (r.Outcome == Outcome.Failure) Console.Error.WriteLine($"FAIL {r.Case} -> {r.Why}: {FuzzRunner.Signature(r)}");
    if (n % 250 == 0) Console.Error.WriteLine($"{n}/{selected.Count} cases, {results.Count(x => x.Outcome == Outcome.Failure)} failures, {sw.Elapsed:hh\\:mm\\:ss}");
});
var all = results.OrderBy(r => r.Case.Index).ToList();
var lines = new List<string>
{
    $"wafer-fuzz: seed {seed}, cases {from}..{from + cases - 1}{(kind is null ? "" : $" of kind {kind}")}, {sw.Elapsed.TotalMinutes:F1} min, {jobs} jobs, heap limit {heap >> 30} GiB, time limit {timeout.TotalSeconds:F0} s",
    $"{all.Count(r => r.Outcome == Outcome.CleanError)} clean errors, {all.Count(r => r.Outcome == Outcome.Success)} successes, {all.Count(r => r.Outcome == Outcome.Failure)} failures",
};
foreach (var g in all.GroupBy(r => r.Case.Kind).OrderBy(g => g.Key))
    lines.Add($"  {g.Key}: {g.Count()} cases, {g.Count(r => r.Outcome == Outcome.CleanError)} clean errors, {g.Count(r => r.Outcome == Outcome.Success)} successes, {g.Count(r => r.Outcome == Outcome.Failure)} failures, slowest {g.Max(r => r.Seconds):F1} s");
foreach (var g in all.Where(r => r.Outcome == Outcome.Failure).GroupBy(FuzzRunner.Signature).OrderByDescending(g => g.Count()))
    lines.Add($"FAILURE x{g.Count()}: {g.Key}\n    e.g. {g.First().Case}\n    {string.Join("\n    ", g.First().Stderr.Split('\n').Take(6))}");
foreach (var l in lines) Console.WriteLine(l);
if (opts.TryGetValue("report", out var report)) File.WriteAllLines(report, lines);
try { Directory.Delete(work, recursive: true); } catch (IOException) { }
return all.Any(r => r.Outcome == Outcome.Failure) ? 1 : 0;
