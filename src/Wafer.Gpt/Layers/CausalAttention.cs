// Causal multi-head self-attention on a fused qkv tensor, forward and backward (llm.c's attention_forward/backward),
// with the per-head products as small matrix multiplies. Shapes: inp (B, T, 3C) holding q, k, v; preatt, att
// (B, NH, T, T); out (B, T, C). HS = C / NH. (batch, head) pairs run in parallel, each writing only its own slices.
using System.Runtime.Intrinsics;
using Wafer.Gpt.Numerics;

namespace Wafer.Gpt.Layers;

public static class CausalAttention
{
    private static int Threads(int b, int t, int c) => (long)b * t * t * c < 200_000 ? 1 : Gemm.Threads;

    public static unsafe void Forward(Span<float> output, Span<float> preatt, Span<float> att, ReadOnlySpan<float> inp, int b, int t, int c, int nh)
    {
        fixed (float* po = output, ppre = preatt, patt = att, pin = inp)
        {
            var o = (nint)po; var pr = (nint)ppre; var at = (nint)patt; var ip = (nint)pin;
            int ol = output.Length, prl = preatt.Length, atl = att.Length, il = inp.Length;
            WorkerPool.Run(b * nh, Threads(b, t, c), bh => ForwardHead(
                new Span<float>((void*)o, ol), new Span<float>((void*)pr, prl), new Span<float>((void*)at, atl),
                new ReadOnlySpan<float>((void*)ip, il), bh / nh, bh % nh, t, c, nh));
        }
    }

    private static void ForwardHead(Span<float> output, Span<float> preatt, Span<float> att, ReadOnlySpan<float> inp, int bi, int h, int t, int c, int nh)
    {
        var c3 = 3 * c;
        var hs = c / nh;
        var scale = 1f / MathF.Sqrt(hs);
        var q = inp[(bi * t * c3 + h * hs)..];
        var k = inp[(bi * t * c3 + c + h * hs)..];
        var v = inp[(bi * t * c3 + 2 * c + h * hs)..];
        var pre = preatt.Slice((bi * nh + h) * t * t, t * t);
        var a = att.Slice((bi * nh + h) * t * t, t * t);
        // pre = Q K^T (T x T, the upper triangle is computed and ignored), then the causal softmax of scale * pre.
        Gemm.Multiply(t, t, hs, q, c3, 1, k, 1, c3, pre, t, accumulate: false, threads: 1);
        for (var ti = 0; ti < t; ti++) SoftmaxRow(pre.Slice(ti * t, t), a.Slice(ti * t, t), ti + 1, scale);
        // out = att V
        Gemm.Multiply(t, hs, t, a, t, 1, v, c3, 1, output[(bi * t * c + h * hs)..], c, accumulate: false, threads: 1);
    }

    /// <summary>Accumulates dinp (the q, k, v gradients) from dout; dpreatt and datt are scratch (overwritten here).</summary>
    public static unsafe void Backward(Span<float> dinp, Span<float> dpreatt, Span<float> datt, ReadOnlySpan<float> dout,
        ReadOnlySpan<float> inp, ReadOnlySpan<float> att, int b, int t, int c, int nh)
    {
        fixed (float* pdi = dinp, pdp = dpreatt, pda = datt, pdo = dout, pin = inp, pat = att)
        {
            nint di = (nint)pdi, dp = (nint)pdp, da = (nint)pda, dO = (nint)pdo, ip = (nint)pin, at = (nint)pat;
            int dil = dinp.Length, dpl = dpreatt.Length, dal = datt.Length, dol = dout.Length, il = inp.Length, atl = att.Length;
            WorkerPool.Run(b * nh, Threads(b, t, c), bh => BackwardHead(
                new Span<float>((void*)di, dil), new Span<float>((void*)dp, dpl), new Span<float>((void*)da, dal),
                new ReadOnlySpan<float>((void*)dO, dol), new ReadOnlySpan<float>((void*)ip, il), new ReadOnlySpan<float>((void*)at, atl),
                bh / nh, bh % nh, t, c, nh));
        }
    }

    private static void BackwardHead(Span<float> dinp, Span<float> dpreatt, Span<float> datt, ReadOnlySpan<float> dout,
        ReadOnlySpan<float> inp, ReadOnlySpan<float> att, int bi, int h, int t, int c, int nh)
    {
        var c3 = 3 * c;
        var hs = c / nh;
        var scale = 1f / MathF.Sqrt(hs);
        var at0 = (bi * nh + h) * t * t;
        var a = att.Slice(at0, t * t);
        var da = datt.Slice(at0, t * t);
        var dpre = dpreatt.Slice(at0, t * t);
        var qkv0 = bi * t * c3 + h * hs;
        var dO = dout[(bi * t * c + h * hs)..];
        // out = att V:  datt = dout V^T;  dV += att^T dout
        Gemm.Multiply(t, t, hs, dO, c, 1, inp[(qkv0 + 2 * c)..], 1, c3, da, t, accumulate: false, threads: 1);
        Gemm.Multiply(t, hs, t, a, 1, t, dO, c, 1, dinp[(qkv0 + 2 * c)..], c3, accumulate: true, threads: 1);
        // softmax: dpre[j] = a[j] (da[j] - sum_i a[i] da[i]), causal part only; the scale of pre folded in here
        for (var ti = 0; ti < t; ti++) SoftmaxBackwardRow(dpre.Slice(ti * t, t), a.Slice(ti * t, t), da.Slice(ti * t, t), ti + 1, scale);
        // pre = Q K^T:  dQ += dpre K;  dK += dpre^T Q
        Gemm.Multiply(t, hs, t, dpre, t, 1, inp[(qkv0 + c)..], c3, 1, dinp[qkv0..], c3, accumulate: true, threads: 1);
        Gemm.Multiply(t, hs, t, dpre, 1, t, inp[qkv0..], c3, 1, dinp[(qkv0 + c)..], c3, accumulate: true, threads: 1);
    }

    /// <summary>Causal softmax of one row: a[j] = softmax(scale * pre[0 .. len))[j], zero beyond (pre too).</summary>
    private static void SoftmaxRow(Span<float> pre, Span<float> a, int len, float scale)
    {
        var vs = Vector256.Create(scale);
        var vmax = Vector256.Create(float.NegativeInfinity);
        var j = 0;
        for (; j + 8 <= len; j += 8)
        {
            var v = Vector256.Create<float>(pre[j..]) * vs;
            v.CopyTo(pre[j..]);
            vmax = Vector256.Max(vmax, v);
        }
        var max = float.NegativeInfinity;
        for (var i = 0; i < 8; i++) max = MathF.Max(max, vmax[i]);
        for (; j < len; j++) { pre[j] *= scale; max = MathF.Max(max, pre[j]); }
        var vm = Vector256.Create(max);
        var acc = Vector256<float>.Zero;
        j = 0;
        for (; j + 8 <= len; j += 8)
        {
            var e = Vector256.Exp(Vector256.Create<float>(pre[j..]) - vm);
            e.CopyTo(a[j..]);
            acc += e;
        }
        var sum = Vector256.Sum(acc);
        for (; j < len; j++) { var e = MathF.Exp(pre[j] - max); a[j] = e; sum += e; }
        var inv = sum == 0 ? 0 : 1f / sum;
        var vi = Vector256.Create(inv);
        j = 0;
        for (; j + 8 <= len; j += 8) (Vector256.Create<float>(a[j..]) * vi).CopyTo(a[j..]);
        for (; j < len; j++) a[j] *= inv;
        a[len..].Clear();
        pre[len..].Clear();
    }

    /// <summary>dpre[j] = a[j] (da[j] - sum_i a[i] da[i]) * scale over the causal part, zero beyond.</summary>
    private static void SoftmaxBackwardRow(Span<float> dpre, ReadOnlySpan<float> a, ReadOnlySpan<float> da, int len, float scale)
    {
        var acc = Vector256<float>.Zero;
        var j = 0;
        for (; j + 8 <= len; j += 8) acc += Vector256.Create<float>(a[j..]) * Vector256.Create<float>(da[j..]);
        var weighted = Vector256.Sum(acc);
        for (; j < len; j++) weighted += a[j] * da[j];
        var vw = Vector256.Create(weighted);
        var vs = Vector256.Create(scale);
        j = 0;
        for (; j + 8 <= len; j += 8)
            (Vector256.Create<float>(a[j..]) * (Vector256.Create<float>(da[j..]) - vw) * vs).CopyTo(dpre[j..]);
        for (; j < len; j++) dpre[j] = a[j] * (da[j] - weighted) * scale;
        dpre[len..].Clear();
    }
}
