// Softmax over the vocabulary and cross-entropy loss, forward and the fused backward into the logits; rows split over
// the worker pool, each row on Vector256 (a vectorised exp). Shapes: logits, probs (N, Vp) with only the first V
// entries real (Vp = padded vocabulary); targets (N); losses (N).
using System.Runtime.Intrinsics;

namespace Wafer.Gpt.Layers;

public static class CrossEntropy
{
    private const int GrainElements = 64 * 1024;

    public static unsafe void SoftmaxForward(Span<float> probs, ReadOnlySpan<float> logits, int n, int v, int vp, int threads)
    {
        if (probs.Length < n * vp || logits.Length < n * vp) throw new ArgumentException("CrossEntropy.SoftmaxForward: a buffer is smaller than its shape");
        fixed (float* pp = probs, pl = logits)
        {
            nint po = (nint)pp, li = (nint)pl;
            Numerics.Chunks.Run(n, Math.Max(1, GrainElements / vp), threads, (_, start, end) =>
            {
                for (var i = start; i < end; i++) SoftmaxRow((float*)po + (long)i * vp, (float*)li + (long)i * vp, v, vp);
            });
        }
    }

    private static unsafe void SoftmaxRow(float* p, float* l, int v, int vp)
    {
        var j = 0;
        var vmax = Vector256.Create(float.NegativeInfinity);
        for (; j + 8 <= v; j += 8) vmax = Vector256.Max(vmax, Vector256.Load(l + j));
        var max = float.NegativeInfinity;
        for (var k = 0; k < 8; k++) max = MathF.Max(max, vmax[k]);
        for (; j < v; j++) max = MathF.Max(max, l[j]);
        var vm = Vector256.Create(max);
        var acc = Vector256<float>.Zero;
        j = 0;
        for (; j + 8 <= v; j += 8)
        {
            var e = Numerics.FastMath.Exp(Vector256.Load(l + j) - vm);
            e.Store(p + j);
            acc += e;
        }
        var sum = Vector256.Sum(acc);
        for (; j < v; j++) { p[j] = MathF.Exp(l[j] - max); sum += p[j]; }
        var inv = Vector256.Create(1f / sum);
        j = 0;
        for (; j + 8 <= v; j += 8) (Vector256.Load(p + j) * inv).Store(p + j);
        for (; j < v; j++) p[j] *= inv[0];
        for (j = v; j < vp; j++) p[j] = 0f;
    }

    public static void LossForward(Span<float> losses, ReadOnlySpan<float> probs, ReadOnlySpan<int> targets, int n, int vp)
    {
        for (var i = 0; i < n; i++) losses[i] = -MathF.Log(probs[i * vp + targets[i]]);
    }

    /// <summary>dlogits += (probs - onehot(target)) * dloss, per row (the fused softmax + cross-entropy gradient).</summary>
    public static unsafe void Backward(Span<float> dlogits, ReadOnlySpan<float> dlosses, ReadOnlySpan<float> probs, ReadOnlySpan<int> targets, int n, int v, int vp, int threads)
    {
        if (dlogits.Length < n * vp || probs.Length < n * vp || dlosses.Length < n || targets.Length < n) throw new ArgumentException("CrossEntropy.Backward: a buffer is smaller than its shape");
        fixed (float* pd = dlogits, pl = dlosses, pp = probs)
        fixed (int* pt = targets)
        {
            nint d = (nint)pd, dl = (nint)pl, pr = (nint)pp, tg = (nint)pt;
            Numerics.Chunks.Run(n, Math.Max(1, GrainElements / vp), threads, (_, start, end) =>
            {
                for (var i = start; i < end; i++)
                {
                    var row = (float*)d + (long)i * vp;
                    var p = (float*)pr + (long)i * vp;
                    var g = ((float*)dl)[i];
                    var vg = Vector256.Create(g);
                    var j = 0;
                    for (; j + 8 <= v; j += 8) (Vector256.Load(row + j) + Vector256.Load(p + j) * vg).Store(row + j);
                    for (; j < v; j++) row[j] += p[j] * g;
                    row[((int*)tg)[i]] -= g;
                }
            });
        }
    }
}
