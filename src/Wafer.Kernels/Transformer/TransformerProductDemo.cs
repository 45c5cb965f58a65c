// `wafer run transformer-product`: one product of the layer program, qkv (C -> 3C) of a model of C channels, on a region
// of Cc columns x R worker rows with n tokens per row, for the first D outputs (a slice: a wafer-wide product of a large
// model takes hours to simulate whole, a slice minutes), checked against the host product and timed against the layer
// model's timeline for the same outputs. --width Cc, --height R, --length n, --block C, --outputs D (default 3C).
using Wafer.Core;
using Wafer.Fabric;
using Wafer.Fabric.Config;
using Wafer.Fabric.Engine;

namespace Wafer.Kernels.Transformer;

public sealed class TransformerProductDemo : IFabricDemo
{
    public string Name => "transformer-product";
    public string Description => "the layer program's qkv product (C -> 3C, outputs landing on their owner columns) for the first --outputs D outputs (--width Cc, --height R, --length n, --block C)";
    public SizeOptions Reads => SizeOptions.Width | SizeOptions.Height | SizeOptions.Length | SizeOptions.Block | SizeOptions.Outputs;

    public DemoResult Run(WaferConfig wafer, DemoSize size, SimulatorOptions options)
    {
        var cc = size.Width > 0 ? size.Width : 4;
        var rows = size.Height > 0 ? size.Height : 4;
        var n = size.Length > 0 ? size.Length : 8;
        var c = size.Block > 0 ? size.Block : 4 * cc;
        var outputs = size.Outputs > 0 ? size.Outputs : 3 * c;
        if (outputs > 3 * c) throw new WaferInputException($"transformer-product: --outputs {outputs} exceeds the product's 3C = {3 * c} outputs");
        // One head per column's features (the product does not depend on the heads), sequences of one row.
        var grid = new LayerGrid(cc, rows, n, new LayerShape(c, 4 * c, c / Math.Max(1, c / cc), n));
        var program = new LayerProgram(wafer, grid, layers: 1, options);
        var full = OutputMap.Qkv(c, cc);
        var map = new OutputMap(full.Owner[..outputs], full.Slot[..outputs]);
        int k = grid.K;
        // Weights and input from (seed, position), so a wafer-wide run never holds a 3C x C matrix on the host.
        float Weight(int o, int i) => (float)(Seeds.Unit(size.Seed, o, i) - 0.5);
        float Input(int t, int i) => (float)(Seeds.Unit(size.Seed + 1, t, i) * 2 - 1);
        var block = new float[k * n];
        for (var y = 1; y <= rows; y++)
            for (var x = 0; x < cc; x++)
            {
                for (var f = 0; f < k; f++)
                    for (var t = 0; t < n; t++) block[f * n + t] = Input((y - 1) * n + t, x * k + f);
                program.Sim.Host.WriteAt(LayerProgram.Arena, x, y, program.Memory.Ln1.Address, block);
            }
        program.Sim.Host.EndBatch();
        var cycles = program.Run(new ProductPhase("qkv slice", grid, program.Memory, program.Memory.Ln1, k, program.Memory.Qkv, map,
            (o, x, f) => Weight(o, x * k + f)));
        // Check a sample of tokens on every row (all tokens when the region is small).
        double maxErr = 0, tol = 0;
        var row = new float[3 * k * n];
        var step = Math.Max(1, grid.Tokens / 4096);
        for (var y = 1; y <= rows; y++)
            for (var x = 0; x < cc; x++)
            {
                var owned = Enumerable.Range(0, outputs).Where(o => map.Owner[o] == x).ToList();
                if (owned.Count == 0) continue;
                program.Sim.Host.ReadAt(LayerProgram.Arena, x, y, program.Memory.Qkv.Address, row);
                for (var t = 0; t < n; t += step)
                    foreach (var o in owned)
                    {
                        var token = (y - 1) * n + t;
                        double want = 0, mag = 0;
                        for (var i = 0; i < c; i++) { var p = (double)Input(token, i) * Weight(o, i); want += p; mag += Math.Abs(p); }
                        maxErr = Math.Max(maxErr, Math.Abs(row[map.Slot[o] * n + t] - want));
                        tol = Math.Max(tol, 1e-6 * mag + 1e-7);
                    }
            }
        var model = LayerCycleModel.ProductSlice(wafer, grid, k, map.Owner, bias: false, residual: false);
        var parameters = new Dictionary<string, object>
        {
            ["columns"] = cc, ["workerRows"] = rows, ["tokensPerRow"] = n, ["channels"] = c, ["outputs"] = outputs, ["of"] = 3 * c,
            ["tokens"] = grid.Tokens, ["featuresPerPe"] = k,
        };
        return new DemoResult(program.Sim, maxErr, tol, parameters, new Dictionary<string, double> { ["cycles"] = cycles }, model);
    }
}
