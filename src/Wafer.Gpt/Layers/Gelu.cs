// GELU with the tanh approximation (GPT-2's), forward and backward (llm.c's gelu_forward/backward). Shapes: (N).
// tanh is Numerics.FastMath's rational one on Vector256 (scalar tails use the same function), and the backward pass
// takes sech^2 = 1 - tanh^2 from it: libm's tanhf and coshf cost ~20 ns each and dominated a training step.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Wafer.Gpt.Layers;

public static class Gelu
{
    private static readonly float ScalingFactor = MathF.Sqrt(2f / MathF.PI);
    private const float Cubic = 0.044715f;

    private static float Tanh(float u) => Numerics.FastMath.Tanh(u);

    private static Vector256<float> Tanh(Vector256<float> u) => Numerics.FastMath.Tanh(u);

    /// <summary>gelu(x) per lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> Value(Vector256<float> x)
    {
        var th = Tanh(Vector256.Create(ScalingFactor) * (x + Vector256.Create(Cubic) * x * x * x));
        return Vector256.Create(0.5f) * x * (Vector256<float>.One + th);
    }

    /// <summary>gelu'(x) per lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> Derivative(Vector256<float> x)
    {
        var s = Vector256.Create(ScalingFactor);
        var half = Vector256.Create(0.5f);
        var th = Tanh(s * (x + Vector256.Create(Cubic) * x * x * x));
        var sech2 = Vector256<float>.One - th * th;
        return half * (Vector256<float>.One + th) + half * x * sech2 * s * (Vector256<float>.One + Vector256.Create(3f * Cubic) * x * x);
    }

    /// <summary>Elements per part when split over threads.</summary>
    private const int Grain = 32 * 1024;

    public static unsafe void Forward(Span<float> output, ReadOnlySpan<float> inp)
    {
        fixed (float* po = output, pi = inp)
        {
            nint o = (nint)po, ip = (nint)pi;
            Numerics.Chunks.Run(inp.Length, Grain, (_, s, e) =>
                ForwardRange(new Span<float>((float*)o + s, e - s), new ReadOnlySpan<float>((float*)ip + s, e - s)));
        }
    }

    private static void ForwardRange(Span<float> output, ReadOnlySpan<float> inp)
    {
        var i = 0;
        ref var ri = ref MemoryMarshal.GetReference(inp);
        ref var ro = ref MemoryMarshal.GetReference(output);
        for (; i + 8 <= inp.Length; i += 8) Value(Vector256.LoadUnsafe(ref ri, (nuint)i)).StoreUnsafe(ref ro, (nuint)i);
        for (; i < inp.Length; i++)
        {
            var x = inp[i];
            output[i] = 0.5f * x * (1f + Tanh(ScalingFactor * (x + Cubic * x * x * x)));
        }
    }

    /// <summary>dinp = gelu'(inp) * dout (overwritten).</summary>
    public static unsafe void Backward(Span<float> dinp, ReadOnlySpan<float> inp, ReadOnlySpan<float> dout)
    {
        fixed (float* pd = dinp, pi = inp, po = dout)
        {
            nint d = (nint)pd, ip = (nint)pi, o = (nint)po;
            Numerics.Chunks.Run(inp.Length, Grain, (_, s, e) => BackwardRange(new Span<float>((float*)d + s, e - s),
                new ReadOnlySpan<float>((float*)ip + s, e - s), new ReadOnlySpan<float>((float*)o + s, e - s)));
        }
    }

    private static void BackwardRange(Span<float> dinp, ReadOnlySpan<float> inp, ReadOnlySpan<float> dout)
    {
        var i = 0;
        ref var ri = ref MemoryMarshal.GetReference(inp);
        ref var rd = ref MemoryMarshal.GetReference(dout);
        ref var rg = ref MemoryMarshal.GetReference(dinp);
        for (; i + 8 <= inp.Length; i += 8)
            (Derivative(Vector256.LoadUnsafe(ref ri, (nuint)i)) * Vector256.LoadUnsafe(ref rd, (nuint)i)).StoreUnsafe(ref rg, (nuint)i);
        for (; i < inp.Length; i++)
        {
            var x = inp[i];
            var th = Tanh(ScalingFactor * (x + Cubic * x * x * x));
            var sech2 = 1f - th * th;
            var local = 0.5f * (1f + th) + x * 0.5f * sech2 * ScalingFactor * (1f + 3f * Cubic * x * x);
            dinp[i] = local * dout[i];
        }
    }
}
