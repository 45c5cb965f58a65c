// The calibration cases of shared/reference/published.md that the simulator can reproduce today, each run on the
// simulator (or, where a formula is the published result, evaluated from the wafer config), with the cases it cannot
// reproduce yet listed with the reason.
using Wafer.Fabric.Config;
using Wafer.Fabric.Engine;

namespace Wafer.Kernels.Validation;

public sealed record CalibrationRow(string Name, double Published, double Simulated, string Unit, string How)
{
    public double RelativeError => (Simulated - Published) / Published;
}

public sealed record CalibrationSkip(string Name, string Published, string Why);

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

    public static (IReadOnlyList<CalibrationRow> Rows, IReadOnlyList<CalibrationSkip> Skipped) Run(SimulatorOptions options)
    {
        var cs2 = WaferPresets.Cs2;
        var rows = new List<CalibrationRow>();
        foreach (var (b, p) in new[] { (64, 8), (256, 64), (1024, 256), (4096, 750) })
        {
            var run = DemoRegistry.Find("reduce")!.Run(cs2, new DemoSize(p, 1, b), options);
            if (!run.Verified) throw new InvalidOperationException($"reduce {b} x {p} did not match its host reference");
            rows.Add(new CalibrationRow($"chain reduce, B = {b}, P = {p} (vs the HPDC'24 reduce model)",
                ReduceModelCycles(b, p, cs2.RampLatencyCycles), run.Simulator.Cycle, "cycles", "simulated on a 1-row fabric of P PEs"));
        }
        // Andromeda: 16 CS-2 = 120 PFLOP/s, i.e. 7.5 PFLOP/s per CS-2 = 850,000 PEs x 8 flop/cycle x 1.1 GHz.
        rows.Add(new CalibrationRow("peak dense fp16 per CS-2 (850,000 PEs at 1.1 GHz)", 7.5e15,
            850_000.0 * cs2.PeakFlopsPerPeCycle * 1.1e9, "flop/s", "the wafer config's flop per PE-cycle x the published PE count and clock"));
        var skipped = new List<CalibrationSkip>
        {
            new("25-point stencil, 755 x 994 x 1000, 1000 steps", "0.0761 s", "not written: the paper's 16 neighbour streams per PE need more input queues (8) or switch positions (4) than a PE has, and the engine does not yet make microthreads share the datapath (docs/kernels.md)"),
            new("GEMV [1,16K] x [16K,16K], MeshGEMV with K-tree allreduce", "1.2 us", "MeshGEMV is not written yet (the K-tree allreduce it uses is: allreduce-ktree); the published PE grid of that row is not in our references"),
        };
        return (rows, skipped);
    }
}
