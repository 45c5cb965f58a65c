// One transformer block's forward and backward on one segment of weights (ParameterLayout's "h.{l}" tensors).
// Sequential (GPT-2/3): r2 = x + attn(ln1 x); out = r2 + mlp(ln2 r2).
// Parallel (GPT-J, NeoX): out = x + attn(ln1 x) + mlp(ln x), ln = ln1 when the norm is shared (GPT-J) else ln2.
// attn: qkv = ln·Wqkvᵀ (+b); rotary on q, k; causal softmax attention; ·Wprojᵀ (+b). mlp: gelu(·Wfcᵀ + b)·Wprojᵀ + b.
using Wafer.Gpt.Layers;
using Wafer.Gpt.Numerics;

namespace Wafer.Gpt.Model;

internal sealed class TransformerBlock(GptConfig cfg, Segment segment, Rotary? rotary)
{
    private readonly int _c = cfg.Channels, _f = cfg.FfnChannels, _nh = cfg.Heads;

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

    /// <summary>x (BT, C) → a.Output (BT, C), keeping what backward needs in a.</summary>
    public void Forward(BlockActivations a, ReadOnlySpan<float> x, ReadOnlySpan<float> w, int b, int t)
    {
        int bt = b * t, c = _c, f = _f;
        LayerNorm.Forward(a.Ln1, a.Ln1Mean, a.Ln1Rstd, x, W(w, "ln1.w"), W(w, "ln1.b"), bt, c);
        Linear.Forward(a.Qkv, a.Ln1, W(w, "qkv.w"), W(w, "qkv.b"), bt, c, 3 * c);
        rotary?.Forward(a.Qkv, b, t, c, _nh);
        CausalAttention.Forward(a.Atty, a.Att, a.Qkv, b, t, c, _nh);
        Linear.Forward(a.AttProj, a.Atty, W(w, "attproj.w"), W(w, "attproj.b"), bt, c, c);
        var output = a.Output.AsSpan(0, bt * c);
        ReadOnlySpan<float> mlpIn;
        if (cfg.ParallelResidual)
        {
            if (cfg.SharedBlockNorm) mlpIn = a.Ln1;
            else
            {
                LayerNorm.Forward(a.Ln2, a.Ln2Mean, a.Ln2Rstd, x, W(w, "ln2.w"), W(w, "ln2.b"), bt, c);
                mlpIn = a.Ln2;
            }
        }
        else
        {
            Vec.Add(a.Residual2, x, a.AttProj);
            LayerNorm.Forward(a.Ln2, a.Ln2Mean, a.Ln2Rstd, a.Residual2, W(w, "ln2.w"), W(w, "ln2.b"), bt, c);
            mlpIn = a.Ln2;
        }
        Linear.Forward(a.Fch, mlpIn, W(w, "fc.w"), W(w, "fc.b"), bt, c, f);
        Gelu.Forward(a.FchGelu, a.Fch);
        Linear.Forward(a.FcProj, a.FchGelu, W(w, "fcproj.w"), W(w, "fcproj.b"), bt, f, c);
        if (cfg.ParallelResidual)
        {
            Vec.Add(output, x, a.AttProj);
            Vec.AddTo(output, a.FcProj);
        }
        else Vec.Add(output, a.Residual2, a.FcProj);
    }

    /// <summary>From dOut (BT, C) accumulates dx (+=) and the segment's weight gradients into g (+=); d holds the
    /// gradients of the activations, each overwritten by the first product that reaches it (no clearing pass).</summary>
    public void Backward(Span<float> dx, Span<float> g, BlockActivations d, ReadOnlySpan<float> dOut, BlockActivations a,
        ReadOnlySpan<float> x, ReadOnlySpan<float> w, int b, int t)
    {
        int bt = b * t, c = _c, f = _f;
        var btc = bt * c;
        // The residual: dOut reaches the MLP output, the attention output and x (through r2 when sequential).
        ReadOnlySpan<float> dAttProj;
        if (cfg.ParallelResidual)
        {
            Vec.AddTo(dx[..btc], dOut);
            dAttProj = dOut;
        }
        else
        {
            dOut.CopyTo(d.Residual2);
            dAttProj = d.Residual2; // complete once ln2's backward has added into it, below
        }
        // MLP
        Linear.BackwardInput(d.FchGelu, dOut, W(w, "fcproj.w"), bt, f, c, accumulate: false);
        Linear.BackwardWeight(G(g, "fcproj.w"), G(g, "fcproj.b"), dOut, a.FchGelu, bt, f, c);
        Gelu.Backward(d.Fch, a.Fch, d.FchGelu);
        var mlpIn = cfg.SharedBlockNorm ? a.Ln1 : a.Ln2;
        var dMlpIn = cfg.SharedBlockNorm ? d.Ln1 : d.Ln2;
        Linear.BackwardInput(dMlpIn, d.Fch, W(w, "fc.w"), bt, c, f, accumulate: false);
        Linear.BackwardWeight(G(g, "fc.w"), G(g, "fc.b"), d.Fch, mlpIn, bt, c, f);
        if (!cfg.ParallelResidual)
        {
            LayerNorm.Backward(d.Residual2, G(g, "ln2.w"), G(g, "ln2.b"), d.Ln2, a.Residual2, W(w, "ln2.w"), a.Ln2Mean, a.Ln2Rstd, bt, c);
            Vec.AddTo(dx[..btc], d.Residual2);
        }
        else if (!cfg.SharedBlockNorm)
            LayerNorm.Backward(dx, G(g, "ln2.w"), G(g, "ln2.b"), d.Ln2, x, W(w, "ln2.w"), a.Ln2Mean, a.Ln2Rstd, bt, c);
        // Attention
        Linear.BackwardInput(d.Atty, dAttProj, W(w, "attproj.w"), bt, c, c, accumulate: false);
        Linear.BackwardWeight(G(g, "attproj.w"), G(g, "attproj.b"), dAttProj, a.Atty, bt, c, c);
        CausalAttention.Backward(d.Qkv, d.Atty, a.Qkv, a.Att, b, t, c, _nh);
        rotary?.Backward(d.Qkv, b, t, c, _nh);
        // d.Ln1 already holds the MLP's part when one norm feeds both branches.
        Linear.BackwardInput(d.Ln1, d.Qkv, W(w, "qkv.w"), bt, c, 3 * c, accumulate: cfg.SharedBlockNorm);
        Linear.BackwardWeight(G(g, "qkv.w"), G(g, "qkv.b"), d.Qkv, a.Ln1, bt, c, 3 * c);
        LayerNorm.Backward(dx, G(g, "ln1.w"), G(g, "ln1.b"), d.Ln1, x, W(w, "ln1.w"), a.Ln1Mean, a.Ln1Rstd, bt, c);
    }
}
