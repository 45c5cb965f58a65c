// The gradient sum of a step that has more than one contribution, kept exactly: each fp32 gradient is turned into a
// 128-bit fixed-point integer (value x 2^80) and integers add associatively, so the sum is the same bits whatever the
// order and grouping of its terms: one system adding its micro-batches in turn, or SwarmX's tree adding N systems'
// partial sums in any shape (docs/swarmx.md). The step's sum is rounded to fp32 once, when its last term arrives.
//
// Range: an fp32 value of magnitude at least 2^-57 converts exactly (its last mantissa bit is >= 2^-80); smaller ones
// lose the bits below 2^-80 (~8e-25: far under AdamW's epsilon, so no update changes by them). A term of magnitude
// 2^32 or more, or not finite, marks the sum not finite (the trainer then stops on a non-finite gradient norm), which
// also keeps a sum of up to MaxTerms terms inside the 128 bits.
using System.Runtime.CompilerServices;

namespace Wafer.Gpt.MemoryX;

public static class ExactSum
{
    /// <summary>Fraction bits of the fixed point.</summary>
    public const int FractionBits = 80;
    /// <summary>Terms one sum may take without overflow: each below 2^(32+80) = 2^112, their sum below 2^127.</summary>
    public const int MaxTerms = 1 << 15;

    private const double Scale = 1208925819614629174706176.0;   // 2^80
    private const double Unscale = 1.0 / Scale;                 // 2^-80, exact
    private const double Limit = 5192296858534827628530496329220096.0; // 2^112

    /// <summary>The marker of a sum that took a term out of range or not finite (Int128.MinValue is never a real sum:
    /// MaxTerms terms stay above -2^127).</summary>
    public static readonly Int128 NotFinite = Int128.MinValue;

    /// <summary>x as fixed point (truncated below 2^-80), or NotFinite.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Int128 ToFixed(float x)
    {
        var d = x * Scale; // exact: a power-of-two scale of an fp32 value fits a double
        if (Math.Abs(d) < 9.2e18) return (long)d; // the common case: one conversion instruction
        return d is > -Limit and < Limit ? (Int128)d : NotFinite;
    }

    /// <summary>The fp32 nearest (through double) to a fixed-point sum; NaN for NotFinite.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ToFloat(Int128 sum) => sum == NotFinite ? float.NaN : (float)((double)sum * Unscale);

    /// <summary>a + b, keeping NotFinite.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Int128 Add(Int128 a, Int128 b) => a == NotFinite || b == NotFinite ? NotFinite : a + b;

    /// <summary>acc = fixed(x) (first) or acc += fixed(x), elementwise.</summary>
    public static void Accumulate(Span<Int128> acc, ReadOnlySpan<float> x, bool first)
    {
        if (x.Length != acc.Length) throw new ArgumentException($"ExactSum: {x.Length} values into {acc.Length} sums");
        if (first) for (var i = 0; i < acc.Length; i++) acc[i] = ToFixed(x[i]);
        else for (var i = 0; i < acc.Length; i++) acc[i] = Add(acc[i], ToFixed(x[i]));
    }

    /// <summary>acc = x (first) or acc += x, elementwise, for partial sums already in fixed point.</summary>
    public static void Accumulate(Span<Int128> acc, ReadOnlySpan<Int128> x, bool first)
    {
        if (x.Length != acc.Length) throw new ArgumentException($"ExactSum: {x.Length} sums into {acc.Length} sums");
        if (first) x.CopyTo(acc);
        else for (var i = 0; i < acc.Length; i++) acc[i] = Add(acc[i], x[i]);
    }

    /// <summary>destination = the fp32 rounding of each sum.</summary>
    public static void Round(ReadOnlySpan<Int128> sums, Span<float> destination)
    {
        if (sums.Length != destination.Length) throw new ArgumentException($"ExactSum: {sums.Length} sums into {destination.Length} values");
        for (var i = 0; i < sums.Length; i++) destination[i] = ToFloat(sums[i]);
    }
}
