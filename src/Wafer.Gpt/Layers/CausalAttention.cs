// Causal multi-head self-attention on a fused qkv tensor, forward and backward (llm.c's attention_forward/backward).
// Shapes: inp (B, T, 3C) holding q, k, v; preatt, att (B, NH, T, T); out (B, T, C). HS = C / NH.
namespace Wafer.Gpt.Layers;

public static class CausalAttention
{
    public static unsafe void Forward(Span<float> output, Span<float> preatt, Span<float> att, ReadOnlySpan<float> inp, int b, int t, int c, int nh)
    {
        fixed (float* po = output, ppre = preatt, patt = att, pin = inp)
        {
            var o = (nint)po; var pr = (nint)ppre; var at = (nint)patt; var ip = (nint)pin;
            int ol = output.Length, prl = preatt.Length, atl = att.Length, il = inp.Length;
            // Each (batch, head) pair writes its own slices: the pairs run in parallel, each in a fixed order.
            Parallel.For(0, b * nh, ParallelOptions(b, t, c), bh => ForwardHead(
                new Span<float>((void*)o, ol), new Span<float>((void*)pr, prl), new Span<float>((void*)at, atl),
                new ReadOnlySpan<float>((void*)ip, il), bh / nh, bh % nh, t, c, nh));
        }
    }

    private static ParallelOptions ParallelOptions(int b, int t, int c) =>
        new() { MaxDegreeOfParallelism = (long)b * t * t * c < 200_000 ? 1 : Numerics.Gemm.Threads };

    private static void ForwardHead(Span<float> output, Span<float> preatt, Span<float> att, ReadOnlySpan<float> inp, int bi, int h, int t, int c, int nh)
    {
        var c3 = 3 * c;
        var hs = c / nh;
        var scale = 1f / MathF.Sqrt(hs);
        for (var ti = 0; ti < t; ti++)
        {
            var q = inp.Slice(bi * t * c3 + ti * c3 + h * hs, hs);
            var pre = preatt.Slice(bi * nh * t * t + h * t * t + ti * t, t);
            var a = att.Slice(bi * nh * t * t + h * t * t + ti * t, t);
            // Scores q . k for keys up to ti, softmax with the max subtracted.
            var max = float.NegativeInfinity;
            for (var t2 = 0; t2 <= ti; t2++)
            {
                var dot = Numerics.Vec.Dot(q, inp.Slice(bi * t * c3 + t2 * c3 + h * hs + c, hs)) * scale;
                pre[t2] = dot;
                if (dot > max) max = dot;
            }
            float sum = 0;
            for (var t2 = 0; t2 <= ti; t2++) { var e = MathF.Exp(pre[t2] - max); a[t2] = e; sum += e; }
            var inv = sum == 0 ? 0 : 1f / sum;
            for (var t2 = 0; t2 < t; t2++) a[t2] = t2 <= ti ? a[t2] * inv : 0f;
            var o = output.Slice(bi * t * c + ti * c + h * hs, hs);
            o.Clear();
            for (var t2 = 0; t2 <= ti; t2++) Numerics.Vec.Axpy(a[t2], inp.Slice(bi * t * c3 + t2 * c3 + h * hs + 2 * c, hs), o);
        }
    }

    /// <summary>Accumulates dinp (the q, k, v gradients) from dout; dpreatt and datt are scratch (zeroed here).</summary>
    public static unsafe void Backward(Span<float> dinp, Span<float> dpreatt, Span<float> datt, ReadOnlySpan<float> dout,
        ReadOnlySpan<float> inp, ReadOnlySpan<float> att, int b, int t, int c, int nh)
    {
        dpreatt.Clear();
        datt.Clear();
        fixed (float* pdi = dinp, pdp = dpreatt, pda = datt, pdo = dout, pin = inp, pat = att)
        {
            nint di = (nint)pdi, dp = (nint)pdp, da = (nint)pda, dO = (nint)pdo, ip = (nint)pin, at = (nint)pat;
            int dil = dinp.Length, dpl = dpreatt.Length, dal = datt.Length, dol = dout.Length, il = inp.Length, atl = att.Length;
            // A (batch, head) pair reads and writes only its own head's columns: pairs run in parallel.
            Parallel.For(0, b * nh, ParallelOptions(b, t, c), bh => BackwardHead(
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
        for (var ti = 0; ti < t; ti++)
        {
            var rowAt = bi * nh * t * t + h * t * t + ti * t;
            var a = att.Slice(rowAt, t);
            var da = datt.Slice(rowAt, t);
            var dpre = dpreatt.Slice(rowAt, t);
            var dq = dinp.Slice(bi * t * c3 + ti * c3 + h * hs, hs);
            var q = inp.Slice(bi * t * c3 + ti * c3 + h * hs, hs);
            var dO = dout.Slice(bi * t * c + ti * c + h * hs, hs);
            // out = att . v
            for (var t2 = 0; t2 <= ti; t2++)
            {
                da[t2] += Numerics.Vec.Dot(inp.Slice(bi * t * c3 + t2 * c3 + h * hs + 2 * c, hs), dO);
                Numerics.Vec.Axpy(a[t2], dO, dinp.Slice(bi * t * c3 + t2 * c3 + h * hs + 2 * c, hs));
            }
            // softmax: dpre[j] = sum_i a[i] (delta_ij - a[j]) da[i] = a[j] (da[j] - sum_i a[i] da[i]), O(T) per row
            float weighted = 0;
            for (var t2 = 0; t2 <= ti; t2++) weighted += a[t2] * da[t2];
            for (var t3 = 0; t3 <= ti; t3++) dpre[t3] += a[t3] * (da[t3] - weighted);
            // preatt = scale * q . k
            for (var t2 = 0; t2 <= ti; t2++)
            {
                var g = dpre[t2] * scale;
                Numerics.Vec.Axpy(g, inp.Slice(bi * t * c3 + t2 * c3 + h * hs + c, hs), dq);
                Numerics.Vec.Axpy(g, q, dinp.Slice(bi * t * c3 + t2 * c3 + h * hs + c, hs));
            }
        }
    }
}
