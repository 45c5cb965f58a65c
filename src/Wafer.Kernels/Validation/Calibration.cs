// The calibration cases of docs/sources.md §9 that the simulator can reproduce today, each run on the
// simulator (or, where a formula is the published result, evaluated from the wafer config), with the cases it cannot
// reproduce yet listed with the reason.
using Wafer.Fabric.Config;
using Wafer.Fabric.Engine;

namespace Wafer.Kernels.Validation;

/// <summary>One calibration case; Group gathers the rows of one source and mechanism (e.g. "SC22 stencil") for the
/// per-group mean absolute error.</summary>
public sealed record CalibrationRow(string Name, double Published, double Simulated, string Unit, string How, string Group)
{
    /// <summary>Wafer's fidelity target: every calibration row within 10 % of the published value.</summary>
    public const double TargetRelativeError = 0.10;

    public double RelativeError => (Simulated - Published) / Published;
    public double Tolerance => TargetRelativeError;
    public bool Within => Math.Abs(RelativeError) <= Tolerance;
}

public sealed record CalibrationSkip(string Name, string Published, string Why);

/// <summary>Mean absolute relative error of a set of rows (a group, or all of them).</summary>
public sealed record CalibrationSummary(string Group, int Rows, double MeanAbsoluteError, int Within)
{
    public static IReadOnlyList<CalibrationSummary> Of(IReadOnlyList<CalibrationRow> rows) =>
    [
        .. rows.GroupBy(r => r.Group).Select(g => Summarise(g.Key, [.. g])),
        Summarise("overall", rows),
    ];

    private static CalibrationSummary Summarise(string group, IReadOnlyList<CalibrationRow> rows) =>
        new(group, rows.Count, rows.Count == 0 ? 0 : rows.Average(r => Math.Abs(r.RelativeError)), rows.Count(r => r.Within));
}

public static class Calibration
{
    /// <summary>Luczynski et al. (HPDC'24) model of a chain reduce of B elements over P PEs of a row:
    /// T = max(C, E/N + L) + (2 T_R + 1) D with contention C = B, energy E = B (P - 1) wavelet-hops on N = P - 1 links,
    /// distance L = P - 1 and depth D = P - 1; the paper reports it within 4 % of CS-2 measurements.</summary>
    public static double ReduceModelCycles(int b, int p, int rampLatency)
    {
        double c = b, e = (double)b * (p - 1), n = p - 1, l = p - 1, d = p - 1;
        return Math.Max(c, e / n + l) + (2.0 * rampLatency + 1) * d;
    }

    /// <summary>SC22's 25-point stencil (Jacquelin et al., Table II): 755 x 994 PEs, nz = 1000, 1000 steps in 0.0761 s,
    /// and the hardware profile's 69.6 % busy cycles (600 x 600 x 1000). Busy excludes the cycles a bank conflict adds
    /// to an op (the pipeline waits on SRAM there; the profile counts them idle from memory accesses). A step costs the same on any grid past ~10 x 10
    /// PEs (every PE talks to 4 neighbours per direction; 12 x 12 and 20 x 20 gave the same cycles per step), so a
    /// 16 x 16 x 1000 part is simulated for 1 and 3 steps and the per-step cycles extrapolate to 1000 steps.</summary>
    private static IEnumerable<CalibrationRow> Stencil(WaferConfig cs2, SimulatorOptions options)
    {
        const int side = 16, nz = 1000, steps = 1000;
        var stencil = DemoRegistry.Find("stencil25")!;
        var one = stencil.Run(cs2, new DemoSize(side, side, nz, Steps: 1), options);
        var three = stencil.Run(cs2, new DemoSize(side, side, nz, Steps: 3), options);
        if (!one.Verified || !three.Verified) throw new InvalidOperationException("stencil25 did not match its host reference");
        var perStep = (three.Simulator.Cycle - one.Simulator.Cycle) / 2.0;
        var total = one.Simulator.Cycle + (steps - 1) * perStep;
        yield return new CalibrationRow("25-point stencil, 755 x 994 PEs x nz 1000, 1000 steps (SC22)", 0.0761, total / cs2.ClockHz, "s",
            $"simulated on {side} x {side} PEs x nz {nz} for 1 and 3 steps ({perStep:F0} cycles per step), extrapolated to {steps} steps at {cs2.ClockHz / 1e6:F0} MHz", "SC22 stencil");
        yield return new CalibrationRow("25-point stencil busy cycles (SC22 profile, 600 x 600 x 1000)", 0.696, three.Extra["centreBusyFraction"], "fraction",
            $"busy cycles of the centre PE of the {side} x {side} x {nz} run, 3 steps; idle on memory (bank-conflict stalls) {three.Extra["centreIdleOnMemoryFraction"]:P1} against the published 11.6 %", "SC22 stencil");
    }

    /// <summary>WaferLLM's GEMV [1,16K] x [16K,16K] in fp16 with MeshGEMV and a K = 2 tree allreduce: 1.2 us (OSDI'25,
    /// Table 6). Our references do not give the PE grid; we take P = 512 (the largest P <= 750 that divides 16K, 32 x
    /// 32 blocks). The rows of the P x P grid are independent and identical, so one row of 512 PEs is simulated, which
    /// is the whole grid's time. WaferLLM's benchmark converts cycles at 1.1 GHz (MeshGEMV/WSE-2/launch_device.py).</summary>
    private static CalibrationRow MeshGemv16K(WaferConfig cs2, SimulatorOptions options)
    {
        const int p = 512, block = 16384 / p;
        const double clockHz = 1.1e9;
        var run = DemoRegistry.Find("meshgemv")!.Run(cs2, new DemoSize(p, 1, block, block, Outputs: 2), options);
        if (!run.Verified) throw new InvalidOperationException("meshgemv did not match its host reference");
        return new CalibrationRow("GEMV [1,16K] x [16K,16K] fp16, MeshGEMV + K-tree (K = 2) allreduce (WaferLLM)", 1.2e-6, run.Simulator.Cycle / clockHz, "s",
            $"one row of a {p} x {p} grid (32 x 32 blocks; P assumed) simulated: {run.Simulator.Cycle} cycles at 1.1 GHz as WaferLLM converts", "WaferLLM GEMV");
    }

    public static (IReadOnlyList<CalibrationRow> Rows, IReadOnlyList<CalibrationSkip> Skipped) Run(SimulatorOptions options)
    {
        var cs2 = WaferPresets.Cs2;
        var rows = new List<CalibrationRow>();
        foreach (var (b, p) in new[] { (64, 8), (256, 64), (1024, 256), (4096, 750) })
        {
            var run = DemoRegistry.Find("reduce")!.Run(cs2, new DemoSize(p, 1, b), options);
            if (!run.Verified) throw new InvalidOperationException($"reduce {b} x {p} did not match its host reference");
            rows.Add(new CalibrationRow($"chain reduce, B = {b}, P = {p} (vs the HPDC'24 reduce model)",
                ReduceModelCycles(b, p, cs2.RampLatencyCycles), run.Simulator.Cycle, "cycles", "simulated on a 1-row fabric of P PEs", "HPDC'24 reduce"));
        }
        // Andromeda: 16 CS-2 = 120 PFLOP/s, i.e. 7.5 PFLOP/s per CS-2 = 850,000 PEs x 8 flop/cycle x 1.1 GHz.
        rows.Add(new CalibrationRow("peak dense fp16 per CS-2 (850,000 PEs at 1.1 GHz)", 7.5e15,
            850_000.0 * cs2.PeakFlopsPerPeCycle * 1.1e9, "flop/s", "the wafer config's flop per PE-cycle x the published PE count and clock", "CS-2 peak"));
        rows.AddRange(Stencil(cs2, options));
        rows.Add(MeshGemv16K(cs2, options));
        var skipped = new List<CalibrationSkip>
        {
        };
        return (rows, skipped);
    }
}
