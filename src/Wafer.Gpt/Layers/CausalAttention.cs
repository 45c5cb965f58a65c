// Causal multi-head self-attention on a fused qkv tensor, forward and backward (llm.c's attention_forward/backward).
// Shapes: inp (B, T, 3C) holding q, k, v; preatt, att (B, NH, T, T); out (B, T, C). HS = C / NH.
namespace Wafer.Gpt.Layers;

public static class CausalAttention
{
    public static void Forward(Span<float> output, Span<float> preatt, Span<float> att, ReadOnlySpan<float> inp, int b, int t, int c, int nh)
    {
        var c3 = 3 * c;
        var hs = c / nh;
        var scale = 1f / MathF.Sqrt(hs);
        for (var bi = 0; bi < b; bi++)
            for (var ti = 0; ti < t; ti++)
                for (var h = 0; h < nh; h++)
                {
                    var q = inp.Slice(bi * t * c3 + ti * c3 + h * hs, hs);
                    var pre = preatt.Slice(bi * nh * t * t + h * t * t + ti * t, t);
                    var a = att.Slice(bi * nh * t * t + h * t * t + ti * t, t);
                    // Scores q . k for keys up to ti, softmax with the max subtracted.
                    var max = float.NegativeInfinity;
                    for (var t2 = 0; t2 <= ti; t2++)
                    {
                        var k = inp.Slice(bi * t * c3 + t2 * c3 + h * hs + c, hs);
                        float dot = 0;
                        for (var i = 0; i < hs; i++) dot += q[i] * k[i];
                        dot *= scale;
                        pre[t2] = dot;
                        if (dot > max) max = dot;
                    }
                    float sum = 0;
                    for (var t2 = 0; t2 <= ti; t2++) { var e = MathF.Exp(pre[t2] - max); a[t2] = e; sum += e; }
                    var inv = sum == 0 ? 0 : 1f / sum;
                    for (var t2 = 0; t2 < t; t2++) a[t2] = t2 <= ti ? a[t2] * inv : 0f;
                    var o = output.Slice(bi * t * c + ti * c + h * hs, hs);
                    o.Clear();
                    for (var t2 = 0; t2 <= ti; t2++)
                    {
                        var v = inp.Slice(bi * t * c3 + t2 * c3 + h * hs + 2 * c, hs);
                        for (var i = 0; i < hs; i++) o[i] += a[t2] * v[i];
                    }
                }
    }

    /// <summary>Accumulates dinp (the q, k, v gradients) from dout; dpreatt and datt are scratch (zeroed here).</summary>
    public static void Backward(Span<float> dinp, Span<float> dpreatt, Span<float> datt, ReadOnlySpan<float> dout,
        ReadOnlySpan<float> inp, ReadOnlySpan<float> att, int b, int t, int c, int nh)
    {
        var c3 = 3 * c;
        var hs = c / nh;
        var scale = 1f / MathF.Sqrt(hs);
        dpreatt.Clear();
        datt.Clear();
        for (var bi = 0; bi < b; bi++)
            for (var ti = 0; ti < t; ti++)
                for (var h = 0; h < nh; h++)
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
                        var v = inp.Slice(bi * t * c3 + t2 * c3 + h * hs + 2 * c, hs);
                        var dv = dinp.Slice(bi * t * c3 + t2 * c3 + h * hs + 2 * c, hs);
                        for (var i = 0; i < hs; i++) { da[t2] += v[i] * dO[i]; dv[i] += a[t2] * dO[i]; }
                    }
                    // softmax: dpre[j] = sum_i a[i] (delta_ij - a[j]) da[i] = a[j] (da[j] - sum_i a[i] da[i]), O(T) per row
                    float weighted = 0;
                    for (var t2 = 0; t2 <= ti; t2++) weighted += a[t2] * da[t2];
                    for (var t3 = 0; t3 <= ti; t3++) dpre[t3] += a[t3] * (da[t3] - weighted);
                    // preatt = scale * q . k
                    for (var t2 = 0; t2 <= ti; t2++)
                    {
                        var k = inp.Slice(bi * t * c3 + t2 * c3 + h * hs + c, hs);
                        var dk = dinp.Slice(bi * t * c3 + t2 * c3 + h * hs + c, hs);
                        for (var i = 0; i < hs; i++)
                        {
                            dq[i] += k[i] * dpre[t2] * scale;
                            dk[i] += q[i] * dpre[t2] * scale;
                        }
                    }
                }
    }
}
