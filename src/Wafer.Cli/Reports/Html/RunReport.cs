// report.html for a run folder, built only from the files the run wrote there (summary.json + loss.csv for train,
// stats.json for run, estimate.json, validate.json), so that `wafer report DIR` rebuilds exactly what the run wrote.
using Wafer.Core;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Wafer.Fabric;
using Wafer.Gpt.Training;
using static Wafer.Cli.Reports.Html.SvgChart;

namespace Wafer.Cli.Reports.Html;

internal static class RunReport
{
    public const string FileName = "report.html";
    /// <summary>The largest run file read (wafer's own are kilobytes to a few megabytes).</summary>
    private const long MaxRunFileBytes = 256L << 20;
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
    private const string Blue = "#1f77b4", Orange = "#ff7f0e", Green = "#2ca02c", Grey = "#8c8c8c", Purple = "#9467bd", Red = "#d62728";
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>Writes DIR/report.html from the run files in DIR; returns its path. A folder with no run files, or a run
    /// file that is not what wafer writes, is bad input.</summary>
    public static string Write(string dir)
    {
        if (!Directory.Exists(dir)) throw new WaferInputException($"report: '{dir}' is not a folder");
        string html;
        if (File.Exists(Path.Combine(dir, "summary.json"))) html = Train(dir);
        else if (File.Exists(Path.Combine(dir, "stats.json"))) html = Run(dir);
        else if (File.Exists(Path.Combine(dir, "estimate.json"))) html = Estimate(dir);
        else if (File.Exists(Path.Combine(dir, "validate.json"))) html = Validate(dir);
        else throw new WaferInputException($"report: '{dir}' holds none of summary.json (train), stats.json (run), estimate.json, validate.json");
        var path = Path.Combine(dir, FileName);
        AtomicFile.WriteText(path, html);
        return path;
    }

    // ------------------------------------------------------------------------------------------------------ train

    private static string Train(string dir)
    {
        var s = Load(dir, "summary.json");
        var cycle = Str(s, "fidelity") == "cycle";
        var page = new HtmlPage($"wafer train: {Str(s, "model")}",
            $"{(cycle ? "cycle fidelity (every block on the simulated wafer)" : "fast fidelity (host kernels)")}, {Long(s, "steps")} steps, git revision {Str(s, "gitRevision")}");
        page.Heading("Result");
        page.Facts([
            ("parameters", Num(Dbl(s, "parameters"))),
            ("steps", Num(Dbl(s, "steps"))),
            ("best validation loss (nats/token)", Num(Dbl(s, "bestValLoss"))),
            ("final training loss (nats/token)", Num(Dbl(s, "finalTrainLoss"))),
            ("host: tokens per second", Num(Dbl(s, "tokensPerSecond"))),
            ("host: seconds per step", Num(Dbl(s, "secondsPerStep"))),
            ("host: peak RSS (MB)", Num(Dbl(s, "peakRssBytes") / 1e6)),
            ("streamed per step (MB: weights in, gradients out)", Num(Dbl(s, "bytesStreamedPerStep") / 1e6)),
            ("MemoryX", $"{Str(s, "memoryX")}, {Num(Dbl(s, "memoryXBytes") / 1e6)} MB"),
            ("tokenizer, training tokens", $"{Str(s, "tokenizer")}, {Num(Dbl(s, "trainTokens"))}"),
            ("modelled CS-2 step (ms)", Num(Dbl(s, "simulatedCs2StepSeconds") * 1e3)),
            ("modelled CS-2 tokens per second", Num(Dbl(s, "simulatedCs2TokensPerSecond"))),
            ("modelled CS-2 utilization (fraction of fp16 peak)", Num(Dbl(s, "simulatedCs2Mfu"))),
            ("modelled CS-2 bottleneck", Str(s, "simulatedCs2Bottleneck")),
        ]);

        page.Heading("Loss");
        var (steps, reference) = ReadLossCsv(dir);
        var evals = Has(s, "evals", out var ev) && ev.ValueKind == JsonValueKind.Array ? ev.EnumerateArray().ToList() : [];
        // The reference first and wider, so that the wafer's curve drawn over it stays visible where the two agree.
        var series = new List<LineSeries>();
        if (reference.Count > 0) series.Add(new("fast executor on the same batches (reference)", Green, reference, StrokeWidth: 4));
        series.Add(new("training loss, each step", Grey, steps));
        series.Add(new("training loss, evaluated", Blue, evals.Select(e => ((double)Long(e, "step"), Dbl(e, "trainLoss"))).ToList(), Markers: true));
        series.Add(new("validation loss, evaluated", Orange, evals.Select(e => ((double)Long(e, "step"), Dbl(e, "valLoss"))).ToList(), Markers: true));
        page.Chart(Line($"Loss of {Str(s, "model")} against optimizer step", "optimizer step", "cross-entropy loss (nats/token)", series));
        if (cycle && reference.Count > 0)
            page.Note("At cycle fidelity the fast executor trains alongside on the same batches: the green curve is its loss, the grey one the simulated wafer's.");

        if (Has(s, "simulatedCs2Seconds", out var parts) && parts.ValueKind == JsonValueKind.Object)
        {
            var names = parts.EnumerateObject().Select(p => p.Name).ToList();
            page.Chart(Bars("Modelled CS-2 step time by part (analytic model)", "time per step (ms)", "part",
                names.Select(Words).ToList(), [new BarSeries("modelled", Purple, names.Select(n => Dbl(parts, n) * 1e3).ToList())]));
        }

        if (cycle && Has(s, "fabric", out var fab) && fab.ValueKind == JsonValueKind.Object)
        {
            page.Heading("The simulated wafer");
            page.Facts([
                ("wafer, region", $"{Str(fab, "wafer")}: {Long(fab, "workerRows")} worker rows x {Long(fab, "columns")} columns + the edge row, {Long(fab, "tokensPerRow")} tokens a row"),
                ("simulated cycles per step", Num(Dbl(fab, "cyclesPerStep"))),
                ("layer model's cycles per step", Num(Dbl(fab, "modelCyclesPerStep"))),
                ("model error", Pct(Dbl(fab, "modelError"))),
                ("simulated time per step (ms)", Num(Dbl(fab, "secondsPerStep") * 1e3)),
                ("simulator speed (PE-steps per host second)", Num(Dbl(fab, "peStepsPerHostSecond"))),
            ]);
            var layers = Has(fab, "layers", out var ls) && ls.ValueKind == JsonValueKind.Array ? ls.EnumerateArray().ToList() : [];
            var names = layers.Select(l => $"layer {Long(l, "layer")} {Str(l, "direction")}").ToList();
            page.Chart(Bars("Per layer, last training pass: simulated against modelled cycles", "cycles", "layer and direction", names,
            [
                new BarSeries("simulated", Blue, layers.Select(l => Dbl(l, "cycles")).ToList()),
                new BarSeries("layer model", Orange, layers.Select(l => Dbl(l, "modelCycles")).ToList()),
            ]));
            page.Table(["layer", "direction", "simulated cycles", "model cycles", "error", "busy PE-cycles", "fraction of fp16 peak", "values through the edge"],
                layers.Select(l => (IReadOnlyList<string>)[
                    Long(l, "layer").ToString(Inv), Str(l, "direction"), "#" + Num(Dbl(l, "cycles")), "#" + Num(Dbl(l, "modelCycles")),
                    "#" + Pct(Dbl(l, "modelError")), "#" + Share(Dbl(l, "utilization")), "#" + Share(Dbl(l, "fractionOfPeakFlops")), "#" + Num(Dbl(l, "edgeValues"))]));
        }

        page.Heading("Configuration");
        if (Has(s, "config", out var cfg) && cfg.ValueKind == JsonValueKind.Object) { page.Note("Model (as trained):"); page.Facts(Flatten(cfg)); }
        if (Has(s, "options", out var opt) && opt.ValueKind == JsonValueKind.Object) { page.Note("Run options (the seed among them):"); page.Facts(Flatten(opt)); }
        page.Facts([("git revision", Str(s, "gitRevision"))]);
        return page.Render();
    }

    /// <summary>loss.csv's per-step losses and, at cycle fidelity, the fast reference's.</summary>
    private static (List<(double, double)> Steps, List<(double, double)> Reference) ReadLossCsv(string dir)
    {
        var path = Path.Combine(dir, "loss.csv");
        List<(double, double)> steps = [], reference = [];
        if (!File.Exists(path)) return (steps, reference);
        if (new FileInfo(path).Length > MaxRunFileBytes) throw Bad(dir, "loss.csv", $"larger than {MaxRunFileBytes / (1 << 20)} MiB: not a file wafer wrote");
        var lineNo = 0;
        foreach (var line in File.ReadLines(path))
        {
            if (++lineNo == 1) continue;
            var f = line.Split(',');
            if (f.Length < 3 || !int.TryParse(f[1], Inv, out var step)) throw new WaferInputException($"report: {path}:{lineNo}: expected kind,step,train_loss,val_loss");
            var loss = double.TryParse(f[2], Inv, out var v) ? v : double.NaN;
            if (f[0] == "step") steps.Add((step, loss));
            else if (f[0] == "fast_reference_step") reference.Add((step, loss));
        }
        return (steps, reference);
    }

    // -------------------------------------------------------------------------------------------------------- run

    private static string Run(string dir)
    {
        var s = Load(dir, "stats.json");
        var stats = Has(s, "stats", out var st) && st.ValueKind == JsonValueKind.Array ? st.EnumerateArray().ToList() : throw Bad(dir, "stats.json", "no stats array");
        double Stat(string name) => stats.FirstOrDefault(x => Str(x, "name") == name) is { ValueKind: JsonValueKind.Object } e ? Dbl(e, "value") : double.NaN;
        var cfg = Has(s, "config", out var c) ? c : default;
        var page = new HtmlPage($"wafer run: {Str(s, "program")}",
            $"on {(cfg.ValueKind == JsonValueKind.Object ? Str(cfg, "name") : "?")}: {Num(Stat("pes"))} PEs; seed {Long(s, "seed")}; git revision {Str(s, "gitRevision")}");
        page.Heading("Result");
        var facts = new List<(string, string)>();
        if (Has(s, "result", out var r) && r.ValueKind == JsonValueKind.Object)
        {
            facts.Add(("numerical check", Has(r, "verified", out var v) && v.ValueKind == JsonValueKind.True ? "matches the host reference" : "DIFFERS from the host reference"));
            facts.Add(("largest |error| (tolerance)", $"{Num(Dbl(r, "maxAbsError"))} ({Num(Dbl(r, "tolerance"))})"));
            facts.Add(("closed-form model (cycles)", Num(Dbl(r, "modelCycles"))));
            facts.Add(("model error", Pct(Dbl(r, "modelError"))));
        }
        facts.Add(("simulated cycles", Num(Stat("cycles"))));
        facts.Add(("fabric time (us)", Num(Stat("seconds") * 1e6)));
        facts.Add(("busy PE-cycles (fraction)", Num(Stat("utilization"))));
        facts.Add(("fraction of fp16 peak flop/s", Num(Stat("fractionOfPeakFlops"))));
        facts.Add(("simulator speed (PE-cycles per host second)", Num(Stat("peCyclesPerHostSecond"))));
        page.Facts(facts);

        // Simulated against modelled cycles: the whole run, and per phase where the program reports phases.
        var phases = stats.Select(x => Str(x, "name")).Where(n => n.StartsWith("phase", StringComparison.Ordinal) && n.EndsWith(" cycles", StringComparison.Ordinal)).ToList();
        if (phases.Count > 0)
        {
            var labels = phases.Select(p => p[..^" cycles".Length]).ToList();
            page.Chart(Bars("Per phase: simulated against modelled cycles", "cycles", "phase", labels.Select(l => l[(l.IndexOf(' ') + 1)..]).ToList(),
            [
                new BarSeries("simulated", Blue, labels.Select(l => Stat(l + " cycles")).ToList()),
                new BarSeries("layer model", Orange, labels.Select(l => Stat(l + " model")).ToList()),
            ]));
        }
        else if (r.ValueKind == JsonValueKind.Object && double.IsFinite(Dbl(r, "modelCycles")))
            page.Chart(Bars("Simulated against modelled cycles", "cycles", "run", ["whole run"],
                [new BarSeries("simulated", Blue, [Stat("cycles")]), new BarSeries("closed-form model", Orange, [Dbl(r, "modelCycles")])]));

        if (Has(s, "heatmaps", out var hm) && hm.ValueKind == JsonValueKind.Array)
        {
            page.Heading("Per PE");
            foreach (var h in hm.EnumerateArray())
            {
                if (!Has(h, "values", out var vals) || vals.ValueKind != JsonValueKind.Array) throw Bad(dir, "stats.json", "a heatmap without a values array");
                int Size(string name) => Long(h, name) is var v and >= 1 and <= 10_000_000 ? (int)v : throw Bad(dir, "stats.json", $"heatmap {name} must be between 1 and 10,000,000 (is {Long(h, name)})");
                var g = new HeatGrid(Str(h, "stat"), Str(h, "unit"), Str(h, "meaning"), Size("widthPes"), Size("heightPes"), Size("binWidth"),
                    Size("binHeight"), Size("columns"), Size("rows"), vals.EnumerateArray().Select(x => x.ValueKind == JsonValueKind.Number && x.TryGetDouble(out var d) ? d : double.NaN).ToList());
                if ((long)g.Columns * g.Rows != g.Values.Count) throw Bad(dir, "stats.json", $"heatmap '{g.Stat}' has {g.Values.Count} values for {g.Columns} x {g.Rows} bins");
                page.Chart(Heatmap(Capital(g.Meaning), g));
            }
        }

        page.Heading("All statistics");
        page.Table(["stat", "value", "unit", "meaning"], stats.Select(x => (IReadOnlyList<string>)[Str(x, "name"), "#" + Num(Dbl(x, "value")), Str(x, "unit"), Str(x, "meaning")]));
        page.Heading("Configuration");
        if (Has(s, "parameters", out var p) && p.ValueKind == JsonValueKind.Object) { page.Note("Program parameters:"); page.Facts(Flatten(p)); }
        if (cfg.ValueKind == JsonValueKind.Object) { page.Note("Wafer (every field's unit and source: docs/architecture.md):"); page.Facts(Flatten(cfg)); }
        page.Facts([("seed", Long(s, "seed").ToString(Inv)), ("git revision", Str(s, "gitRevision"))]);
        return page.Render();
    }

    // --------------------------------------------------------------------------------------------------- estimate

    private static string Estimate(string dir)
    {
        var e = Load(dir, "estimate.json");
        var hasWafer = Has(e, "system", out _);
        var gpu = Has(e, "vs", out var vs) && vs.ValueKind == JsonValueKind.Object ? vs
            : Has(e, "gpu", out var gg) && gg.ValueKind == JsonValueKind.Object ? gg : default;
        var hasGpu = gpu.ValueKind == JsonValueKind.Object;
        var sys = hasWafer ? $"{Long(e, "systems")} x {Str(e, "system")}" : "";
        var gpus = hasGpu ? $"{Long(gpu, "gpus")} x {Str(gpu, "system")}" : "";
        var page = new HtmlPage($"wafer estimate: {Str(e, "model")}",
            $"{Num(Dbl(e, "parameters"))} parameters, batch {Num(Dbl(e, "batch"))} sequences of {Num(Dbl(e, "seq"))} tokens, {Num(Dbl(e, "tokens"))} training tokens; {string.Join(" against ", new[] { sys, gpus }.Where(x => x.Length > 0))}");
        page.Heading("Side by side");
        var cols = new List<string> { "" };
        if (hasWafer) cols.Add(sys);
        if (hasGpu) cols.Add(gpus);
        IReadOnlyList<string> Row(string name, Func<JsonElement, string> wafer, Func<JsonElement, string> g)
        {
            var row = new List<string> { name };
            if (hasWafer) row.Add(wafer(e));
            if (hasGpu) row.Add(g(gpu));
            return row;
        }
        page.Table(cols,
        [
            Row("fits", x => Fits(x), x => Fits(x)),
            Row("step time (s)", x => "#" + Num(Dbl(x, "stepSeconds")), x => "#" + Num(Dbl(x, "stepSeconds"))),
            Row("tokens per second", x => "#" + Num(Dbl(x, "tokensPerSecond")), x => "#" + Num(Dbl(x, "tokensPerSecond"))),
            Row("utilization (fraction of fp16 peak)", x => "#" + Num(Dbl(x, "mfu")), x => "#" + Num(Dbl(x, "mfu"))),
            Row("bottleneck", x => Str(x, "bottleneck"), x => Str(x, "bottleneck")),
            Row("time to train (days)", x => "#" + Num(Dbl(x, "timeToTrainSeconds") / 86400), x => "#" + Num(Dbl(x, "timeToTrainSeconds") / 86400)),
        ]);
        var bars = new List<(string Name, double Step, double Tps)>();
        if (hasWafer) bars.Add((sys, Dbl(e, "stepSeconds"), Dbl(e, "tokensPerSecond")));
        if (hasGpu) bars.Add((gpus, Dbl(gpu, "stepSeconds"), Dbl(gpu, "tokensPerSecond")));
        page.Chart(Bars("Step time", "time per step (s)", "system", bars.Select(b => b.Name).ToList(), [new BarSeries("step time", Blue, bars.Select(b => b.Step).ToList())]));
        page.Chart(Bars("Training throughput", "tokens per second", "system", bars.Select(b => b.Name).ToList(), [new BarSeries("tokens per second", Green, bars.Select(b => b.Tps).ToList())]));
        if (hasWafer && Has(e, "seconds", out var parts) && parts.ValueKind == JsonValueKind.Object)
        {
            var names = parts.EnumerateObject().Select(p => p.Name).ToList();
            page.Chart(Bars($"{sys}: step time by part ({Str(e, "mapping")})", "time per step (s)", "part", names.Select(Words).ToList(),
                [new BarSeries("modelled", Purple, names.Select(n => Dbl(parts, n)).ToList())]));
        }
        if (hasWafer && Has(e, "memoryPlan", out var plan) && plan.ValueKind == JsonValueKind.Object)
        {
            page.Heading("Memory plan per PE");
            page.Facts(Flatten(plan));
        }
        if (hasGpu && Has(gpu, "layout", out var layout) && layout.ValueKind == JsonValueKind.Object)
        {
            page.Heading($"{gpus}: parallel layout");
            page.Facts(Flatten(layout));
        }
        page.Heading("Inputs");
        page.Facts(e.EnumerateObject().Where(p => p.Value.ValueKind is JsonValueKind.String or JsonValueKind.Number).Select(p => (Words(p.Name), Show(p.Value))));
        return page.Render();
    }

    private static string Fits(JsonElement x) =>
        Has(x, "fits", out var f) && f.ValueKind == JsonValueKind.True ? "+yes" : "!no: " + Str(x, "whyNot");

    // --------------------------------------------------------------------------------------------------- validate

    private static string Validate(string dir)
    {
        var v = Load(dir, "validate.json");
        var rows = Has(v, "rows", out var r) && r.ValueKind == JsonValueKind.Array ? r.EnumerateArray().ToList() : throw Bad(dir, "validate.json", "no rows array");
        var page = new HtmlPage("wafer validate", $"the simulator against published CS-2 measurements and models, the GPU model against published Megatron-LM runs; git revision {Str(v, "gitRevision")}");
        page.Heading("Cases");
        page.Table(["case", "published", "Wafer", "unit", "error", "tolerance", "within", "how"], rows.Select(x =>
        {
            var within = Math.Abs(Dbl(x, "relativeError")) <= Dbl(x, "tolerance");
            return (IReadOnlyList<string>)[Str(x, "name"), "#" + Num(Dbl(x, "published")), "#" + Num(Dbl(x, "simulated")), Str(x, "unit"),
                "#" + Pct(Dbl(x, "relativeError")), "#" + Share(Dbl(x, "tolerance")), within ? "+yes" : "!no", Str(x, "how")];
        }));
        if (Has(v, "groups", out var gs) && gs.ValueKind == JsonValueKind.Array && gs.GetArrayLength() > 0)
        {
            page.Heading("Mean absolute error");
            page.Table(["group", "rows", "mean |error|", "within tolerance"], gs.EnumerateArray().Select(x =>
                (IReadOnlyList<string>)[Str(x, "group"), "#" + Num(Dbl(x, "rows")), "#" + Share(Dbl(x, "meanAbsoluteError")), "#" + Num(Dbl(x, "within"))]));
        }
        page.Chart(Bars("Wafer against the published value", "relative error (%)", "case", rows.Select(x => Str(x, "name")).ToList(),
        [
            new BarSeries("error", Blue, rows.Select(x => Dbl(x, "relativeError") * 100).ToList()),
            new BarSeries("tolerance", Red, rows.Select(x => Dbl(x, "tolerance") * 100).ToList()),
        ]));
        if (Has(v, "skipped", out var sk) && sk.ValueKind == JsonValueKind.Array && sk.GetArrayLength() > 0)
        {
            page.Heading("Not reproduced yet");
            page.Table(["case", "published", "why"], sk.EnumerateArray().Select(x => (IReadOnlyList<string>)[Str(x, "name"), Str(x, "published"), Str(x, "why")]));
        }
        return page.Render();
    }

    // ---------------------------------------------------------------------------------------------------- helpers

    private static JsonElement Load(string dir, string name)
    {
        var path = Path.Combine(dir, name);
        if (new FileInfo(path).Length > MaxRunFileBytes) throw Bad(dir, name, $"larger than {MaxRunFileBytes / (1 << 20)} MiB: not a file wafer wrote");
        try
        {
            var bytes = File.ReadAllBytes(path);
            // JsonDocument accepts strings holding invalid UTF-8 and fails only when one is read: check the whole file first.
            try { _ = StrictUtf8.GetCharCount(bytes); }
            catch (DecoderFallbackException) { throw Bad(dir, name, "not valid UTF-8"); }
            using var doc = JsonDocument.Parse(bytes);
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw Bad(dir, name, "not a JSON object");
            return doc.RootElement.Clone();
        }
        catch (JsonException ex)
        {
            throw Bad(dir, name, $"not valid JSON ({ex.Message})");
        }
    }

    /// <summary>TryGetProperty that is false, rather than throwing, on an element that is not an object.</summary>
    private static bool Has(JsonElement e, string name, out JsonElement value)
    {
        value = default;
        return e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out value);
    }

    private static WaferInputException Bad(string dir, string name, string why) => new($"report: {Path.Combine(dir, name)}: {why}");

    private static string Str(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && Has(e, name, out var v) ? v.ValueKind switch
        {
            JsonValueKind.String => v.GetString()!,
            JsonValueKind.Null or JsonValueKind.Undefined => "",
            _ => v.ToString(),
        } : "";

    private static double Dbl(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && Has(e, name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out var d) ? d : double.NaN;

    private static long Long(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && Has(e, name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out var l) ? l : 0;

    /// <summary>A signed relative error, "+1.6 %" (a no-break space before the sign of percent).</summary>
    private static string Pct(double f) => double.IsFinite(f) ? (f * 100).ToString("+0.0;-0.0;0.0", Inv) + "\u00a0%" : "n/a";

    /// <summary>A fraction as a percentage, "82.6 %".</summary>
    private static string Share(double f) => double.IsFinite(f) ? (f * 100).ToString("0.0", Inv) + "\u00a0%" : "n/a";

    private static string Show(JsonElement v) => v.ValueKind switch
    {
        // Small integers (a seed, a layer count) as written; larger numbers grouped or in e-notation.
        JsonValueKind.Number when v.TryGetInt64(out var i) && Math.Abs(i) < 100_000 => i.ToString(Inv),
        JsonValueKind.Number => Num(v.TryGetDouble(out var d) ? d : double.NaN),
        JsonValueKind.Array => string.Join(", ", v.EnumerateArray().Select(Show)),
        JsonValueKind.String => v.GetString()!,
        JsonValueKind.Null => "",
        _ => v.ToString(),
    };

    private static IEnumerable<(string, string)> Flatten(JsonElement o) =>
        o.EnumerateObject().Select(p => (Words(p.Name), Show(p.Value)));

    private static readonly Dictionary<string, string> Labels = new()
    {
        ["compute"] = "compute (layers on the fabric)", ["fabricReduction"] = "fabric reduction or host steps", ["weightIo"] = "weight I/O (MemoryX link)",
        ["memoryXExposed"] = "MemoryX (exposed)", ["swarmX"] = "SwarmX", ["clockHz"] = "clock (Hz)", ["mfu"] = "utilization (fraction of fp16 peak)",
    };

    /// <summary>A JSON key as words: a known one's label, else camelCase split ("tokensPerRow" -> "tokens per row").</summary>
    private static string Words(string camel) => Labels.TryGetValue(camel, out var label) ? label :
        string.Concat(camel.Select((ch, i) => i > 0 && char.IsUpper(ch) ? " " + char.ToLowerInvariant(ch) : ch.ToString()));

    private static string Capital(string s) => s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..];
}
