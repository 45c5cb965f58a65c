// `wafer run transformer-layer`: one GPT-2 block of the layer program on a region, with seeded weights and input: the
// forward checked against the float64 host block, and (--steps 2) the backward (its recomputed forward included)
// timed; every phase's cycles next to the layer model's.
// --width Cc columns, --height R worker rows (the fabric is R + 1 tall), --length n tokens per row, --block C channels
// (F = 4 C), --outputs NH heads, --seq T tokens per sequence.
using Wafer.Core;
using Wafer.Fabric;
using Wafer.Fabric.Config;
using Wafer.Fabric.Engine;

namespace Wafer.Kernels.Transformer;

/// <summary>fp16: the products in the production mapping (fp16 operands, fp32 accumulation by @fmachs).</summary>
public sealed class TransformerLayerDemo(bool fp16 = false) : IFabricDemo
{
    public string Name => fp16 ? "transformer-layer-fp16" : "transformer-layer";
    public string Description => "one GPT-2 block (LayerNorms, qkv, multi-head causal attention, projection, GELU MLP) in the weight-streaming layout; --steps 2 adds the backward (--width Cc, --height R, --length n, --block C, --outputs NH, --seq T)"
        + (fp16 ? "; products in fp16 with fp32 accumulation (@fmachs)" : "");
    public SizeOptions Reads => SizeOptions.Width | SizeOptions.Height | SizeOptions.Length | SizeOptions.Block | SizeOptions.Outputs | SizeOptions.Seq | SizeOptions.Steps;

    public DemoResult Run(WaferConfig wafer, DemoSize size, SimulatorOptions options)
    {
        var cc = size.Width > 0 ? size.Width : 4;
        var rows = size.Height > 0 ? size.Height : 4;
        var n = size.Length > 0 ? size.Length : 8;
        var c = size.Block > 0 ? size.Block : 64;
        var heads = size.Outputs > 0 ? size.Outputs : 2;
        var t = size.SeqLen > 0 ? size.SeqLen : Math.Min(rows * n, 32);
        if (size.Steps is < 0 or > 2) throw new WaferInputException($"transformer-layer: --steps is 1 (forward) or 2 (forward and backward), not {size.Steps}");
        var grid = new LayerGrid(cc, rows, n, new LayerShape(c, 4 * c, heads, t));
        var program = new LayerProgram(wafer, grid, layers: 1, options);
        var schedule = new BlockSchedule(program, 0, fp16);
        var w = BlockWeights.Random(c, 4 * c, size.Seed);
        var rng = new Random(Seeds.For(size.Seed, cc, rows));
        var x = Enumerable.Range(0, grid.Tokens * c).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        program.Write(program.Memory.Inputs[0], x, c);
        schedule.Forward(0, w);
        var forwardCycles = program.Sim.Cycle;
        var got = program.Read(program.Memory.Inputs[1], c);
        var want = HostReference.Block(x, w, grid.Tokens, c, 4 * c, heads, t);
        double maxErr = 0, tol = 0;
        for (var i = 0; i < want.Length; i++)
        {
            maxErr = Math.Max(maxErr, Math.Abs(got[i] - want[i]));
            // fp32: summation order; fp16: the operands of every product rounded to 11 bits.
            tol = Math.Max(tol, (fp16 ? 2e-2 : 2e-5) * (Math.Abs(want[i]) + 1));
        }
        var model = LayerCycleModel.ForwardPhases(wafer, grid, 0, full: true, fp16).ToList();
        if (size.Steps == 2)
        {
            program.Write(program.Memory.DOut, x, c); // a gradient of the output: any values serve for timing
            schedule.Backward(0, w);
            model.AddRange(LayerCycleModel.BackwardPhases(wafer, grid, 0, fp16));
        }
        var extra = new Dictionary<string, double> { ["forwardCycles"] = forwardCycles, ["backwardCycles"] = program.Sim.Cycle - forwardCycles };
        for (var i = 0; i < program.Log.Count; i++)
        {
            extra[$"phase{i:D2} {program.Log[i].Phase} cycles"] = program.Log[i].Cycles;
            if (i < model.Count && model[i].Phase == program.Log[i].Phase) extra[$"phase{i:D2} {program.Log[i].Phase} model"] = model[i].Cycles;
        }
        var parameters = new Dictionary<string, object>
        {
            ["columns"] = cc, ["workerRows"] = rows, ["tokensPerRow"] = n, ["channels"] = c, ["heads"] = heads, ["seqLen"] = t,
            ["tokens"] = grid.Tokens, ["sramBytesPerWorker"] = program.Memory.Bytes,
        };
        return new DemoResult(program.Sim, maxErr, tol, parameters, extra, model.Sum(m => m.Cycles));
    }
}
