// The training step of a GPT on one or N Cerebras systems as the layer program runs it (docs/transformer.md): every
// block's phases priced by LayerCycleModel, the model that the cycle-level executor's runs check (docs/transformer.md
// §4), on the region that makes the step fastest. Per pass: L x (the block's forward + its backward with the recomputed
// forward) + the host steps (the embedding over the MemoryX link, the head as a product of the region); per step:
// passes x that + MemoryX's exposed optimizer update + SwarmX (as WaferStepModel, docs/model.md §3). fp16 products
// (the production mapping) when the system streams 2-byte values, fp32 when 4.
// GPT-J / NeoX blocks are priced with their own phases (parallel residual, rotary, one or two norms), as the cycle
// executor runs them.
using Wafer.Core;
using Wafer.Kernels.Transformer;
using Wafer.Model.Systems;

namespace Wafer.Model;

public static class LayerProgramStepModel
{
    public static WaferEstimate Estimate(GptConfig m, CerebrasSystem sys, long batch, int seq, int systems)
    {
        var flops = WaferStepModel.ModelFlops(m, batch, seq);
        var perSystem = (batch + systems - 1) / systems;
        var w = sys.Wafer;
        var fp16 = sys.StreamBytesPerValue == 2;
        var shape = LayerShape.Of(m, seq);
        (LayerGrid Grid, long Passes, double Seconds, long LayerCycles, long HostCycles)? best = null;
        foreach (var cc in Divisors(m.Channels).Where(c => c <= w.WidthPes && m.FfnChannels % c == 0))
        {
            var grid = Region(w, shape, cc, m.Layers, perSystem);
            if (grid is null) continue;
            var seqsPerPass = (long)grid.Tokens / seq;
            var passes = (perSystem + seqsPerPass - 1) / seqsPerPass;
            // A column's share of the link, cycles per fp32 value (the layer model halves it for fp16 values).
            var pace = 4.0 * cc / (sys.IoBytesPerSecond / w.ClockHz);
            var layer = LayerCycleModel.Forward(w, grid, pace, fp16) + LayerCycleModel.Backward(w, grid, pace, fp16);
            var host = LayerCycleModel.HostSteps(w, grid, m.PaddedVocabSize, pace, training: true);
            var seconds = passes * (m.Layers * (double)layer + host) / w.ClockHz;
            if (best is null || seconds < best.Value.Seconds) best = (grid, passes, seconds, layer, host);
        }
        if (best is not { } b)
            return new WaferEstimate(false, $"no region of the {w.WidthPes} x {w.HeightPes} wafer holds a sequence of {seq} tokens of {m.Name} in the layer program ({m.Channels} channels, {m.Heads} heads): see docs/transformer.md §3",
                null, double.NaN, 0, 0, "does not fit", 0, 0, 0, 0, 0, flops, 0, systems) { Mapping = MappingName(fp16) };
        var parameters = ParameterLayout.PublishedCount(m);
        var layersSeconds = b.Passes * m.Layers * (double)b.LayerCycles / w.ClockHz;
        var hostSeconds = b.Passes * (double)b.HostCycles / w.ClockHz;
        var fabric = layersSeconds + hostSeconds;
        // Weights cross the link three times a pass (forward, recompute, dX) and gradients once (the other direction).
        var weightBytes = (long)(b.Passes * 3.0 * parameters * sys.StreamBytesPerValue);
        var io = weightBytes / sys.IoBytesPerSecond;
        var updateAll = parameters * (double)WaferStepModel.AdamBytesPerParameter / sys.MemoryXBytesPerSecond;
        var largestSegment = Math.Max((double)m.PaddedVocabSize * m.Channels, 12.0 * m.Channels * m.Channels);
        var memoryX = Math.Max(largestSegment * WaferStepModel.AdamBytesPerParameter / sys.MemoryXBytesPerSecond, updateAll - fabric);
        var levels = systems > 1 ? Math.Ceiling(Math.Log(systems) / Math.Log(sys.SwarmXFanOut)) : 0;
        var swarm = levels * sys.SwarmXLevelLatencySeconds * b.Passes * (m.Layers + 2) * 2;
        var step = fabric + memoryX + swarm;
        var bottleneck = updateAll > fabric ? "MemoryX optimizer" : io > 0.9 * layersSeconds ? "weight I/O (MemoryX link)" : "fabric (layer program)";
        var plan = new WaferMemoryPlan(true, 0, 0, w.UsableSramBytesPerPe, b.Grid.N, b.Grid.Tokens / seq, (int)b.Passes, b.Grid.Tokens,
            new LayerMemory(b.Grid, m.Layers).Bytes / (double)w.UsableSramBytesPerPe);
        return new WaferEstimate(true, null, plan, step, perSystem * systems * (double)seq / step, flops / (step * systems * sys.PeakFlopsPerSecond),
            bottleneck, layersSeconds, hostSeconds, io, memoryX, swarm, flops, weightBytes, systems)
        {
            Mapping = MappingName(fp16), Columns = b.Grid.Columns, Rows = b.Grid.Rows,
        };
    }

    private static string MappingName(bool fp16) => fp16 ? "layer program, fp16 products (simulated)" : "layer program, fp32 (simulated)";

    /// <summary>For Cc columns: the most tokens per row whose plan fits a PE, then the most rows (up to the batch and the
    /// wafer), as long as rows hold whole sequences or whole sequence groups.</summary>
    private static LayerGrid? Region(Wafer.Fabric.Config.WaferConfig w, LayerShape shape, int cc, int layers, long sequences)
    {
        var t = shape.SeqLen;
        var options = Divisors(t).Select(d => t / d).Concat(Enumerable.Range(2, 63).Select(s => s * t)).Distinct().OrderByDescending(n => n);
        foreach (var n in options)
        {
            var groupRows = n < t ? t / n : 1;
            var seqsPerRow = n < t ? 0 : n / t;
            var maxRows = w.HeightPes - 1;
            // Rows for the whole batch, or as many whole groups as the wafer has.
            long wanted = n < t ? sequences * groupRows : (sequences + seqsPerRow - 1) / seqsPerRow;
            var rows = (int)Math.Min(wanted, maxRows / groupRows * groupRows);
            if (rows < 1) continue;
            // The kept block inputs and the n x n score blocks alone must fit before the whole plan is laid out.
            long k = shape.Channels / cc, usable = w.UsableSramBytesPerPe;
            if ((layers + 1L) * k * n * 4 > usable || 3L * n * n * 4 > usable) continue;
            var grid = new LayerGrid(cc, rows, n, shape);
            if (grid.Validate().Count > 0) continue;
            if (new LayerMemory(grid, layers).Bytes > w.UsableSramBytesPerPe) continue;
            return grid;
        }
        return null;
    }

    private static IEnumerable<int> Divisors(int x) => Enumerable.Range(1, x).Where(d => x % d == 0);
}
