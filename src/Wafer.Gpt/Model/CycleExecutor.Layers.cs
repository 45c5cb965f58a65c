// The phases of one GPT-2/3 block on the layer program, forward and backward, built from the block's weights as
// MemoryX streams them (each phase's column streams: a product's weights output by output, a LayerNorm's gamma and
// beta), and the block's gradient assembled from what the edge ports send back. Tensor names are ParameterLayout's.
using Wafer.Kernels.Transformer;

namespace Wafer.Gpt.Model;

public sealed partial class CycleExecutor
{
    private LayerMemory M => _program.Memory;

    private ReadOnlySpan<float> Tensor(float[] w, Segment seg, string name) =>
        w.AsSpan((int)seg[name].Offset, (int)seg[name].Count);

    private Func<int, float[]> NormParams(float[] w, Segment seg, string norm)
    {
        int k = _grid.K, wOff = (int)seg[norm + ".w"].Offset, bOff = (int)seg[norm + ".b"].Offset;
        return x =>
        {
            var p = new float[2 * k];
            Array.Copy(w, wOff + x * k, p, 0, k);
            Array.Copy(w, bOff + x * k, p, k, k);
            return p;
        };
    }

    /// <summary>A forward product: input rows per column `kin`, weight tensor `name` (D_out x D_in, D_in = Cc kin),
    /// outputs in `map`'s layout, bias `name`.b when the segment has it.</summary>
    private ProductPhase Product(string phase, float[] w, Segment seg, string name, Buf input, int kin, Buf output, OutputMap map, Buf? residual = null)
    {
        var din = _grid.Columns * kin;
        int wOff = (int)seg[name + ".w"].Offset;
        var bOff = seg.Has(name + ".b") ? (int)seg[name + ".b"].Offset : -1;
        return new ProductPhase(phase, _grid, M, input, kin, output, map, (i, x, f) => w[wOff + i * din + x * kin + f],
            bOff < 0 ? null : i => w[bOff + i], residual, _pace);
    }

    /// <summary>The input gradient of a product, dX = dY W: the same phase with W's columns streamed; dY (kout rows per
    /// column in `outMap`'s layout of the forward outputs) in, dX (block layout of the D_in inputs) out.</summary>
    private ProductPhase InputGradient(string phase, float[] w, Segment seg, string name, Buf dy, int kout, OutputMap outMap, Buf dx, int din)
    {
        int wOff = (int)seg[name + ".w"].Offset;
        // The forward output that column x's row r of dY belongs to.
        var outputAt = new int[_grid.Columns, kout];
        for (var i = 0; i < outMap.Count; i++) outputAt[outMap.Owner[i], outMap.Slot[i]] = i;
        return new ProductPhase(phase, _grid, M, dy, kout, dx, OutputMap.Block(din, _grid.Columns), (j, x, r) => w[wOff + outputAt[x, r] * din + j], null, null, _pace);
    }

    private WeightGradientPhase WeightGradient(string phase, Segment seg, string name, Buf input, int kin, Buf dy, OutputMap map) =>
        new(phase, _grid, M, input, kin, dy, map, seg.Has(name + ".b"), _pace);

    /// <summary>Puts a weight-gradient phase's column streams into the segment's gradient (D_out x D_in, and the bias).</summary>
    private void Collect(WeightGradientPhase phase, Segment seg, string name, int kin, OutputMap map)
    {
        var din = _grid.Columns * kin;
        int wOff = (int)seg[name + ".w"].Offset;
        var bOff = seg.Has(name + ".b") ? (int)seg[name + ".b"].Offset : -1;
        for (var x = 0; x < _grid.Columns; x++)
        {
            var g = phase.Gradients(x);
            var at = 0;
            for (var i = 0; i < map.Count; i++)
            {
                for (var f = 0; f < kin; f++) _grads[wOff + i * din + x * kin + f] = g[at++];
                if (bOff >= 0 && map.Owner[i] == x) _grads[bOff + i] = g[at++];
            }
        }
    }

    private void Collect(LayerNormBackward phase, Segment seg, string norm)
    {
        int k = _grid.K, wOff = (int)seg[norm + ".w"].Offset, bOff = (int)seg[norm + ".b"].Offset;
        for (var x = 0; x < _grid.Columns; x++)
        {
            var g = phase.Gradients(x);
            Array.Copy(g, 0, _grads, wOff + x * k, k);
            Array.Copy(g, k, _grads, bOff + x * k, k);
        }
    }

    /// <summary>Block l from M.Inputs[l]; with `full` its output into M.Inputs[l + 1] (the backward's recompute stops
    /// before the last product: its output is not needed).</summary>
    private void ForwardLayer(int l, float[] w, bool full = true)
    {
        var seg = _layout.Block(l);
        int c = _cfg.Channels, f = _cfg.FfnChannels, cc = _grid.Columns, k = _grid.K, kf = _grid.Kf;
        Run(new LayerNormForward("ln1", _grid, M, M.Inputs[l], M.Ln1, M.Mean1, M.Rstd1, NormParams(w, seg, "ln1"), _pace));
        Run(Product("qkv", w, seg, "qkv", M.Ln1, k, M.Qkv, OutputMap.Qkv(c, cc)));
        Run(new AttentionForward("attention", _grid, M));
        Run(Product("attproj", w, seg, "attproj", M.Att, k, M.R2, OutputMap.Block(c, cc), residual: M.Inputs[l]));
        Run(new LayerNormForward("ln2", _grid, M, M.R2, M.Ln2, M.Mean2, M.Rstd2, NormParams(w, seg, "ln2"), _pace));
        Run(Product("fc", w, seg, "fc", M.Ln2, k, M.Fch, OutputMap.Block(f, cc)));
        Run(new GeluForward("gelu", _grid, M.Fch, M.Gelu));
        if (full) Run(Product("fcproj", w, seg, "fcproj", M.Gelu, kf, M.Inputs[l + 1], OutputMap.Block(c, cc), residual: M.R2));
    }

    /// <summary>Block l's backward from d(output) in M.DOut: recompute, then every phase's gradient; leaves d(input) in
    /// M.DOut and the block's weight gradients in _grads.</summary>
    private void BackwardLayer(int l, float[] w)
    {
        var seg = _layout.Block(l);
        int c = _cfg.Channels, f = _cfg.FfnChannels, cc = _grid.Columns, k = _grid.K, kf = _grid.Kf;
        ForwardLayer(l, w, full: false);
        Array.Clear(_grads, 0, (int)seg.Count);
        var blockC = OutputMap.Block(c, cc);
        var blockF = OutputMap.Block(f, cc);
        var qkvMap = OutputMap.Qkv(c, cc);
        // MLP: fcproj (F -> C), GELU, fc (C -> F), ln2.
        var dwFcproj = WeightGradient("d fcproj.w", seg, "fcproj", M.Gelu, kf, M.DOut, blockC);
        Run(dwFcproj);
        Collect(dwFcproj, seg, "fcproj", kf, blockC);
        Run(InputGradient("d gelu", w, seg, "fcproj", M.DOut, k, blockC, M.DHidden, f));
        Run(new GeluBackward("d fc", _grid, M, M.Fch, M.DHidden));
        var dwFc = WeightGradient("d fc.w", seg, "fc", M.Ln2, k, M.DHidden, blockF);
        Run(dwFc);
        Collect(dwFc, seg, "fc", k, blockF);
        Run(InputGradient("d ln2", w, seg, "fc", M.DHidden, kf, blockF, M.DLn, c));
        Run(new CopyPhase("d r2 = d out", M.DOut, M.DR2, k * _grid.N));
        var ln2 = new LayerNormBackward("d r2 += ln2'", _grid, M, M.DLn, M.R2, M.Mean2, M.Rstd2, M.DR2, NormParams(w, seg, "ln2"), _pace);
        Run(ln2);
        Collect(ln2, seg, "ln2");
        // Attention: attproj (C -> C), attention, qkv (C -> 3C), ln1.
        var dwProj = WeightGradient("d attproj.w", seg, "attproj", M.Att, k, M.DR2, blockC);
        Run(dwProj);
        Collect(dwProj, seg, "attproj", k, blockC);
        Run(InputGradient("d att", w, seg, "attproj", M.DR2, k, blockC, M.DAtt, c));
        Run(new AttentionBackward("d qkv", _grid, M, M.DAtt));
        var dwQkv = WeightGradient("d qkv.w", seg, "qkv", M.Ln1, k, M.DQkv, qkvMap);
        Run(dwQkv);
        Collect(dwQkv, seg, "qkv", k, qkvMap);
        Run(InputGradient("d ln1", w, seg, "qkv", M.DQkv, 3 * k, qkvMap, M.DLn, c));
        var ln1 = new LayerNormBackward("d x += ln1'", _grid, M, M.DLn, M.Inputs[l], M.Mean1, M.Rstd1, M.DR2, NormParams(w, seg, "ln1"), _pace);
        Run(ln1);
        Collect(ln1, seg, "ln1");
        Run(new CopyPhase("d out = d x", M.DR2, M.DOut, k * _grid.N));
    }

    private void Run(LayerPhase phase) => _program.Run(phase);
}
