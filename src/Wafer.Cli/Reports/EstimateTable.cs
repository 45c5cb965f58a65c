// The readable form of `wafer estimate`: one column per system, side by side with --vs.
using Wafer.Core;
using System.Globalization;
using Wafer.Gpt;
using Wafer.Model;
using Wafer.Model.Systems;

namespace Wafer.Cli.Reports;

internal static class EstimateTable
{
    public static void Write(TextWriter o, GptConfig m, CerebrasSystem? wafer, WaferEstimate? w, GpuSystem? g, GpuEstimate? ge, long batch, int seq, double budget)
    {
        var inv = CultureInfo.InvariantCulture;
        o.WriteLine(string.Create(inv, $"model {m.Name}: {ParameterLayout.PublishedCount(m):N0} parameters, batch {batch} x {seq} tokens, training budget {budget:E3} tokens"));
        var rows = new List<(string Label, string Wafer, string Gpu)>();
        string Time(double s) => !double.IsFinite(s) ? "-" : s < 1 ? $"{s * 1e3:F1} ms" : s < 3600 ? $"{s:F2} s" : s < 86400 * 2 ? $"{s / 3600:F1} h" : $"{s / 86400:F1} days";
        string W(Func<WaferEstimate, string> f) => w is null ? "" : f(w);
        string G(Func<GpuEstimate, string> f) => ge is null ? "" : f(ge);
        rows.Add(("system", W(e => $"{e.Systems} x {wafer!.Name} ({wafer.Wafer.WidthPes}x{wafer.Wafer.HeightPes} PEs at {wafer.Wafer.ClockHz / 1e6:F0} MHz)"), G(e => $"{e.Gpus} x {g!.Name}")));
        rows.Add(("fits", W(e => e.Fits ? "yes" : "NO: " + e.WhyNot), G(e => e.Fits ? "yes" : "NO: " + e.WhyNot)));
        if (w is not null) rows.Add(("mapping", w.Mapping, ""));
        var program = w?.Columns > 0;
        if (program && w!.Plan is { } lp)
        {
            rows.Add(("region", $"{w.Rows} rows x {w.Columns} columns of workers + the edge row: {lp.TokensPerRow} tokens/row, {lp.SequencesPerPass} seqs/pass, {lp.Passes} passes of {lp.TokensPerPass:N0} tokens", ""));
            rows.Add(("SRAM per PE", $"{lp.SramFractionUsed:P0} of {lp.SramBytesPerPeForActivations:N0} B (each layer's input kept, the rest recomputed)", ""));
        }
        else if (w?.Plan is { } p)
        {
            rows.Add(("memory plan", $"{(p.Recompute ? "recompute layers" : "keep activations")}: {p.TokensPerRow} tokens/row, {p.SequencesPerPass} seqs/pass, {p.Passes} passes of {p.TokensPerPass:N0} tokens", ""));
            rows.Add(("SRAM per PE", $"{p.SramBytesPerPeForActivations:N0} B for activations ({p.SramFractionUsed:P0} used); {p.BytesPerTokenKept + p.BytesPerTokenWorking:N0} B per token", ""));
        }
        if (ge?.Layout is { } l)
            rows.Add(("layout", "", $"TP {l.Tensor}, PP {l.Pipeline}, DP {l.Data}, micro-batch {l.MicroBatch}{(l.ShardedOptimizer ? ", sharded optimizer" : "")}{(l.SequenceParallel ? ", sequence parallel" : "")}, {l.Recompute.ToString().ToLowerInvariant()} recompute; {ge.MemoryBytesPerGpu / 1e9:F1} GB/GPU"));
        rows.Add(("step time", W(e => Time(e.StepSeconds)), G(e => Time(e.StepSeconds))));
        rows.Add(("tokens/s", W(e => e.TokensPerSecond.ToString("N0", inv)), G(e => e.TokensPerSecond.ToString("N0", inv))));
        rows.Add(("utilization (MFU)", W(e => e.Mfu.ToString("P1", inv)), G(e => e.Mfu.ToString("P1", inv))));
        rows.Add(("bottleneck", W(e => e.Bottleneck), G(e => e.Bottleneck)));
        if (w is { Fits: true } && program)
            rows.Add(("step breakdown", $"layers on the fabric {Time(w.ComputeSeconds)} (weight I/O {Time(w.IoSeconds)} within it), embedding and head {Time(w.ReduceSeconds)}, MemoryX {Time(w.MemoryXSeconds)}", ""));
        else if (w is { Fits: true })
            rows.Add(("step breakdown", $"compute {Time(w.ComputeSeconds)}, fabric {Time(w.ReduceSeconds)}, weight I/O {Time(w.IoSeconds)}, MemoryX {Time(w.MemoryXSeconds)}", ""));
        rows.Add(("time to train", W(e => e.Fits ? Time(budget / e.TokensPerSecond) : "-"), G(e => e.Fits ? Time(budget / e.TokensPerSecond) : "-")));
        var width = rows.Max(r => r.Label.Length);
        var wWidth = rows.Max(r => r.Wafer.Length);
        foreach (var (label, a, b) in rows)
            o.WriteLine($"  {label.PadRight(width)}  {(w is null ? b : ge is null ? a : a.PadRight(wWidth) + "  " + b)}".TrimEnd());
    }
}
