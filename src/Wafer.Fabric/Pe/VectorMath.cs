// Element arithmetic of the DSD ops: fp32 with fused multiply-add, fp16 computed exactly in double and rounded once,
// and the SIMD width each op gets (wse2.md §2.2 [confirmed: SDK-APX]).
using System.Runtime.CompilerServices;
using Wafer.Fabric.Config;

namespace Wafer.Fabric.Pe;

internal static class VectorMath
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Apply(VecKind kind, ElemType type, float a, float b, float s)
    {
        if (type == ElemType.F32)
        {
            return kind switch
            {
                VecKind.Mov or VecKind.H2S => a,
                VecKind.Add => a + b,
                VecKind.Sub => a - b,
                VecKind.Mul => a * b,
                VecKind.Fmac => MathF.FusedMultiplyAdd(b, s, a),
                VecKind.Max => MathF.Max(a, b),
                VecKind.Neg => -a,
                _ => (float)(Half)a, // S2H handled by the writer; value kept as fp32 here
            };
        }
        // fp16: operands (immediates too) are fp16 values; the exact result in double, rounded once to fp16.
        a = (float)(Half)a;
        b = (float)(Half)b;
        s = (float)(Half)s;
        double r = kind switch
        {
            VecKind.Mov => a,
            VecKind.Add => (double)a + b,
            VecKind.Sub => (double)a - b,
            VecKind.Mul => (double)a * b,
            VecKind.Fmac => (double)a + (double)b * s,
            VecKind.Max => Math.Max(a, b),
            VecKind.Neg => -(double)a,
            _ => a,
        };
        return (float)(Half)r;
    }

    /// <summary>Flops per element: 2 for a multiply-add, 1 for add/sub/mul/max, 0 for moves and conversions.</summary>
    public static int FlopsPerElement(VecKind kind) => kind switch
    {
        VecKind.Fmac => 2,
        VecKind.Add or VecKind.Sub or VecKind.Mul or VecKind.Max => 1,
        _ => 0,
    };

    /// <summary>Elements per cycle of an op on memory operands (before stride caps).</summary>
    public static int SimdWidth(WaferConfig cfg, VecKind kind, ElemType type) => (kind, type) switch
    {
        (VecKind.Max or VecKind.H2S or VecKind.S2H, _) => cfg.SimdWidthConvert,
        (_, ElemType.F16) => cfg.SimdWidthFp16,
        (VecKind.Mul or VecKind.Fmac, ElemType.F32) => cfg.SimdWidthFp32Mul,
        _ => cfg.SimdWidthFp32Add,
    };
}
