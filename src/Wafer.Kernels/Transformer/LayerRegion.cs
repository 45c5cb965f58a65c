// Choosing the region of the layer program for a model and a pass of N tokens: among every (columns, worker rows) that
// the grid's rules allow, whose worker plan fits a PE's SRAM and whose rectangle fits the wafer, the one with the least
// simulated work. The fabric simulator's time goes to wavelets and ops, not to cycles. With P = 3C² + C² + 2 C F the
// weights of a layer, a layer's forward and backward move ~3 N (3C + C + F + C) Cc partial sums along rows (the
// forward, the recompute and dX), 3 P R weights down columns (each weight passes every row's router, three times) and
// P R weight-gradient partials up columns (after as many FMACs): few columns and few rows, as balanced as SRAM allows,
// cost least to simulate. The machine itself runs a larger region faster: the layer cycle model says by how much
// (LayerCycleModel), and --region picks any region.
using Wafer.Core;
using Wafer.Fabric;
using Wafer.Fabric.Config;

namespace Wafer.Kernels.Transformer;

public static class LayerRegion
{
    public static IEnumerable<LayerGrid> Candidates(WaferConfig wafer, LayerShape shape, int tokens, int layers)
    {
        for (var cc = 1; cc <= Math.Min(shape.Channels, wafer.WidthPes); cc++)
        {
            if (shape.Channels % cc != 0 || shape.FfnChannels % cc != 0) continue;
            for (var rows = 1; rows <= Math.Min(tokens, wafer.HeightPes - 1); rows++)
            {
                if (tokens % rows != 0) continue;
                var g = new LayerGrid(cc, rows, tokens / rows, shape);
                if (g.Validate().Count > 0) continue;
                if (new LayerMemory(g, layers).Bytes > wafer.UsableSramBytesPerPe) continue;
                yield return g;
            }
        }
    }

    /// <summary>Wavelet-hops and weight-gradient FMACs of one layer's forward and backward (the proxy above).</summary>
    public static double SimulatedWork(LayerGrid g)
    {
        double c = g.Shape.Channels, f = g.Shape.FfnChannels;
        return 3.0 * g.Tokens * (5 * c + f) * g.Columns + 4.0 * (4 * c * c + 2 * c * f) * g.Rows;
    }

    public static LayerGrid Choose(WaferConfig wafer, LayerShape shape, int tokens, int layers)
    {
        var best = Candidates(wafer, shape, tokens, layers)
            .Select(g => (Grid: g, Work: SimulatedWork(g)))
            .OrderBy(c => c.Work).ThenBy(c => c.Grid.Columns * c.Grid.Rows).FirstOrDefault();
        if (best.Grid is not null) return best.Grid;
        var one = new LayerGrid(1, 1, tokens, shape);
        throw new WaferInputException(
            $"no region of the {wafer.WidthPes} x {wafer.HeightPes} '{wafer.Name}' wafer holds a pass of {tokens} tokens ({shape.Channels} channels, {shape.Heads} heads, {layers} layers): " +
            $"{(one.Validate().Count > 0 ? string.Join("; ", one.Validate()) : $"a worker PE would need more than its {wafer.UsableSramBytesPerPe:N0} bytes of SRAM")}; use fewer tokens per pass (--batch, with --micro-batches to keep the step's tokens)");
    }
}
