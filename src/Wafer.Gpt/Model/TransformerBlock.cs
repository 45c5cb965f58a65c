// One transformer block's forward and backward on one segment of weights (ParameterLayout's "h.{l}" tensors).
// Sequential (GPT-2/3): r2 = x + attn(ln1 x); out = r2 + mlp(ln2 r2).
// Parallel (GPT-J, NeoX): out = x + attn(ln1 x) + mlp(ln x), ln = ln1 when the norm is shared (GPT-J) else ln2.
// attn: qkv = ln·Wqkvᵀ (+b); rotary on q, k; causal softmax attention; ·Wprojᵀ (+b). mlp: gelu(·Wfcᵀ + b)·Wprojᵀ + b.
//
// The executor computes the batch as one or two shards (see Shards): each call here is one shard's rows, whose
// activations are row slices of the whole-batch tensors; the executor schedules the shards (GptExecutor.cs).
using Wafer.Core;
using Wafer.Gpt.Layers;
using Wafer.Gpt.Numerics;

namespace Wafer.Gpt.Model;

internal sealed class TransformerBlock(GptConfig cfg, Segment segment, Rotary? rotary, int threads)
{
    private readonly int _c = cfg.Channels, _f = cfg.FfnChannels, _nh = cfg.Heads;
    /// <summary>Threads for each product and layer (a shard already running on a thread of its own runs them inline).</summary>
    private readonly int _threads = threads;

    /// <summary>The batch shards: (first sequence, sequences). Two when B >= 2 and the block's largest weight matrix is
    /// small enough that Gemm would pack it once per thread anyway (a row split); a larger one is split by column panels
    /// and packed once, and shards would each pack all of it (gpt2-124m ran slower sharded, nano faster: BENCHMARKS.md,
    /// Training).</summary>
    public static (int B0, int Nb)[] Shards(GptConfig cfg, int b) =>
        b < 2 || (long)cfg.Channels * Math.Max(3 * cfg.Channels, cfg.FfnChannels) > Gemm.RowSplitMaxB ? [(0, b)] : [(0, b / 2), (b / 2, b - b / 2)];

    private ReadOnlySpan<float> W(ReadOnlySpan<float> weights, string name)
    {
        if (!segment.Has(name)) return [];
        var slot = segment[name];
        return weights.Slice((int)slot.Offset, (int)slot.Count);
    }

    private Span<float> G(Span<float> grads, string name)
    {
        if (!segment.Has(name)) return [];
        var slot = segment[name];
        return grads.Slice((int)slot.Offset, (int)slot.Count);
    }

    /// <summary>Rows [b0 T, (b0 + nb) T) of a (BT, width) tensor; empty for an absent one.</summary>
    private static Span<float> Rows(float[] tensor, int width, int b0, int nb, int t) =>
        tensor.Length == 0 ? [] : tensor.AsSpan(b0 * t * width, nb * t * width);

    /// <summary>Sequences [b0, b0 + nb) of the saved softmax (attention's padded layout).</summary>
    private Span<float> AttRows(float[] att, int b0, int nb, int t)
    {
        var perSequence = (int)CausalAttention.AttLength(1, t, _nh);
        return att.AsSpan(b0 * perSequence, nb * perSequence);
    }

    /// <summary>Sequences [b0, b0 + nb) of x (BT, C) → their rows of a.Output, keeping what backward needs in a.</summary>
    public void ForwardShard(BlockActivations a, float[] xAll, float[] w, int b0, int nb, int t)
    {
        int bt = nb * t, c = _c, f = _f;
        Span<float> R(float[] tensor, int width) => Rows(tensor, width, b0, nb, t);
        ReadOnlySpan<float> x = R(xAll, c);
        Span<float> ln1 = R(a.Ln1, c), qkv = R(a.Qkv, 3 * c), atty = R(a.Atty, c), attProj = R(a.AttProj, c);
        Span<float> ln2 = R(a.Ln2, c), fch = R(a.Fch, f), fchGelu = R(a.FchGelu, f), fcProj = R(a.FcProj, c);
        LayerNorm.Forward(ln1, R(a.Ln1Mean, 1), R(a.Ln1Rstd, 1), x, W(w, "ln1.w"), W(w, "ln1.b"), bt, c, _threads);
        Linear.Forward(qkv, ln1, W(w, "qkv.w"), W(w, "qkv.b"), bt, c, 3 * c, _threads);
        rotary?.Forward(qkv, nb, t, c, _nh);
        CausalAttention.Forward(atty, AttRows(a.Att, b0, nb, t), qkv, nb, t, c, _nh, _threads);
        var output = R(a.Output, c);
        ReadOnlySpan<float> mlpIn;
        if (cfg.ParallelResidual)
        {
            Linear.Forward(attProj, atty, W(w, "attproj.w"), W(w, "attproj.b"), bt, c, c, _threads);
            if (cfg.SharedBlockNorm) mlpIn = ln1;
            else
            {
                LayerNorm.Forward(ln2, R(a.Ln2Mean, 1), R(a.Ln2Rstd, 1), x, W(w, "ln2.w"), W(w, "ln2.b"), bt, c, _threads);
                mlpIn = ln2;
            }
        }
        else
        {
            // r2 = x + attention, the residual added as the projection's tiles are stored (no pass of its own).
            var residual2 = R(a.Residual2, c);
            Linear.Forward(residual2, atty, W(w, "attproj.w"), W(w, "attproj.b"), bt, c, c, _threads, residual: x);
            LayerNorm.Forward(ln2, R(a.Ln2Mean, 1), R(a.Ln2Rstd, 1), residual2, W(w, "ln2.w"), W(w, "ln2.b"), bt, c, _threads);
            mlpIn = ln2;
        }
        Linear.Forward(fch, mlpIn, W(w, "fc.w"), W(w, "fc.b"), bt, c, f, _threads);
        Gelu.Forward(fchGelu, fch, fch, _threads); // fch now holds gelu'(fch), all backward needs of it
        if (cfg.ParallelResidual)
        {
            Linear.Forward(fcProj, fchGelu, W(w, "fcproj.w"), W(w, "fcproj.b"), bt, f, c, _threads);
            Vec.Add(output, x, attProj);
            Vec.AddTo(output, fcProj);
        }
        else Linear.Forward(output, fchGelu, W(w, "fcproj.w"), W(w, "fcproj.b"), bt, f, c, _threads, residual: R(a.Residual2, c));
    }

    /// <summary>For sequences [b0, b0 + nb): from their rows of dOut (BT, C) writes their rows of dx and their part of
    /// the segment's weight gradients into g (the segment's length), both overwritten (no clearing pass before). d holds
    /// the gradients of the activations (row slices), each overwritten by the first product that reaches it.</summary>
    public void BackwardShard(float[] dxAll, Span<float> g, BlockActivations d, float[] dOutAll, BlockActivations a,
        float[] xAll, float[] w, int b0, int nb, int t)
    {
        int bt = nb * t, c = _c, f = _f;
        Span<float> R(float[] tensor, int width) => Rows(tensor, width, b0, nb, t);
        Span<float> dx = R(dxAll, c);
        ReadOnlySpan<float> dOut = R(dOutAll, c), x = R(xAll, c);
        // The residual: dOut reaches the MLP output, the attention output and x (through r2 when sequential). The first
        // norm's backward (ln2, or ln1 when it is the only one) writes dx = dOut + its part (no copy of dOut first); when
        // sequential dx is then also d(r2) = the attention output's gradient, read until ln1's backward (last) adds its part.
        ReadOnlySpan<float> dAttProj = cfg.ParallelResidual ? dOut : dx;
        // MLP
        Span<float> dFch = R(d.Fch, f), dLn1 = R(d.Ln1, c), dLn2 = R(d.Ln2, c);
        ReadOnlySpan<float> fchGelu = R(a.FchGelu, f), ln1 = R(a.Ln1, c), ln2 = R(a.Ln2, c);
        // GELU's backward (times its saved derivative, a.Fch) fused into the product's store: no d(gelu output) tensor
        // and no pass of its own over it (Gelu.Backward, a separate pass, showed in a nano step's profile).
        Linear.BackwardInput(dFch, dOut, W(w, "fcproj.w"), bt, f, c, _threads, accumulate: false, slope: R(a.Fch, f));
        Linear.BackwardWeight(G(g, "fcproj.w"), G(g, "fcproj.b"), dOut, fchGelu, bt, f, c, _threads, accumulate: false);
        var mlpIn = cfg.SharedBlockNorm ? ln1 : ln2;
        var dMlpIn = cfg.SharedBlockNorm ? dLn1 : dLn2;
        Linear.BackwardInput(dMlpIn, dFch, W(w, "fc.w"), bt, c, f, _threads, accumulate: false);
        Linear.BackwardWeight(G(g, "fc.w"), G(g, "fc.b"), dFch, mlpIn, bt, c, f, _threads, accumulate: false);
        if (!cfg.SharedBlockNorm)
        {
            ReadOnlySpan<float> ln2In = cfg.ParallelResidual ? x : R(a.Residual2, c);
            LayerNorm.Backward(dx, G(g, "ln2.w"), G(g, "ln2.b"), dLn2, ln2In, W(w, "ln2.w"), R(a.Ln2Mean, 1), R(a.Ln2Rstd, 1), bt, c, _threads, accumulateWeights: false,
                LayerNorm.InputGradient.OntoResidual, dOut);
        }
        // Attention
        Span<float> dAtty = R(d.Atty, c), dQkv = R(d.Qkv, 3 * c);
        Linear.BackwardInput(dAtty, dAttProj, W(w, "attproj.w"), bt, c, c, _threads, accumulate: false);
        Linear.BackwardWeight(G(g, "attproj.w"), G(g, "attproj.b"), dAttProj, R(a.Atty, c), bt, c, c, _threads, accumulate: false);
        CausalAttention.Backward(dQkv, dAtty, R(a.Qkv, 3 * c), AttRows(a.Att, b0, nb, t), nb, t, c, _nh, _threads);
        rotary?.Backward(dQkv, nb, t, c, _nh);
        // dLn1 already holds the MLP's part when one norm feeds both branches.
        Linear.BackwardInput(dLn1, dQkv, W(w, "qkv.w"), bt, c, 3 * c, _threads, accumulate: cfg.SharedBlockNorm);
        Linear.BackwardWeight(G(g, "qkv.w"), G(g, "qkv.b"), dQkv, ln1, bt, c, 3 * c, _threads, accumulate: false);
        LayerNorm.Backward(dx, G(g, "ln1.w"), G(g, "ln1.b"), dLn1, x, W(w, "ln1.w"), R(a.Ln1Mean, 1), R(a.Ln1Rstd, 1), bt, c, _threads, accumulateWeights: false,
            cfg.SharedBlockNorm ? LayerNorm.InputGradient.OntoResidual : LayerNorm.InputGradient.Accumulate, cfg.SharedBlockNorm ? dOut : default);
    }
}
