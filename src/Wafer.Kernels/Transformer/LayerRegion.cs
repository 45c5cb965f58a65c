// Choosing the region of the layer program for a model and a pass of N tokens: every (columns, worker rows) that the
// grid's rules allow, whose worker plan fits a PE's SRAM and whose rectangle fits the wafer, the fastest by the layer
// cycle model (forward + backward of one layer); ties go to the smaller region.
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

    public static LayerGrid Choose(WaferConfig wafer, LayerShape shape, int tokens, int layers)
    {
        var best = Candidates(wafer, shape, tokens, layers)
            .Select(g => (Grid: g, Cycles: LayerCycleModel.Forward(wafer, g, 0) + LayerCycleModel.Backward(wafer, g, 0)))
            .OrderBy(c => c.Cycles).ThenBy(c => c.Grid.Columns * c.Grid.Rows).FirstOrDefault();
        if (best.Grid is not null) return best.Grid;
        var one = new LayerGrid(1, 1, tokens, shape);
        throw new WaferInputException(
            $"no region of the {wafer.WidthPes} x {wafer.HeightPes} '{wafer.Name}' wafer holds a pass of {tokens} tokens ({shape.Channels} channels, {shape.Heads} heads, {layers} layers): " +
            $"{(one.Validate().Count > 0 ? string.Join("; ", one.Validate()) : $"a worker PE would need more than its {wafer.UsableSramBytesPerPe:N0} bytes of SRAM")}; use fewer tokens per pass (--batch, with --micro-batches to keep the step's tokens)");
    }
}
