// LayerNorm over the channel dimension, forward and backward (llm.c's layernorm_forward/backward), rows split over the
// worker pool, each row on Vector256. Shapes: inp, out (N, C); weight, bias (C); mean, rstd (N) saved for backward.
using System.Runtime.Intrinsics;

namespace Wafer.Gpt.Layers;

public static class LayerNorm
{
    public const float Eps = 1e-5f;
    private const int GrainElements = 32 * 1024;

    private static int Grain(int c) => Math.Max(1, GrainElements / c);

    public static unsafe void Forward(Span<float> output, Span<float> mean, Span<float> rstd, ReadOnlySpan<float> inp,
        ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, int n, int c, int threads)
    {
        if (output.Length < n * c || inp.Length < n * c || mean.Length < n || rstd.Length < n || weight.Length < c || bias.Length < c)
            throw new ArgumentException("LayerNorm.Forward: a buffer is smaller than its shape");
        fixed (float* po = output, pm = mean, pr = rstd, pi = inp, pw = weight, pb = bias)
        {
            nint o = (nint)po, m = (nint)pm, r = (nint)pr, ip = (nint)pi, w = (nint)pw, b = (nint)pb;
            Numerics.Chunks.Run(n, Grain(c), threads, (_, start, end) =>
            {
                var i = start;
                for (; i + 2 <= end; i += 2)
                    ForwardRows2((float*)o + (long)i * c, (float*)m + i, (float*)r + i, (float*)ip + (long)i * c, (float*)w, (float*)b, c);
                if (i < end)
                    ForwardRow((float*)o + (long)i * c, (float*)m + i, (float*)r + i, (float*)ip + (long)i * c, (float*)w, (float*)b, c);
            });
        }
    }

    private static unsafe void ForwardRow(float* o, float* mean, float* rstd, float* x, float* w, float* b, int c)
    {
        var m = Sum(x, c) / c;
        var vm = Vector256.Create(m);
        var acc = Vector256<float>.Zero;
        var j = 0;
        for (; j + 8 <= c; j += 8) { var d = Vector256.Load(x + j) - vm; acc += d * d; }
        var v = Vector256.Sum(acc);
        for (; j < c; j++) { var d = x[j] - m; v += d * d; }
        v /= c;
        var s = 1f / MathF.Sqrt(v + Eps);
        var vs = Vector256.Create(s);
        j = 0;
        for (; j + 8 <= c; j += 8) (vs * (Vector256.Load(x + j) - vm) * Vector256.Load(w + j) + Vector256.Load(b + j)).Store(o + j);
        for (; j < c; j++) o[j] = s * (x[j] - m) * w[j] + b[j];
        *mean = m;
        *rstd = s;
    }

    /// <summary>Rows x and x + c (outputs o and o + c, statistics mean[0..2), rstd[0..2)), each bit for bit what
    /// ForwardRow gives it: the same operations, the two rows' statements alternating. A row's sums are chains of
    /// dependent adds (16 deep at C = 128) that one row at a time left mostly waiting on latency.</summary>
    private static unsafe void ForwardRows2(float* o, float* mean, float* rstd, float* x, float* w, float* b, int c)
    {
        var y = x + c;
        Vector256<float> s0 = default, s1 = default;
        var j = 0;
        for (; j + 8 <= c; j += 8) { s0 += Vector256.Load(x + j); s1 += Vector256.Load(y + j); }
        float sum0 = Vector256.Sum(s0), sum1 = Vector256.Sum(s1);
        for (; j < c; j++) { sum0 += x[j]; sum1 += y[j]; }
        float m0 = sum0 / c, m1 = sum1 / c;
        Vector256<float> vm0 = Vector256.Create(m0), vm1 = Vector256.Create(m1);
        Vector256<float> a0 = default, a1 = default;
        j = 0;
        for (; j + 8 <= c; j += 8)
        {
            var d0 = Vector256.Load(x + j) - vm0;
            var d1 = Vector256.Load(y + j) - vm1;
            a0 += d0 * d0;
            a1 += d1 * d1;
        }
        float v0 = Vector256.Sum(a0), v1 = Vector256.Sum(a1);
        for (; j < c; j++) { var d0 = x[j] - m0; v0 += d0 * d0; var d1 = y[j] - m1; v1 += d1 * d1; }
        v0 /= c;
        v1 /= c;
        float r0 = 1f / MathF.Sqrt(v0 + Eps), r1 = 1f / MathF.Sqrt(v1 + Eps);
        Vector256<float> vs0 = Vector256.Create(r0), vs1 = Vector256.Create(r1);
        var o1 = o + c;
        j = 0;
        for (; j + 8 <= c; j += 8)
        {
            var wj = Vector256.Load(w + j);
            var bj = Vector256.Load(b + j);
            (vs0 * (Vector256.Load(x + j) - vm0) * wj + bj).Store(o + j);
            (vs1 * (Vector256.Load(y + j) - vm1) * wj + bj).Store(o1 + j);
        }
        for (; j < c; j++)
        {
            o[j] = r0 * (x[j] - m0) * w[j] + b[j];
            o1[j] = r1 * (y[j] - m1) * w[j] + b[j];
        }
        mean[0] = m0;
        mean[1] = m1;
        rstd[0] = r0;
        rstd[1] = r1;
    }

    private static unsafe float Sum(float* x, int c)
    {
        var acc = Vector256<float>.Zero;
        var j = 0;
        for (; j + 8 <= c; j += 8) acc += Vector256.Load(x + j);
        var sum = Vector256.Sum(acc);
        for (; j < c; j++) sum += x[j];
        return sum;
    }

    /// <summary>How Backward writes dinp: adds its gradient to what dinp holds, or writes it over dinp added to a
    /// residual's gradient (a block's dOut: no copy of it into dinp first) or to zero (no clearing pass first).</summary>
    public enum InputGradient { Accumulate, OntoResidual, Overwrite }

    /// <summary>Accumulates dinp, dweight and dbias (+=) from dout; with accumulateWeights false dweight and dbias are
    /// overwritten instead (the same sums). dweight and dbias sum over rows per part, then the parts in order (the split
    /// depends on N only, so the sums do not depend on the thread count). dinp as `mode` says: OntoResidual writes
    /// residual + the gradient, Overwrite 0 + the gradient: the same sums as copying residual (or zeros) into dinp and
    /// accumulating.</summary>
    public static unsafe void Backward(Span<float> dinp, Span<float> dweight, Span<float> dbias, ReadOnlySpan<float> dout,
        ReadOnlySpan<float> inp, ReadOnlySpan<float> weight, ReadOnlySpan<float> mean, ReadOnlySpan<float> rstd, int n, int c,
        int threads, bool accumulateWeights = true, InputGradient mode = InputGradient.Accumulate, ReadOnlySpan<float> residual = default)
    {
        if (dinp.Length < n * c || dout.Length < n * c || inp.Length < n * c || mean.Length < n || rstd.Length < n || weight.Length < c || dweight.Length < c || dbias.Length < c)
            throw new ArgumentException("LayerNorm.Backward: a buffer is smaller than its shape");
        if ((mode == InputGradient.OntoResidual) != (residual.Length > 0) || (residual.Length > 0 && residual.Length < n * c))
            throw new ArgumentException("LayerNorm.Backward: a residual gradient of N x C goes with OntoResidual, and only with it");
        var parts = Numerics.Chunks.Parts(n, Grain(c));
        var partial = System.Buffers.ArrayPool<float>.Shared.Rent(parts * 2 * c); // per part: dweight, dbias
        Array.Clear(partial, 0, parts * 2 * c);
        fixed (float* pdx = dinp, pdy = dout, px = inp, pw = weight, pm = mean, pr = rstd, pp = partial, pres = residual)
        {
            nint dx = (nint)pdx, dy = (nint)pdy, x = (nint)px, w = (nint)pw, m = (nint)pm, r = (nint)pr, pt = (nint)pp;
            // The rows dinp starts from: itself, the residual's, or none (zero).
            nint from = mode switch { InputGradient.Accumulate => dx, InputGradient.OntoResidual => (nint)pres, _ => 0 };
            Numerics.Chunks.Run(n, Grain(c), threads, (part, start, end) =>
            {
                var dw = (float*)pt + (long)part * 2 * c;
                var db = dw + c;
                for (var i = start; i < end; i++)
                    BackwardRow((float*)dx + (long)i * c, from == 0 ? null : (float*)from + (long)i * c, dw, db, (float*)dy + (long)i * c,
                        (float*)x + (long)i * c, (float*)w, ((float*)m)[i], ((float*)r)[i], c);
            });
        }
        if (!accumulateWeights)
        {
            dweight[..c].Clear();
            dbias[..c].Clear();
        }
        for (var part = 0; part < parts; part++)
        {
            Numerics.Vec.AddTo(dweight[..c], partial.AsSpan(part * 2 * c, c));
            Numerics.Vec.AddTo(dbias[..c], partial.AsSpan(part * 2 * c + c, c));
        }
        System.Buffers.ArrayPool<float>.Shared.Return(partial);
    }

    /// <summary>One row; dx = dxFrom + the row's input gradient (dxFrom null: zero; dx itself: accumulate).</summary>
    private static unsafe void BackwardRow(float* dx, float* dxFrom, float* dw, float* db, float* dy, float* x, float* w, float m, float s, int c)
    {
        // Two reductions: mean of dnorm and mean of dnorm * norm.
        var vm = Vector256.Create(m);
        var vs = Vector256.Create(s);
        Vector256<float> a1 = default, a2 = default;
        var j = 0;
        for (; j + 8 <= c; j += 8)
        {
            var norm = (Vector256.Load(x + j) - vm) * vs;
            var dnorm = Vector256.Load(w + j) * Vector256.Load(dy + j);
            a1 += dnorm;
            a2 += dnorm * norm;
        }
        float dnormMean = Vector256.Sum(a1), dnormNormMean = Vector256.Sum(a2);
        for (; j < c; j++)
        {
            var norm = (x[j] - m) * s;
            var dnorm = w[j] * dy[j];
            dnormMean += dnorm;
            dnormNormMean += dnorm * norm;
        }
        dnormMean /= c;
        dnormNormMean /= c;
        var vMean = Vector256.Create(dnormMean);
        var vNormMean = Vector256.Create(dnormNormMean);
        j = 0;
        for (; j + 8 <= c; j += 8)
        {
            var norm = (Vector256.Load(x + j) - vm) * vs;
            var g = Vector256.Load(dy + j);
            var dnorm = Vector256.Load(w + j) * g;
            (Vector256.Load(db + j) + g).Store(db + j);
            (Vector256.Load(dw + j) + norm * g).Store(dw + j);
            var prior = dxFrom == null ? Vector256<float>.Zero : Vector256.Load(dxFrom + j);
            (prior + (dnorm - vMean - norm * vNormMean) * vs).Store(dx + j);
        }
        for (; j < c; j++)
        {
            var norm = (x[j] - m) * s;
            var dnorm = w[j] * dy[j];
            db[j] += dy[j];
            dw[j] += norm * dy[j];
            dx[j] = (dxFrom == null ? 0f : dxFrom[j]) + (dnorm - dnormMean - norm * dnormNormMean) * s;
        }
    }
}
