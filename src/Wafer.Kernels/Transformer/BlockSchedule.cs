// One GPT-2/3 block on the layer program, forward and backward: the order of its phases, each built from the block's
// weights as MemoryX streams them (a product's weights output by output to each column, a LayerNorm's gamma and beta),
// and the block's gradients gathered from what the edge ports send back (docs/transformer.md §2).
namespace Wafer.Kernels.Transformer;

/// <summary>fp16: the products (forward and dX) in the production mapping (ProductPhase's fp16); everything else fp32.</summary>
public sealed class BlockSchedule(LayerProgram program, double cyclesPerValue = 0, bool fp16 = false)
{
    private LayerGrid G => program.Grid;
    private LayerMemory M => program.Memory;

    private Func<int, float[]> NormParams(float[] gamma, float[] beta)
    {
        var k = G.K;
        return x => [.. gamma.AsSpan(x * k, k), .. beta.AsSpan(x * k, k)];
    }

    /// <summary>A product with weights w (D_out x D_in, D_in = Cc kin) and bias b (empty: none), outputs in map's layout.</summary>
    private ProductPhase Product(string phase, float[] w, float[] b, Buf input, int kin, Buf output, OutputMap map, Buf? residual = null)
    {
        var din = G.Columns * kin;
        return new ProductPhase(phase, G, M, input, kin, output, map, (i, x, f) => w[i * din + x * kin + f],
            b.Length == 0 ? null : i => b[i], residual, cyclesPerValue, fp16);
    }

    /// <summary>dX = dY W: the product phase with W's columns streamed; dY in outMap's layout (kout rows per column).</summary>
    private ProductPhase InputGradient(string phase, float[] w, Buf dy, int kout, OutputMap outMap, Buf dx, int din)
    {
        var outputAt = new int[G.Columns, kout];
        for (var i = 0; i < outMap.Count; i++) outputAt[outMap.Owner[i], outMap.Slot[i]] = i;
        return new ProductPhase(phase, G, M, dy, kout, dx, OutputMap.Block(din, G.Columns), (j, x, r) => w[outputAt[x, r] * din + j], null, null, cyclesPerValue, fp16);
    }

    /// <summary>Runs a weight-gradient phase and puts its column streams into dw (D_out x D_in) and db (empty: none).</summary>
    private void WeightGradient(string phase, Buf input, int kin, Buf dy, OutputMap map, float[] dw, float[] db)
    {
        var p = new WeightGradientPhase(phase, G, M, input, kin, dy, map, db.Length > 0, cyclesPerValue);
        program.Run(p);
        var din = G.Columns * kin;
        for (var x = 0; x < G.Columns; x++)
        {
            var g = p.Gradients(x);
            var at = 0;
            for (var i = 0; i < map.Count; i++)
            {
                for (var f = 0; f < kin; f++) dw[i * din + x * kin + f] = g[at++];
                if (db.Length > 0 && map.Owner[i] == x) db[i] = g[at++];
            }
        }
    }

    private void NormBackward(string phase, Buf dy, Buf x, Buf mean, Buf rstd, float[] gamma, float[] beta, float[] dgamma, float[] dbeta)
    {
        var p = new LayerNormBackward(phase, G, M, dy, x, mean, rstd, M.DR2, NormParams(gamma, beta), cyclesPerValue);
        program.Run(p);
        var k = G.K;
        for (var col = 0; col < G.Columns; col++)
        {
            Array.Copy(p.Gradients(col), 0, dgamma, col * k, k);
            Array.Copy(p.Gradients(col), k, dbeta, col * k, k);
        }
    }

    private bool Parallel => G.Shape.ParallelResidual;
    private bool Shared => G.Shape.SharedNorm;
    private bool Rotary => G.Shape.RotaryDims > 0;
    /// <summary>The MLP's input: ln2 of r2 (sequential), ln2 of x (parallel), or ln1 of x (parallel, one shared norm).</summary>
    private Buf MlpIn => Parallel && Shared ? M.Ln1 : M.Ln2;

    /// <summary>Block `layer` from M.Inputs[layer]; with `full` its output into M.Inputs[layer + 1] (the backward's
    /// recompute stops before the last product, whose output it does not need). Sequential: r2 = x + attn(ln1 x),
    /// out = r2 + mlp(ln2 r2); parallel: r2 = x + attn(ln1 x), out = r2 + mlp(ln x).</summary>
    public void Forward(int layer, BlockWeights w, bool full = true)
    {
        int c = G.Shape.Channels, f = G.Shape.FfnChannels, cc = G.Columns, k = G.K, kf = G.Kf;
        var x = M.Inputs[layer];
        program.Run(new LayerNormForward("ln1", G, M, x, M.Ln1, M.Mean1, M.Rstd1, NormParams(w.Ln1W, w.Ln1B), cyclesPerValue));
        program.Run(Product("qkv", w.QkvW, w.QkvB, M.Ln1, k, M.Qkv, OutputMap.Qkv(G.Shape, cc)));
        if (Rotary) program.Run(new RotaryPhase("rotary", G, M, M.Qkv, backward: false));
        program.Run(new AttentionForward("attention", G, M));
        program.Run(Product("attproj", w.ProjW, w.ProjB, M.Att, k, M.R2, OutputMap.Block(c, cc), residual: x));
        if (!(Parallel && Shared))
            program.Run(new LayerNormForward("ln2", G, M, Parallel ? x : M.R2, M.Ln2, M.Mean2, M.Rstd2, NormParams(w.Ln2W, w.Ln2B), cyclesPerValue));
        program.Run(Product("fc", w.FcW, w.FcB, MlpIn, k, M.Fch, OutputMap.Block(f, cc)));
        program.Run(new GeluForward("gelu", G, M.Fch, M.Gelu));
        if (full) program.Run(Product("fcproj", w.FcprojW, w.FcprojB, M.Gelu, kf, M.Inputs[layer + 1], OutputMap.Block(c, cc), residual: M.R2));
    }

    /// <summary>Block `layer`'s backward from d(output) in M.DOut: the recomputed forward, then each phase's gradient;
    /// leaves d(input) in M.DOut and returns the block's weight gradients.</summary>
    public BlockWeights Backward(int layer, BlockWeights w)
    {
        int c = G.Shape.Channels, f = G.Shape.FfnChannels, cc = G.Columns, k = G.K, kf = G.Kf, n = G.N;
        var x = M.Inputs[layer];
        Forward(layer, w, full: false);
        var d = w.ZerosLike();
        var blockC = OutputMap.Block(c, cc);
        var blockF = OutputMap.Block(f, cc);
        var qkvMap = OutputMap.Qkv(G.Shape, cc);
        // MLP: fcproj (F -> C), GELU, fc (C -> F): d(MLP input) into DLn.
        WeightGradient("d fcproj.w", M.Gelu, kf, M.DOut, blockC, d.FcprojW, d.FcprojB);
        program.Run(InputGradient("d gelu", w.FcprojW, M.DOut, k, blockC, M.DHidden, f));
        program.Run(new GeluBackward("d fc", G, M, M.Fch, M.DHidden));
        WeightGradient("d fc.w", MlpIn, k, M.DHidden, blockF, d.FcW, d.FcB);
        program.Run(InputGradient("d ln2", w.FcW, M.DHidden, kf, blockF, M.DLn, c));
        // The residual: d r2 = d out; DR2 then gathers d x. Sequential: ln2's backward adds onto d r2 (r2 feeds ln2)
        // before the attention's; parallel: the attention's output gradient is d out itself, and ln2 (of x) adds onto
        // d x; one shared norm keeps d(ln1) for later.
        program.Run(new CopyPhase("d r2 = d out", M.DOut, M.DR2, k * n));
        if (!Parallel) NormBackward("d r2 += ln2'", M.DLn, M.R2, M.Mean2, M.Rstd2, w.Ln2W, w.Ln2B, d.Ln2W, d.Ln2B);
        else if (!Shared) NormBackward("d x += ln2'", M.DLn, x, M.Mean2, M.Rstd2, w.Ln2W, w.Ln2B, d.Ln2W, d.Ln2B);
        var dAttn = Parallel ? M.DOut : M.DR2;
        // Attention: attproj (C -> C), attention, rotary, qkv (C -> 3C), ln1 (onto d x).
        WeightGradient("d attproj.w", M.Att, k, dAttn, blockC, d.ProjW, d.ProjB);
        program.Run(InputGradient("d att", w.ProjW, dAttn, k, blockC, M.DAtt, c));
        program.Run(new AttentionBackward("d qkv", G, M, M.DAtt));
        if (Rotary) program.Run(new RotaryPhase("d rotary", G, M, M.DQkv, backward: true));
        WeightGradient("d qkv.w", M.Ln1, k, M.DQkv, qkvMap, d.QkvW, d.QkvB);
        if (Parallel && Shared)
        {
            // ln1 feeds both branches: its gradient is the MLP's (in DLn) plus the attention's.
            program.Run(InputGradient("d ln1", w.QkvW, M.DQkv, 3 * k, qkvMap, M.Norm, c));
            program.Run(new CopyPhase("d ln1 += mlp's", M.Norm, M.DLn, k * n, add: true));
        }
        else program.Run(InputGradient("d ln1", w.QkvW, M.DQkv, 3 * k, qkvMap, M.DLn, c));
        NormBackward("d x += ln1'", M.DLn, x, M.Mean1, M.Rstd1, w.Ln1W, w.Ln1B, d.Ln1W, d.Ln1B);
        program.Run(new CopyPhase("d out = d x", M.DR2, M.DOut, k * n));
        return d;
    }
}
