// AdamW with decoupled weight decay (Loshchilov & Hutter), as llm.c applies it: decay on every parameter given a
// non-zero rate; callers pass 0 for parameters that should not decay.
namespace Wafer.Gpt;

public sealed class AdamW(long parameterCount, float beta1 = 0.9f, float beta2 = 0.999f, float eps = 1e-8f)
{
    public float[] M { get; } = new float[parameterCount];
    public float[] V { get; } = new float[parameterCount];
    public int Step { get; private set; }

    /// <summary>One update of params[offset .. offset + count) from grads; call Advance once per optimizer step first.</summary>
    public void Update(Span<float> parameters, ReadOnlySpan<float> gradients, long offset, float learningRate, float weightDecay)
    {
        var m = M.AsSpan((int)offset, parameters.Length);
        var v = V.AsSpan((int)offset, parameters.Length);
        var c1 = 1f - MathF.Pow(beta1, Step);
        var c2 = 1f - MathF.Pow(beta2, Step);
        for (var i = 0; i < parameters.Length; i++)
        {
            var g = gradients[i];
            m[i] = beta1 * m[i] + (1 - beta1) * g;
            v[i] = beta2 * v[i] + (1 - beta2) * g * g;
            var mHat = m[i] / c1;
            var vHat = v[i] / c2;
            parameters[i] -= learningRate * (mHat / (MathF.Sqrt(vHat) + eps) + weightDecay * parameters[i]);
        }
    }

    public void Advance() => Step++;
}
