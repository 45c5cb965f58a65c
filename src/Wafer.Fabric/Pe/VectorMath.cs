// Element arithmetic of the DSD ops: fp32 with fused multiply-add, fp16 computed exactly in double and rounded once,
// and the SIMD width each op gets (docs/sources.md §2.2 [confirmed: SDK-APX]).
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
        if (type == ElemType.Mixed)
        {
            // @fmachs / @faddhs: fp16 multiplicands, the product exact in double, added to the fp32 source and rounded
            // once to fp32 (fp16 multiply, fp32 accumulate).
            double bm = (float)(Half)b, sm = (float)(Half)s;
            return kind switch
            {
                VecKind.Fmac => (float)(a + bm * sm),
                VecKind.Add => (float)(a + bm),
                _ => throw new InvalidOperationException($"no mixed-precision {kind}"),
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

    /// <summary>Bytes of a source element: fp16 for fp16 ops, conversions from fp16 and a mixed op's second source.</summary>
    public static int SourceBytes(VecKind kind, ElemType type, bool second) =>
        type == ElemType.Mixed ? (second ? 2 : 4) : type == ElemType.F16 || kind == VecKind.H2S ? 2 : 4;

    /// <summary>Bytes of a destination element.</summary>
    public static int DestinationBytes(VecKind kind, ElemType type) => type == ElemType.F16 || kind == VecKind.S2H ? 2 : 4;

    /// <summary>Elements per cycle of an op on memory operands (before stride caps).</summary>
    public static int SimdWidth(WaferConfig cfg, VecKind kind, ElemType type) => (kind, type) switch
    {
        (VecKind.Max or VecKind.H2S or VecKind.S2H, _) => cfg.SimdWidthConvert,
        (_, ElemType.F16) => cfg.SimdWidthFp16,
        (_, ElemType.Mixed) => cfg.SimdWidthFp32Add, // @fmachs, @faddhs: the fp32-add width (SDK-APX table)
        (VecKind.Mul or VecKind.Fmac, ElemType.F32) => cfg.SimdWidthFp32Mul,
        _ => cfg.SimdWidthFp32Add,
    };
}
