// GELU with the tanh approximation (GPT-2's), forward and backward (llm.c's gelu_forward/backward). Shapes: (N).
// tanh is Numerics.FastMath's rational one on Vector256 (scalar tails use the same function), and gelu' takes
// sech^2 = 1 - tanh^2 from it: libm's tanhf and coshf cost ~20 ns each and dominated a training step. The forward pass
// saves gelu' (the slope) as it goes, so the backward pass is a multiply.
using System.Runtime.Intrinsics;

namespace Wafer.Gpt.Layers;

public static class Gelu
{
    private static readonly float ScalingFactor = MathF.Sqrt(2f / MathF.PI);
    private const float Cubic = 0.044715f;

    private static float Tanh(float u) => Numerics.FastMath.Tanh(u);

    private static Vector256<float> Tanh(Vector256<float> u) => Numerics.FastMath.Tanh(u);

    /// <summary>Elements per part when split over threads.</summary>
    private const int Grain = 32 * 1024;

    /// <summary>output = gelu(inp) and slope = gelu'(inp), all the backward pass needs; slope may be inp itself (each
    /// element is read before it is written). The slope shares the forward's tanh: recomputing it in backward was 2.6 %
    /// of a nano step's samples.</summary>
    public static unsafe void Forward(Span<float> output, Span<float> slope, ReadOnlySpan<float> inp)
    {
        if (output.Length < inp.Length || slope.Length < inp.Length)
            throw new ArgumentException($"Gelu: output ({output.Length}) and slope ({slope.Length}) must hold the {inp.Length} inputs");
        fixed (float* po = output, pi = inp, ps = slope)
        {
            nint o = (nint)po, ip = (nint)pi, sl = (nint)ps;
            Numerics.Chunks.Run(inp.Length, Grain, (_, s, e) => ForwardRange((float*)o + s, (float*)sl + s, (float*)ip + s, e - s));
        }
    }

    private static unsafe void ForwardRange(float* output, float* slope, float* inp, int n)
    {
        var s = Vector256.Create(ScalingFactor);
        var half = Vector256.Create(0.5f);
        var i = 0;
        // Two vectors per iteration: each tanh is a chain of dependent multiply-adds and a division, and two independent
        // chains side by side keep both FMA pipes busy where the out-of-order window alone overlapped them less.
        for (; i + 16 <= n; i += 16)
        {
            var x0 = Vector256.Load(inp + i);
            var x1 = Vector256.Load(inp + i + 8);
            var th0 = Tanh(Argument(x0, s));
            var th1 = Tanh(Argument(x1, s));
            Store(output + i, slope + i, x0, th0, s, half);
            Store(output + i + 8, slope + i + 8, x1, th1, s, half);
        }
        for (; i + 8 <= n; i += 8)
        {
            var x = Vector256.Load(inp + i);
            Store(output + i, slope + i, x, Tanh(Argument(x, s)), s, half);
        }
        for (; i < n; i++)
        {
            var x = inp[i];
            var th = Tanh(ScalingFactor * (x + Cubic * x * x * x));
            output[i] = 0.5f * x * (1f + th);
            slope[i] = 0.5f * (1f + th) + x * 0.5f * (1f - th * th) * ScalingFactor * (1f + 3f * Cubic * x * x);
        }
    }

    /// <summary>tanh's argument: sqrt(2 / pi) (x + 0.044715 x^3).</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Argument(Vector256<float> x, Vector256<float> s) => s * (x + Vector256.Create(Cubic) * x * x * x);

    /// <summary>gelu(x) = x (1 + tanh) / 2 and its slope from the tanh of x's argument.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private static unsafe void Store(float* output, float* slope, Vector256<float> x, Vector256<float> th, Vector256<float> s, Vector256<float> half)
    {
        var onePlus = Vector256<float>.One + th;
        (half * x * onePlus).Store(output);
        (half * onePlus + half * x * (Vector256<float>.One - th * th) * s * (Vector256<float>.One + Vector256.Create(3f * Cubic) * x * x)).Store(slope);
    }

    /// <summary>dinp = slope * dout (overwritten), slope = gelu'(inp) as saved by Forward.</summary>
    public static unsafe void Backward(Span<float> dinp, ReadOnlySpan<float> slope, ReadOnlySpan<float> dout)
    {
        if (dinp.Length < slope.Length || dout.Length < slope.Length)
            throw new ArgumentException($"Gelu: dinp ({dinp.Length}) and dout ({dout.Length}) must hold the {slope.Length} slopes");
        fixed (float* pd = dinp, ps = slope, po = dout)
        {
            nint d = (nint)pd, sl = (nint)ps, o = (nint)po;
            Numerics.Chunks.Run(slope.Length, Grain, (_, s, e) =>
                Numerics.Vec.Multiply(new Span<float>((float*)d + s, e - s), new ReadOnlySpan<float>((float*)sl + s, e - s), new ReadOnlySpan<float>((float*)o + s, e - s)));
        }
    }
}
