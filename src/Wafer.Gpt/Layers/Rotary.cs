// Rotary position embedding (Su et al. 2021, RoFormer) applied in place to q and k of a fused qkv tensor.
// Shapes: qkv (B, T, 3C) with q at [0, C), k at [C, 2C); each head's first D = rotaryDims dimensions rotate in D/2 pairs,
// pair i at position t by angle t * 10000^(-2i/D). Pairs are (2i, 2i+1) when interleaved (GPT-J's rotate_every_two),
// else (i, i + D/2) (GPT-NeoX's rotate_half). Backward rotates the gradient by the opposite angle (the map is orthogonal).
namespace Wafer.Gpt.Layers;

public sealed class Rotary
{
    private readonly float[] _cos, _sin; // (maxT, D/2)
    private readonly int _dims;
    private readonly bool _interleaved;

    public Rotary(int maxSeqLen, int rotaryDims, bool interleaved)
    {
        _dims = rotaryDims;
        _interleaved = interleaved;
        var half = rotaryDims / 2;
        _cos = new float[maxSeqLen * half];
        _sin = new float[maxSeqLen * half];
        for (var t = 0; t < maxSeqLen; t++)
            for (var i = 0; i < half; i++)
            {
                var angle = t * Math.Pow(10000.0, -2.0 * i / rotaryDims);
                _cos[t * half + i] = (float)Math.Cos(angle);
                _sin[t * half + i] = (float)Math.Sin(angle);
            }
    }

    public void Forward(Span<float> qkv, int b, int t, int c, int nh) => Rotate(qkv, b, t, c, nh, 1f);

    /// <summary>In place: turns d(loss)/d(rotated q, k) into d(loss)/d(q, k).</summary>
    public void Backward(Span<float> dqkv, int b, int t, int c, int nh) => Rotate(dqkv, b, t, c, nh, -1f);

    private void Rotate(Span<float> qkv, int b, int t, int c, int nh, float direction)
    {
        var hs = c / nh;
        var half = _dims / 2;
        for (var bi = 0; bi < b; bi++)
            for (var ti = 0; ti < t; ti++)
            {
                var cos = _cos.AsSpan(ti * half, half);
                var sin = _sin.AsSpan(ti * half, half);
                for (var part = 0; part < 2; part++) // q, then k
                    for (var h = 0; h < nh; h++)
                    {
                        var x = qkv.Slice((bi * t + ti) * 3 * c + part * c + h * hs, hs);
                        for (var i = 0; i < half; i++)
                        {
                            int i0 = _interleaved ? 2 * i : i, i1 = _interleaved ? 2 * i + 1 : i + half;
                            float x0 = x[i0], x1 = x[i1], co = cos[i], si = direction * sin[i];
                            x[i0] = x0 * co - x1 * si;
                            x[i1] = x1 * co + x0 * si;
                        }
                    }
            }
    }
}
