// Softmax over the vocabulary and cross-entropy loss, forward and the fused backward into the logits.
// Shapes: logits, probs (N, Vp) with only the first V entries real (Vp = padded vocabulary); targets (N); losses (N).
namespace Wafer.Gpt.Layers;

public static class CrossEntropy
{
    public static void SoftmaxForward(Span<float> probs, ReadOnlySpan<float> logits, int n, int v, int vp)
    {
        for (var i = 0; i < n; i++)
        {
            var l = logits.Slice(i * vp, vp);
            var p = probs.Slice(i * vp, vp);
            var max = float.NegativeInfinity;
            for (var j = 0; j < v; j++) max = MathF.Max(max, l[j]);
            float sum = 0;
            for (var j = 0; j < v; j++) { p[j] = MathF.Exp(l[j] - max); sum += p[j]; }
            for (var j = 0; j < v; j++) p[j] /= sum;
            for (var j = v; j < vp; j++) p[j] = 0f;
        }
    }

    public static void LossForward(Span<float> losses, ReadOnlySpan<float> probs, ReadOnlySpan<int> targets, int n, int vp)
    {
        for (var i = 0; i < n; i++) losses[i] = -MathF.Log(probs[i * vp + targets[i]]);
    }

    /// <summary>dlogits += (probs - onehot(target)) * dloss, per row (the fused softmax + cross-entropy gradient).</summary>
    public static void Backward(Span<float> dlogits, ReadOnlySpan<float> dlosses, ReadOnlySpan<float> probs, ReadOnlySpan<int> targets, int n, int v, int vp)
    {
        for (var i = 0; i < n; i++)
        {
            var dl = dlogits.Slice(i * vp, vp);
            var p = probs.Slice(i * vp, vp);
            var d = dlosses[i];
            var target = targets[i];
            for (var j = 0; j < v; j++) dl[j] += (p[j] - (j == target ? 1f : 0f)) * d;
        }
    }
}
