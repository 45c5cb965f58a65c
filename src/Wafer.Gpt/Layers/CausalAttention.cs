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
        var o = output[(bi * t * c + h * hs)..];
        var block = CausalBlock(t);
        for (var r0 = 0; r0 < t; r0 += block)
        {
            // Rows [r0, r1) see keys [0, r1) only: the products skip the blocks above the diagonal (about 40 % of
            // the work at T = 64), and the causal softmax zeroes the rest of each row.
            var r1 = Math.Min(t, r0 + block);
            // pre = Q K^T, then the causal softmax of scale * pre.
            Gemm.Multiply(r1 - r0, r1, hs, q[(r0 * c3)..], c3, 1, k, 1, c3, pre[(r0 * t)..], t, accumulate: false, threads: 1);
            for (var ti = r0; ti < r1; ti++) SoftmaxRow(pre.Slice(ti * t, t), a.Slice(ti * t, t), ti + 1, scale);
            // out = att V
            Gemm.Multiply(r1 - r0, hs, r1, a[(r0 * t)..], t, 1, v, c3, 1, o[(r0 * c)..], c, accumulate: false, threads: 1);
        }
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
        var v = inp[(qkv0 + 2 * c)..];
        var dv = dinp[(qkv0 + 2 * c)..];
        var k = inp[(qkv0 + c)..];
        var dk = dinp[(qkv0 + c)..];
        var q = inp[qkv0..];
        var dq = dinp[qkv0..];
        var block = CausalBlock(t);
        // Query rows [r0, r1) against keys [0, r1) (att and dpre are zero above the diagonal):
        // out = att V:  datt = dout V^T;  softmax backward;  pre = Q K^T:  dQ += dpre K.
        for (var r0 = 0; r0 < t; r0 += block)
        {
            var r1 = Math.Min(t, r0 + block);
            Gemm.Multiply(r1 - r0, r1, hs, dO[(r0 * c)..], c, 1, v, 1, c3, da[(r0 * t)..], t, accumulate: false, threads: 1);
            // dpre[j] = a[j] (da[j] - sum_i a[i] da[i]), causal part only; the scale of pre folded in here
            for (var ti = r0; ti < r1; ti++) SoftmaxBackwardRow(dpre.Slice(ti * t, t), a.Slice(ti * t, t), da.Slice(ti * t, t), ti + 1, scale);
            Gemm.Multiply(r1 - r0, hs, r1, dpre[(r0 * t)..], t, 1, k, c3, 1, dq[(r0 * c3)..], c3, accumulate: true, threads: 1);
        }
        // Key rows [j0, j1) gather from queries [j0, T):  dV += att^T dout;  dK += dpre^T Q.
        for (var j0 = 0; j0 < t; j0 += block)
        {
            var j1 = Math.Min(t, j0 + block);
            Gemm.Multiply(j1 - j0, hs, t - j0, a[(j0 * t + j0)..], 1, t, dO[(j0 * c)..], c, 1, dv[(j0 * c3)..], c3, accumulate: true, threads: 1);
            Gemm.Multiply(j1 - j0, hs, t - j0, dpre[(j0 * t + j0)..], 1, t, q[(j0 * c3)..], c3, 1, dk[(j0 * c3)..], c3, accumulate: true, threads: 1);
        }
    }

    /// <summary>Rows per causal block: 16, or T / 8 rounded up to 16 for long sequences (fewer, larger products).</summary>
    private static int CausalBlock(int t) => Math.Max(16, (t / 8 + 15) / 16 * 16);

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
