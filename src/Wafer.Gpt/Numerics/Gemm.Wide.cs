// The 512-bit micro-kernel: two neighbouring 16-column panels at once, one Vector512 per panel row, 6 x 32 outputs in
// 12 zmm accumulators. Used where the CPU has AVX-512 (on a CPU whose FP pipes are 512 bits wide, such as
// Zen 5, a zmm FMA does twice a ymm FMA's work at the same rate). The panels keep their 16-column
// packing, so nothing else in Gemm changes, and each output is the same FMA chain over k in the same order as in the
// 256-bit kernel: the results are bit-identical whichever kernel runs.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Wafer.Gpt.Numerics;

public static unsafe partial class Gemm
{
    /// <summary>Whether whole panel pairs go through the 512-bit kernel: where the CPU has AVX-512 and the runtime treats
    /// 512-bit vectors as fast (it does not on CPUs that slow their clock for them, nor under
    /// DOTNET_PreferredVectorBitWidth=256). A fact of the machine, fixed for the process; tests pick the kernel per call
    /// (the internal overloads' `wide`) to compare the two.</summary>
    internal static readonly bool Wide = Avx512F.IsSupported && Vector512.IsHardwareAccelerated;

    /// <summary>Whether this CPU can run the 512-bit kernel at all (tests that compare the two kernels skip where not).</summary>
    internal static bool WideRuns => Avx512F.IsSupported;

    /// <summary>KernelColumn over two panels: panel p at packed, panel p + 1 at packed + panelStride; C and the operand
    /// 32 columns wide. The next block's prefetch is issued twice a tile (once per panel, as the 16-wide driver does).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static void KernelColumnWide(float* a, nint aRow, nint aStep, nint aTileStep, float* packed, nint panelStride, int kc,
        float* c, int ldc, bool add, float* bias, int tiles, float* op, bool addOperand, ref NextBlock ahead)
    {
        var down = (nint)Mr * ldc;
        for (var t = 0; t < tiles; t++, a += aTileStep, c += down)
        {
            ahead.Issue();
            ahead.Issue();
            if (op != null) { PrefetchRows(op, ldc, Mr); PrefetchRows(op + Nr, ldc, Mr); }
            TileWide(a, aRow, aStep, packed, panelStride, kc, c, ldc, add, bias);
            if (op == null) continue;
            CombineTile(c, op, ldc, Mr, Nr, addOperand);
            CombineTile(c + Nr, op + Nr, ldc, Mr, Nr, addOperand);
            op += down;
        }
    }

    /// <summary>C[6 x 32] (+)= A (6 x kc) times the two panels, then + bias (32 values) when given.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    internal static void Kernel6x32(float* a, nint aRow, nint aStep, float* packed, nint panelStride, int kc, float* c, int ldc, bool add, float* bias) =>
        TileWide(a, aRow, aStep, packed, panelStride, kc, c, ldc, add, bias);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void TileWide(float* a, nint aRow, nint aStep, float* packed, nint panelStride, int kc, float* c, int ldc, bool add, float* bias)
    {
        nint r1 = aRow, r2 = 2 * aRow, r3 = 3 * aRow, r4 = 4 * aRow, r5 = 5 * aRow, d = panelStride;
        PrefetchRows(c, ldc, Mr);
        PrefetchRows(c + Nr, ldc, Mr);
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector512<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        var end = packed + kc * Nr;
        var end4 = packed + (kc & ~3) * Nr;
        for (; packed < end4; packed += 4 * Nr, a += 4 * aStep)
        {
            StepWide(a, r1, r2, r3, r4, r5, packed, d, ref c00, ref c01, ref c10, ref c11, ref c20, ref c21, ref c30, ref c31, ref c40, ref c41, ref c50, ref c51);
            StepWide(a + aStep, r1, r2, r3, r4, r5, packed + Nr, d, ref c00, ref c01, ref c10, ref c11, ref c20, ref c21, ref c30, ref c31, ref c40, ref c41, ref c50, ref c51);
            StepWide(a + 2 * aStep, r1, r2, r3, r4, r5, packed + 2 * Nr, d, ref c00, ref c01, ref c10, ref c11, ref c20, ref c21, ref c30, ref c31, ref c40, ref c41, ref c50, ref c51);
            StepWide(a + 3 * aStep, r1, r2, r3, r4, r5, packed + 3 * Nr, d, ref c00, ref c01, ref c10, ref c11, ref c20, ref c21, ref c30, ref c31, ref c40, ref c41, ref c50, ref c51);
        }
        for (; packed < end; packed += Nr, a += aStep)
            StepWide(a, r1, r2, r3, r4, r5, packed, d, ref c00, ref c01, ref c10, ref c11, ref c20, ref c21, ref c30, ref c31, ref c40, ref c41, ref c50, ref c51);
        if (bias != null)
        {
            var blo = Vector512.Load(bias);
            var bhi = Vector512.Load(bias + Nr);
            c00 += blo; c01 += bhi; c10 += blo; c11 += bhi; c20 += blo; c21 += bhi;
            c30 += blo; c31 += bhi; c40 += blo; c41 += bhi; c50 += blo; c51 += bhi;
        }
        PutWide(c, c00, c01, add); PutWide(c + ldc, c10, c11, add); PutWide(c + 2L * ldc, c20, c21, add);
        PutWide(c + 3L * ldc, c30, c31, add); PutWide(c + 4L * ldc, c40, c41, add); PutWide(c + 5L * ldc, c50, c51, add);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StepWide(float* a, nint r1, nint r2, nint r3, nint r4, nint r5, float* packed, nint d,
        ref Vector512<float> c00, ref Vector512<float> c01, ref Vector512<float> c10, ref Vector512<float> c11,
        ref Vector512<float> c20, ref Vector512<float> c21, ref Vector512<float> c30, ref Vector512<float> c31,
        ref Vector512<float> c40, ref Vector512<float> c41, ref Vector512<float> c50, ref Vector512<float> c51)
    {
        var b0 = Vector512.Load(packed);
        var b1 = Vector512.Load(packed + d);
        var x = Vector512.Create(a[0]); c00 = Avx512F.FusedMultiplyAdd(x, b0, c00); c01 = Avx512F.FusedMultiplyAdd(x, b1, c01);
        x = Vector512.Create(a[r1]); c10 = Avx512F.FusedMultiplyAdd(x, b0, c10); c11 = Avx512F.FusedMultiplyAdd(x, b1, c11);
        x = Vector512.Create(a[r2]); c20 = Avx512F.FusedMultiplyAdd(x, b0, c20); c21 = Avx512F.FusedMultiplyAdd(x, b1, c21);
        x = Vector512.Create(a[r3]); c30 = Avx512F.FusedMultiplyAdd(x, b0, c30); c31 = Avx512F.FusedMultiplyAdd(x, b1, c31);
        x = Vector512.Create(a[r4]); c40 = Avx512F.FusedMultiplyAdd(x, b0, c40); c41 = Avx512F.FusedMultiplyAdd(x, b1, c41);
        x = Vector512.Create(a[r5]); c50 = Avx512F.FusedMultiplyAdd(x, b0, c50); c51 = Avx512F.FusedMultiplyAdd(x, b1, c51);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PutWide(float* dst, Vector512<float> lo, Vector512<float> hi, bool add)
    {
        if (add) { lo += Vector512.Load(dst); hi += Vector512.Load(dst + Nr); }
        lo.Store(dst);
        hi.Store(dst + Nr);
    }
}
