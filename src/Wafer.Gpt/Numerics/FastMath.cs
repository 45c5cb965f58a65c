// Vectorised single-precision exp (the softmaxes) and tanh (GELU).
// exp: Cephes' expf (range reduction by ln 2 split in two parts, a degree-5 polynomial, 2^n put into the exponent bits),
// within 3 ulp of exp over its range. Ours rather than the BCL's Vector256.Exp for two reasons: the results then do not
// change with the runtime's version (training runs are meant to reproduce bit for bit), and it was no slower (BENCHMARKS.md,
// Training).
// tanh: Eigen's ptanh_float, a [13/6] rational function of x on [-7.9053, 7.9053] (beyond that tanh rounds to +-1 in
// float): 11 FMAs and one division against exp's 10 operations plus a division, and no cancellation near 0 (which
// 1 - 2 / (1 + e^2x) has); FastMathTests bound its error against Math.Tanh.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Wafer.Gpt.Numerics;

internal static class FastMath
{
    private const float Log2E = 1.44269504088896341f;
    private const float Ln2Hi = 0.693359375f;      // Cephes' C1: ln 2's leading bits (exact in float)
    private const float Ln2Lo = -2.12194440e-4f;   // Cephes' C2: ln 2 - C1
    private const float MaxArgument = 88f;         // 2^127 is the largest power the exponent field holds; e^88 < 2^127
    private const float MinArgument = -87.33654f;  // ln of the smallest normal float; below it the result is 0

    private const float TanhClamp = 7.90531110763549805f;
    // The [13/6] rational function's coefficients, highest power first: numerator p (odd, times x) and denominator q
    // (even), both in x^2.
    private const float P6 = -2.76076847742355e-16f, P5 = 2.00018790482477e-13f, P4 = -8.60467152213735e-11f,
        P3 = 5.12229709037114e-08f, P2 = 1.48572235717979e-05f, P1 = 6.37261928875436e-04f, P0 = 4.89352455891786e-03f;
    private const float Q3 = 1.19825839466702e-06f, Q2 = 1.18534705686654e-04f, Q1 = 2.26843463243900e-03f,
        Q0 = 4.89352518554385e-03f;

    /// <summary>tanh(x) per lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Tanh(Vector256<float> x)
    {
        x = Vector256.Min(Vector256.Max(x, Vector256.Create(-TanhClamp)), Vector256.Create(TanhClamp));
        var x2 = x * x;
        var p = Step(Vector256.Create(P6), x2, P5);
        p = Step(p, x2, P4);
        p = Step(p, x2, P3);
        p = Step(p, x2, P2);
        p = Step(p, x2, P1);
        p = Step(p, x2, P0);
        var q = Step(Vector256.Create(Q3), x2, Q2);
        q = Step(q, x2, Q1);
        q = Step(q, x2, Q0);
        return p * x / q;
    }

    /// <summary>Tanh of two vectors at once, each lane bit for bit what Tanh gives: the same operations, written
    /// statement by statement alternating between the two so that the JIT, which emits them in source order, puts two
    /// independent dependency chains side by side. One vector's ~50-cycle chain at a time kept the out-of-order window
    /// from overlapping enough of the next (BENCHMARKS.md has the timings).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Tanh2(ref Vector256<float> a, ref Vector256<float> b)
    {
        a = Vector256.Min(Vector256.Max(a, Vector256.Create(-TanhClamp)), Vector256.Create(TanhClamp));
        b = Vector256.Min(Vector256.Max(b, Vector256.Create(-TanhClamp)), Vector256.Create(TanhClamp));
        var a2 = a * a;
        var b2 = b * b;
        var pa = Vector256.Create(P6);
        var pb = pa;
        var qa = Vector256.Create(Q3);
        var qb = qa;
        pa = Step(pa, a2, P5); pb = Step(pb, b2, P5);
        qa = Step(qa, a2, Q2); qb = Step(qb, b2, Q2);
        pa = Step(pa, a2, P4); pb = Step(pb, b2, P4);
        qa = Step(qa, a2, Q1); qb = Step(qb, b2, Q1);
        pa = Step(pa, a2, P3); pb = Step(pb, b2, P3);
        qa = Step(qa, a2, Q0); qb = Step(qb, b2, Q0);
        pa = Step(pa, a2, P2); pb = Step(pb, b2, P2);
        pa = Step(pa, a2, P1); pb = Step(pb, b2, P1);
        pa = Step(pa, a2, P0); pb = Step(pb, b2, P0);
        a = pa * a / qa;
        b = pb * b / qb;
    }

    /// <summary>Tanh2 on 512-bit vectors: the same operations per lane, so each lane is bit for bit what Tanh gives.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Tanh2(ref Vector512<float> a, ref Vector512<float> b)
    {
        a = Vector512.Min(Vector512.Max(a, Vector512.Create(-TanhClamp)), Vector512.Create(TanhClamp));
        b = Vector512.Min(Vector512.Max(b, Vector512.Create(-TanhClamp)), Vector512.Create(TanhClamp));
        var a2 = a * a;
        var b2 = b * b;
        var pa = Vector512.Create(P6);
        var pb = pa;
        var qa = Vector512.Create(Q3);
        var qb = qa;
        pa = Step(pa, a2, P5); pb = Step(pb, b2, P5);
        qa = Step(qa, a2, Q2); qb = Step(qb, b2, Q2);
        pa = Step(pa, a2, P4); pb = Step(pb, b2, P4);
        qa = Step(qa, a2, Q1); qb = Step(qb, b2, Q1);
        pa = Step(pa, a2, P3); pb = Step(pb, b2, P3);
        qa = Step(qa, a2, Q0); qb = Step(qb, b2, Q0);
        pa = Step(pa, a2, P2); pb = Step(pb, b2, P2);
        pa = Step(pa, a2, P1); pb = Step(pb, b2, P1);
        pa = Step(pa, a2, P0); pb = Step(pb, b2, P0);
        a = pa * a / qa;
        b = pb * b / qb;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Step(Vector512<float> p, Vector512<float> x2, float k) =>
        Vector512.FusedMultiplyAdd(p, x2, Vector512.Create(k));

    /// <summary>One Horner step: p x2 + k.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Step(Vector256<float> p, Vector256<float> x2, float k) =>
        Vector256.FusedMultiplyAdd(p, x2, Vector256.Create(k));

    /// <summary>tanh(x), the same function as the vector one (lane 0 of it), for the tails of vector loops.</summary>
    public static float Tanh(float x) => Tanh(Vector256.Create(x)).ToScalar();

    /// <summary>e^x per lane: 0 below -87.3 (where float would be subnormal), e^88 at most above 88.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Exp(Vector256<float> x)
    {
        var underflow = Vector256.LessThan(x, Vector256.Create(MinArgument));
        var xc = Vector256.Min(Vector256.Max(x, Vector256.Create(MinArgument)), Vector256.Create(MaxArgument));
        var n = Vector256.Round(xc * Vector256.Create(Log2E));
        var r = Vector256.FusedMultiplyAdd(n, Vector256.Create(-Ln2Hi), xc);
        r = Vector256.FusedMultiplyAdd(n, Vector256.Create(-Ln2Lo), r);
        var p = Vector256.Create(1.9875691500e-4f);
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(1.3981999507e-3f));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(8.3334519073e-3f));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(4.1665795894e-2f));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(1.6666665459e-1f));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(5.0000001201e-1f));
        var e = Vector256.FusedMultiplyAdd(p, r * r, r) + Vector256<float>.One;
        var pow2 = Vector256.ShiftLeft(Vector256.ConvertToInt32(n) + Vector256.Create(127), 23).AsSingle();
        return Vector256.AndNot(e * pow2, underflow.AsSingle());
    }
}
