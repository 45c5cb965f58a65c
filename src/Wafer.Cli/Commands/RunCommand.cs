// `wafer run <program>`: runs a fabric program at cycle level, checks it against its host reference, prints and writes stats.
using Wafer.Core;
using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Wafer.Cli.Reports.Html;
using Wafer.Fabric;
using Wafer.Fabric.Config;
using Wafer.Fabric.Engine;
using Wafer.Fabric.Stats;
using Wafer.Kernels;

namespace Wafer.Cli.Commands;

internal static class RunCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var program = new Argument<string>("program")
        {
            Description = "Program to run ('list' describes them): " + string.Join(", ", DemoRegistry.All.Select(d => d.Name)),
        };
        var wafer = new Option<string>("--wafer") { Description = "Wafer preset (tiny, cs2, cs3) or a wafer JSON file", DefaultValueFactory = _ => "tiny" };
        var width = new Option<int>("--width") { Description = "Program rectangle width in PEs (default: the program's own, capped by the wafer)" };
        var height = new Option<int>("--height") { Description = "Program rectangle height in PEs" };
        var length = new Option<int>("--length") { Description = "Vector length per PE (GEMV: columns of A per PE)" };
        var block = new Option<int>("--block") { Description = "GEMV: rows of A per PE; wsmm: input features per PE; K-tree: levels K" };
        var steps = new Option<int>("--steps") { Description = "stencil25: time steps; transformer-layer: 1 forward, 2 forward and backward" };
        var seq = new Option<int>("--seq") { Description = "transformer-layer: tokens per sequence T" };
        var outputs = new Option<int>("--outputs") { Description = "wsmm: output features D_out" };
        var sparsity = new Option<double>("--sparsity") { Description = "wsmm-sparse: fraction of zero weights, in [0, 1)" };
        var sinkCycles = new Option<int>("--sink-cycles") { Description = "pipeline: scalar cycles the sink spends per wavelet", DefaultValueFactory = _ => -1 };
        var seed = new Option<long>("--seed") { Description = "Seed of the input data", DefaultValueFactory = _ => 1 };
        var threads = new Option<int>("--threads") { Description = "Worker threads (results are identical for any count)", DefaultValueFactory = _ => Environment.ProcessorCount };
        var maxCycles = new Option<long>("--max-cycles") { Description = "Stop with an error past this many cycles", DefaultValueFactory = _ => 200_000_000 };
        var outDir = new Option<string>("--out") { Description = "Folder for stats.json, stats.csv, report.html (and trace.json)", DefaultValueFactory = _ => "" };
        var json = new Option<bool>("--json") { Description = "Print one JSON object on stdout instead of the table" };
        var tracePe = new Option<string[]>("--trace-pe") { Description = "Trace PE x,y (repeatable): wavelets and tasks, as Chrome/Perfetto JSON", AllowMultipleArgumentsPerToken = true };
        var traceColor = new Option<int[]>("--trace-color") { Description = "Only trace these colors (repeatable)", AllowMultipleArgumentsPerToken = true };

        var cmd = new Command("run", "Run a fabric program at cycle level and report cycles, time, utilization and simulator speed")
        {
            program, wafer, width, height, length, block, outputs, sparsity, steps, seq, sinkCycles, seed, threads, maxCycles, outDir, json, tracePe, traceColor,
        };
        cmd.SetAction(parse =>
        {
            var name = parse.GetValue(program)!;
            if (name == "list")
            {
                var nameWidth = DemoRegistry.All.Max(d => d.Name.Length);
                foreach (var each in DemoRegistry.All) stdout.WriteLine($"{each.Name.PadRight(nameWidth)} {each.Description}");
                return Program.ExitOk;
            }
            var demo = DemoRegistry.Find(name)
                ?? throw new WaferInputException($"run: unknown program '{name}'; choose one of {string.Join(", ", DemoRegistry.All.Select(d => d.Name))}");
            var config = WaferConfigJson.Resolve(parse.GetValue(wafer)!);
            // An option the program does not read would change nothing: say so rather than run as if it had.
            var sizeOptions = new (Option Option, SizeOptions Flag)[]
            {
                (width, SizeOptions.Width), (height, SizeOptions.Height), (length, SizeOptions.Length), (block, SizeOptions.Block),
                (outputs, SizeOptions.Outputs), (sparsity, SizeOptions.Sparsity), (steps, SizeOptions.Steps), (seq, SizeOptions.Seq),
                (sinkCycles, SizeOptions.SinkCycles),
            };
            foreach (var (option, flag) in sizeOptions)
                if (parse.GetResult(option) is { Implicit: false } && (demo.Reads & flag) == 0)
                    throw new WaferInputException($"run {demo.Name}: {option.Name} means nothing to this program (it reads {string.Join(", ", sizeOptions.Where(o => (demo.Reads & o.Flag) != 0).Select(o => o.Option.Name).Append(seed.Name))})");
            var size = new DemoSize(
                Positive(parse.GetValue(width), "--width", allowZero: true),
                Positive(parse.GetValue(height), "--height", allowZero: true),
                Positive(parse.GetValue(length), "--length", allowZero: true),
                Positive(parse.GetValue(block), "--block", allowZero: true),
                parse.GetValue(sinkCycles) < -1 ? throw new WaferInputException("--sink-cycles must be >= 0") : parse.GetValue(sinkCycles),
                parse.GetValue(seed),
                Positive(parse.GetValue(outputs), "--outputs", allowZero: true),
                parse.GetValue(sparsity) is >= 0 and < 1 and var sp ? sp : throw new WaferInputException($"--sparsity must be in [0, 1) (is {parse.GetValue(sparsity)})"),
                Positive(parse.GetValue(steps), "--steps", allowZero: true),
                Positive(parse.GetValue(seq), "--seq", allowZero: true));
            var options = new SimulatorOptions
            {
                Threads = Positive(parse.GetValue(threads), "--threads"),
                MaxCycles = parse.GetValue(maxCycles) >= 1 ? parse.GetValue(maxCycles) : throw new WaferInputException("--max-cycles must be >= 1"),
                TracePes = (parse.GetValue(tracePe) ?? []).Select(ParsePe).ToList(),
                TraceColors = (parse.GetValue(traceColor) ?? []).Select(c => c >= 0 && c < config.ColorCount ? c : throw new WaferInputException($"--trace-color {c}: colors are 0..{config.ColorCount - 1}")).ToList(),
                // A long simulation says where it is on stderr (stdout stays the table or the one JSON object).
                Progress = (cycle, seconds) => stderr.WriteLine(string.Create(CultureInfo.InvariantCulture, $"wafer run {demo.Name}: simulated cycle {cycle:N0} after {seconds:F0} s on this host")),
            };
            var dir = OutputFolder.Create(parse.GetValue(outDir) is { Length: > 0 } d ? d : Path.Combine("out", demo.Name));

            var result = demo.Run(config, size, options);
            var stats = RunStats.Collect(result.Simulator);
            var statsJson = StatsWriter.Json(stats, config, demo.Name, result.Parameters, size.Seed, result.Extra);
            AtomicFile.WriteText(Path.Combine(dir, "stats.json"), WithReportData(statsJson, stats, result));
            AtomicFile.WriteText(Path.Combine(dir, "stats.csv"), StatsWriter.Csv(stats));
            if (options.TracePes.Count > 0) AtomicFile.WriteText(Path.Combine(dir, "trace.json"), result.Simulator.TraceJson());
            RunReport.Write(dir);

            if (parse.GetValue(json)) stdout.WriteLine(JsonLine(demo, stats, result, dir));
            else Print(stdout, demo, stats, result, dir);
            if (result.Verified) return Program.ExitOk;
            stderr.WriteLine($"wafer: {demo.Name}: result differs from the host reference by {result.MaxAbsError:G4} (tolerance {result.Tolerance:G4})");
            return Program.ExitFailed;
        });
        return cmd;
    }

    /// <summary>stats.json plus what report.html draws: the numerical check and cycle model, and the per-PE heatmaps.</summary>
    private static string WithReportData(string statsJson, RunStats stats, DemoResult r)
    {
        var root = JsonNode.Parse(statsJson)!.AsObject();
        root["result"] = JsonNode.Parse(Reports.JsonOutput.Serialize(new
        {
            verified = r.Verified, maxAbsError = r.MaxAbsError, tolerance = r.Tolerance, modelCycles = r.ModelCycles, modelError = r.ModelError,
        }));
        root["heatmaps"] = JsonNode.Parse(Reports.JsonOutput.Serialize(PeGrids.From(stats).Select(g => new
        {
            stat = g.Stat, unit = g.Unit, meaning = g.Meaning, widthPes = g.WidthPes, heightPes = g.HeightPes, binWidth = g.BinWidth, binHeight = g.BinHeight,
            columns = g.Columns, rows = g.Rows, values = g.Values,
        })));
        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    private static int Positive(int value, string name, bool allowZero = false) =>
        value > 0 || (allowZero && value == 0) ? value : throw new WaferInputException($"{name} must be {(allowZero ? ">= 1 when given" : ">= 1")} (got {value})");

    private static (int, int) ParsePe(string text)
    {
        var parts = text.Split(',');
        if (parts.Length == 2 && int.TryParse(parts[0], CultureInfo.InvariantCulture, out var x) && int.TryParse(parts[1], CultureInfo.InvariantCulture, out var y))
            return (x, y);
        throw new WaferInputException($"--trace-pe '{text}': expected x,y (e.g. 0,3)");
    }

    private static string JsonLine(IFabricDemo demo, RunStats s, DemoResult r, string dir)
    {
        var o = new Dictionary<string, object>
        {
            ["program"] = demo.Name,
            ["wafer"] = s.WaferName,
            ["width"] = s.Width,
            ["height"] = s.Height,
            ["cycles"] = s.Cycles,
            ["seconds"] = s.Seconds,
            ["hostIoSeconds"] = s.HostIoSeconds,
            ["utilization"] = s.Utilization,
            ["memoryStallFraction"] = s.MemoryStallFraction,
            ["flops"] = s.Flops,
            ["fractionOfPeakFlops"] = s.FractionOfPeakFlops,
            ["waveletsForwarded"] = s.WaveletsForwarded,
            ["wallSeconds"] = s.WallSeconds,
            ["peSteps"] = s.PeSteps,
            ["peCyclesPerHostSecond"] = s.PeCyclesPerHostSecond,
            ["busyPeCyclesPerHostSecond"] = s.BusyPeCyclesPerHostSecond,
            ["peakRssBytes"] = s.PeakRssBytes,
            ["threads"] = s.Threads,
            ["verified"] = r.Verified,
            ["modelCycles"] = r.ModelCycles is { } mc ? mc : null!,
            ["modelError"] = r.ModelError is { } me ? me : null!,
            ["maxAbsError"] = r.MaxAbsError,
            ["parameters"] = r.Parameters,
            ["extra"] = r.Extra,
            ["statsPath"] = Path.Combine(dir, "stats.json"),
            ["reportPath"] = Path.Combine(dir, RunReport.FileName),
            ["gitRevision"] = RunStats.GitRevision,
        };
        return Reports.JsonOutput.Serialize(o);
    }

    private static void Print(TextWriter o, IFabricDemo demo, RunStats s, DemoResult r, string dir)
    {
        var inv = CultureInfo.InvariantCulture;
        o.WriteLine(string.Create(inv, $"{demo.Name} on {s.WaferName}: {s.Width} x {s.Height} PEs ({string.Join(", ", r.Parameters.Select(kv => $"{kv.Key} {kv.Value}"))})"));
        o.WriteLine(string.Create(inv, $"  result          {(r.Verified ? "matches" : "DIFFERS FROM")} host reference (max |error| {r.MaxAbsError:G3}, tolerance {r.Tolerance:G3})"));
        o.WriteLine(string.Create(inv, $"  cycles          {s.Cycles:N0}{(r.ModelCycles is { } m ? $" (closed-form model: {m:N0}, error {r.ModelError:P2})" : "")}"));
        o.WriteLine(string.Create(inv, $"  fabric time     {s.Seconds * 1e6:F3} us at {s.ClockHz / 1e6:F0} MHz (+ {s.HostIoSeconds * 1e3:F3} ms modelled host I/O)"));
        o.WriteLine(string.Create(inv, $"  utilization     {s.Utilization:P2} busy PE-cycles; {s.FractionOfPeakFlops:P3} of peak flop/s ({s.Flops:N0} flop)"));
        o.WriteLine(string.Create(inv, $"  PE profile      {s.Utilization:P1} busy, {s.MemoryStallFraction:P1} idle on memory (bank conflicts), {1 - s.Utilization - s.MemoryStallFraction:P1} idle on the fabric or a task (all PEs)"));
        o.WriteLine(string.Create(inv, $"  fabric traffic  {s.WaveletsForwarded:N0} wavelets forwarded; {s.StallPeCycles:N0} op-cycles stalled"));
        o.WriteLine(string.Create(inv, $"  host            {s.WallSeconds:F3} s on {s.Threads} threads; {s.PeCyclesPerHostSecond:G4} PE-cycles/s ({s.BusyPeCyclesPerHostSecond:G4} busy, {s.PeSteps:N0} PE-steps); peak RSS {s.PeakRssBytes / 1048576.0:F0} MiB"));
        foreach (var kv in r.Extra) o.WriteLine(string.Create(inv, $"  {kv.Key,-15} {kv.Value:G6}"));
        o.WriteLine($"  wrote           {Path.Combine(dir, "stats.json")}, stats.csv, {RunReport.FileName} (charts and per-PE heatmaps)");
    }
}
