// The per-PE statistics of a run binned for report.html's heatmaps: at most MaxBins x MaxBins cells (a small fabric
// one PE a cell; the full 750 x 994 rectangle 12 x 16 PEs a cell), each the mean over its PEs.
using Wafer.Fabric.Stats;

namespace Wafer.Cli.Reports.Html;

internal static class PeGrids
{
    public const int MaxBins = 64;

    public static IReadOnlyList<HeatGrid> From(RunStats s)
    {
        var cycles = Math.Max(1, s.Cycles);
        return
        [
            Bin(s, "busyFraction", "fraction of cycles", "busy cycles per PE", i => (double)s.PeBusyCycles[i] / cycles),
            Bin(s, "waveletsForwarded", "wavelets", "wavelets each PE's router forwarded", i => s.PeWavelets[i]),
            Bin(s, "stallCycles", "op-cycles", "cycles the PE's ops waited on fabric queues or FIFOs", i => s.PeStallCycles[i]),
            Bin(s, "sramBytes", "B", "SRAM each PE's program allocated", i => s.PeSramBytes[i]),
        ];
    }

    private static HeatGrid Bin(RunStats s, string stat, string unit, string meaning, Func<long, double> value)
    {
        int bw = (s.Width + MaxBins - 1) / MaxBins, bh = (s.Height + MaxBins - 1) / MaxBins;
        int cols = (s.Width + bw - 1) / bw, rows = (s.Height + bh - 1) / bh;
        var sum = new double[cols * rows];
        var count = new int[cols * rows];
        for (var y = 0; y < s.Height; y++)
            for (var x = 0; x < s.Width; x++)
            {
                var b = y / bh * cols + x / bw;
                sum[b] += value((long)y * s.Width + x);
                count[b]++;
            }
        return new HeatGrid(stat, unit, meaning, s.Width, s.Height, bw, bh, cols, rows, sum.Select((v, i) => v / count[i]).ToArray());
    }
}
