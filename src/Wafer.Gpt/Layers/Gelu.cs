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
    /// element is read before it is written). The slope shares the forward's tanh: recomputing it in backward showed in a nano
    /// step's profile.</summary>
    public static unsafe void Forward(Span<float> output, Span<float> slope, ReadOnlySpan<float> inp, int threads)
    {
        if (output.Length < inp.Length || slope.Length < inp.Length)
            throw new ArgumentException($"Gelu: output ({output.Length}) and slope ({slope.Length}) must hold the {inp.Length} inputs");
        fixed (float* po = output, pi = inp, ps = slope)
        {
            nint o = (nint)po, ip = (nint)pi, sl = (nint)ps;
            Numerics.Chunks.Run(inp.Length, Grain, threads, (_, s, e) => ForwardRange((float*)o + s, (float*)sl + s, (float*)ip + s, e - s));
        }
    }

    private static unsafe void ForwardRange(float* output, float* slope, float* inp, int n)
    {
        var s = Vector256.Create(ScalingFactor);
        var half = Vector256.Create(0.5f);
        var i = 0;
        // Four vectors per iteration, their tanh chains interleaved two by two (FastMath.Tanh2) and the other steps
        // written vector after vector: one vector's chain at a time left the pipes idle (~9.5 ns a vector against ~6.5).
        var one = Vector256<float>.One;
        if (Vector512.IsHardwareAccelerated) i = ForwardWide(output, slope, inp, n);
        for (; i + 32 <= n; i += 32)
        {
            var x0 = Vector256.Load(inp + i);
            var x1 = Vector256.Load(inp + i + 8);
            var x2 = Vector256.Load(inp + i + 16);
            var x3 = Vector256.Load(inp + i + 24);
            var t0 = Argument(x0, s);
            var t1 = Argument(x1, s);
            var t2 = Argument(x2, s);
            var t3 = Argument(x3, s);
            Numerics.FastMath.Tanh2(ref t0, ref t1);
            Numerics.FastMath.Tanh2(ref t2, ref t3);
            var o0 = one + t0;
            var o1 = one + t1;
            var o2 = one + t2;
            var o3 = one + t3;
            (half * x0 * o0).Store(output + i);
            (half * x1 * o1).Store(output + i + 8);
            (half * x2 * o2).Store(output + i + 16);
            (half * x3 * o3).Store(output + i + 24);
            Slope(slope + i, x0, t0, o0, s, half);
            Slope(slope + i + 8, x1, t1, o1, s, half);
            Slope(slope + i + 16, x2, t2, o2, s, half);
            Slope(slope + i + 24, x3, t3, o3, s, half);
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

    /// <summary>ForwardRange's four-vector loop on 512-bit vectors (the same operations per lane, so the same results);
    /// returns how many elements it did (a multiple of 64).</summary>
    private static unsafe int ForwardWide(float* output, float* slope, float* inp, int n)
    {
        var s = Vector512.Create(ScalingFactor);
        var half = Vector512.Create(0.5f);
        var one = Vector512<float>.One;
        var i = 0;
        for (; i + 64 <= n; i += 64)
        {
            var x0 = Vector512.Load(inp + i);
            var x1 = Vector512.Load(inp + i + 16);
            var x2 = Vector512.Load(inp + i + 32);
            var x3 = Vector512.Load(inp + i + 48);
            var t0 = s * (x0 + Vector512.Create(Cubic) * x0 * x0 * x0);
            var t1 = s * (x1 + Vector512.Create(Cubic) * x1 * x1 * x1);
            var t2 = s * (x2 + Vector512.Create(Cubic) * x2 * x2 * x2);
            var t3 = s * (x3 + Vector512.Create(Cubic) * x3 * x3 * x3);
            Numerics.FastMath.Tanh2(ref t0, ref t1);
            Numerics.FastMath.Tanh2(ref t2, ref t3);
            var o0 = one + t0;
            var o1 = one + t1;
            var o2 = one + t2;
            var o3 = one + t3;
            (half * x0 * o0).Store(output + i);
            (half * x1 * o1).Store(output + i + 16);
            (half * x2 * o2).Store(output + i + 32);
            (half * x3 * o3).Store(output + i + 48);
            SlopeWide(slope + i, x0, t0, o0, s, half);
            SlopeWide(slope + i + 16, x1, t1, o1, s, half);
            SlopeWide(slope + i + 32, x2, t2, o2, s, half);
            SlopeWide(slope + i + 48, x3, t3, o3, s, half);
        }
        return i;
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private static unsafe void SlopeWide(float* slope, Vector512<float> x, Vector512<float> th, Vector512<float> onePlus, Vector512<float> s, Vector512<float> half) =>
        (half * onePlus + half * x * (Vector512<float>.One - th * th) * s * (Vector512<float>.One + Vector512.Create(3f * Cubic) * x * x)).Store(slope);

    /// <summary>tanh's argument: sqrt(2 / pi) (x + 0.044715 x^3).</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Argument(Vector256<float> x, Vector256<float> s) => s * (x + Vector256.Create(Cubic) * x * x * x);

    /// <summary>gelu(x) = x (1 + tanh) / 2 and its slope from the tanh of x's argument.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private static unsafe void Store(float* output, float* slope, Vector256<float> x, Vector256<float> th, Vector256<float> s, Vector256<float> half)
    {
        var onePlus = Vector256<float>.One + th;
        (half * x * onePlus).Store(output);
        Slope(slope, x, th, onePlus, s, half);
    }

    /// <summary>gelu'(x) = (1 + tanh) / 2 + x (1 - tanh^2) / 2 * d(argument)/dx.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private static unsafe void Slope(float* slope, Vector256<float> x, Vector256<float> th, Vector256<float> onePlus, Vector256<float> s, Vector256<float> half) =>
        (half * onePlus + half * x * (Vector256<float>.One - th * th) * s * (Vector256<float>.One + Vector256.Create(3f * Cubic) * x * x)).Store(slope);

    /// <summary>dinp = slope * dout (overwritten), slope = gelu'(inp) as saved by Forward.</summary>
    public static unsafe void Backward(Span<float> dinp, ReadOnlySpan<float> slope, ReadOnlySpan<float> dout, int threads)
    {
        if (dinp.Length < slope.Length || dout.Length < slope.Length)
            throw new ArgumentException($"Gelu: dinp ({dinp.Length}) and dout ({dout.Length}) must hold the {slope.Length} slopes");
        fixed (float* pd = dinp, ps = slope, po = dout)
        {
            nint d = (nint)pd, sl = (nint)ps, o = (nint)po;
            Numerics.Chunks.Run(slope.Length, Grain, threads, (_, s, e) =>
                Numerics.Vec.Multiply(new Span<float>((float*)d + s, e - s), new ReadOnlySpan<float>((float*)sl + s, e - s), new ReadOnlySpan<float>((float*)o + s, e - s)));
        }
    }
}
