// LayerNorm over the channel dimension, forward and backward (llm.c's layernorm_forward/backward).
// Shapes: inp, out (N, C); weight, bias (C); mean, rstd (N) saved for backward. N = B*T rows.
namespace Wafer.Gpt.Layers;

public static class LayerNorm
{
    public const float Eps = 1e-5f;

    public static void Forward(Span<float> output, Span<float> mean, Span<float> rstd, ReadOnlySpan<float> inp,
        ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, int n, int c)
    {
        for (var i = 0; i < n; i++)
        {
            var x = inp.Slice(i * c, c);
            float m = 0;
            for (var j = 0; j < c; j++) m += x[j];
            m /= c;
            float v = 0;
            for (var j = 0; j < c; j++) { var d = x[j] - m; v += d * d; }
            v /= c;
            var s = 1f / MathF.Sqrt(v + Eps);
            var o = output.Slice(i * c, c);
            for (var j = 0; j < c; j++) o[j] = s * (x[j] - m) * weight[j] + bias[j];
            mean[i] = m;
            rstd[i] = s;
        }
    }

    /// <summary>Accumulates dinp, dweight and dbias (+=) from dout.</summary>
    public static void Backward(Span<float> dinp, Span<float> dweight, Span<float> dbias, ReadOnlySpan<float> dout,
        ReadOnlySpan<float> inp, ReadOnlySpan<float> weight, ReadOnlySpan<float> mean, ReadOnlySpan<float> rstd, int n, int c)
    {
        for (var i = 0; i < n; i++)
        {
            var dy = dout.Slice(i * c, c);
            var x = inp.Slice(i * c, c);
            var dx = dinp.Slice(i * c, c);
            float m = mean[i], s = rstd[i];
            // Two reductions: mean of dnorm and mean of dnorm * norm.
            float dnormMean = 0, dnormNormMean = 0;
            for (var j = 0; j < c; j++)
            {
                var norm = (x[j] - m) * s;
                var dnorm = weight[j] * dy[j];
                dnormMean += dnorm;
                dnormNormMean += dnorm * norm;
            }
            dnormMean /= c;
            dnormNormMean /= c;
            for (var j = 0; j < c; j++)
            {
                var norm = (x[j] - m) * s;
                var dnorm = weight[j] * dy[j];
                dbias[j] += dy[j];
                dweight[j] += norm * dy[j];
                dx[j] += (dnorm - dnormMean - norm * dnormNormMean) * s;
            }
        }
    }
}
