// Single-precision matrix multiply, ours (there is no BLAS in .NET): B packed into 16-column panels per K block,
// a 6 x 16 register-blocked micro-kernel on Vector256 + FMA, output column panels split over threads. Every output
// element is summed in the same order whatever the thread count, so results are bitwise reproducible.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Wafer.Gpt.Numerics;

public static unsafe class Gemm
{
    private const int Mr = 6;   // rows per micro-tile: 6 x 2 accumulators + 2 B vectors + 1 broadcast = 15 ymm registers
    private const int Nr = 16;  // columns per panel: two Vector256<float>
    private const int Kc = 256; // K block: a 16 x 256 fp32 panel is 16 KB, in L1 while a 6-row tile of A streams by

    /// <summary>Threads used for large products (results do not depend on it).</summary>
    public static int Threads { get; set; } = Environment.ProcessorCount;

    /// <summary>C[m, n] (+)= sum_k A[m, k] B[k, n]. A(m, k) = a[m * aRow + k * aCol]; B(k, n) = b[k * bRow + n * bCol];
    /// C is row-major with leading dimension ldc. With <paramref name="accumulate"/> false C is overwritten.</summary>
    public static void Multiply(int m, int n, int k, ReadOnlySpan<float> a, int aRow, int aCol, ReadOnlySpan<float> b, int bRow, int bCol,
        Span<float> c, int ldc, bool accumulate)
    {
        if (m <= 0 || n <= 0) return;
        CheckExtent(a.Length, m, k, aRow, aCol, "A");
        CheckExtent(b.Length, k, n, bRow, bCol, "B");
        if (c.Length < (long)(m - 1) * ldc + n || ldc < n) throw new ArgumentException($"C is too small for {m} x {n} with ldc {ldc}");
        if (k == 0)
        {
            if (!accumulate) for (var i = 0; i < m; i++) c.Slice(i * ldc, n).Clear();
            return;
        }
        var panels = (n + Nr - 1) / Nr;
        var flops = 2L * m * n * k;
        var parts = flops < 4_000_000 ? 1 : Math.Min(Threads, panels);
        fixed (float* pa = a)
        fixed (float* pb = b)
        fixed (float* pc = c)
        {
            var job = new Job(m, n, k, pa, aRow, aCol, pb, bRow, bCol, pc, ldc, accumulate, panels, parts);
            if (parts == 1) job.Run(0);
            else Parallel.For(0, parts, job.Run);
        }
    }

    private static void CheckExtent(int length, int rows, int cols, int rowStride, int colStride, string name)
    {
        if (rows == 0 || cols == 0) return;
        var last = (long)(rows - 1) * rowStride + (long)(cols - 1) * colStride;
        if (rowStride < 0 || colStride < 0 || last >= length) throw new ArgumentException($"{name} ({length} elements) is too small for {rows} x {cols} with strides {rowStride}, {colStride}");
    }

    private sealed class Job(int m, int n, int k, float* a, int aRow, int aCol, float* b, int bRow, int bCol, float* c, int ldc, bool accumulate, int panels, int parts)
    {
        /// <summary>Per-thread packing buffer, allocated once (no allocation per product).</summary>
        [ThreadStatic] private static float[]? t_packed;

        /// <summary>Panels packed together per K block: 16 panels x 256 x 16 floats = 256 KB, within L2.</summary>
        private const int PanelsPerBlock = 16;

        public void Run(int part)
        {
            int p0 = (int)((long)panels * part / parts), p1 = (int)((long)panels * (part + 1) / parts);
            var packed = t_packed ??= new float[PanelsPerBlock * Kc * Nr];
            var tile = stackalloc float[Mr * Nr];
            var rows = stackalloc float[Mr * Kc];
            fixed (float* pk = packed)
                for (var q0 = p0; q0 < p1; q0 += PanelsPerBlock)
                {
                    var q1 = Math.Min(p1, q0 + PanelsPerBlock);
                    for (var k0 = 0; k0 < k; k0 += Kc)
                    {
                        var kc = Math.Min(Kc, k - k0);
                        for (var p = q0; p < q1; p++) Pack(pk + (p - q0) * Kc * Nr, b, bRow, bCol, k0, kc, p * Nr, Math.Min(Nr, n - p * Nr));
                        var add = accumulate || k0 > 0;
                        for (var m0 = 0; m0 < m; m0 += Mr)
                        {
                            var mr = Math.Min(Mr, m - m0);
                            var aTile = a + (long)m0 * aRow + (long)k0 * aCol;
                            float* aRows = aTile;
                            var aStride = aRow;
                            if (mr == Mr && aCol != 1)
                            {
                                // A stored transposed (a weight gradient's doutᵀ): gather the 6 rows once for all panels.
                                for (var kk = 0; kk < kc; kk++)
                                {
                                    var src = aTile + (long)kk * aCol;
                                    for (var r = 0; r < Mr; r++) rows[r * kc + kk] = src[(long)r * aRow];
                                }
                                aRows = rows;
                                aStride = kc;
                            }
                            for (var p = q0; p < q1; p++)
                            {
                                var panel = pk + (p - q0) * Kc * Nr;
                                if (mr == Mr) Kernel6x16(aRows, aStride, panel, kc, tile);
                                else KernelGeneric(aTile, aRow, aCol, mr, panel, kc, tile);
                                Store(tile, c + (long)m0 * ldc + p * Nr, ldc, mr, Math.Min(Nr, n - p * Nr), add);
                            }
                        }
                    }
                }
        }
    }

    /// <summary>packed[kk * 16 + j] = B(k0 + kk, n0 + j), zero past column n.</summary>
    private static void Pack(float* packed, float* b, int bRow, int bCol, int k0, int kc, int n0, int nw)
    {
        for (var kk = 0; kk < kc; kk++)
        {
            var src = b + (long)(k0 + kk) * bRow + (long)n0 * bCol;
            var dst = packed + kk * Nr;
            if (bCol == 1 && nw == Nr)
            {
                Vector256.Store(Vector256.Load(src), dst);
                Vector256.Store(Vector256.Load(src + 8), dst + 8);
                continue;
            }
            for (var j = 0; j < nw; j++) dst[j] = src[(long)j * bCol];
            for (var j = nw; j < Nr; j++) dst[j] = 0f;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Fmadd(Vector256<float> x, Vector256<float> y, Vector256<float> acc) =>
        Fma.IsSupported ? Fma.MultiplyAdd(x, y, acc) : Vector256.FusedMultiplyAdd(x, y, acc);

    /// <summary>tile[6 x 16] = A[6 x kc] (unit column stride) times the packed panel.</summary>
    private static void Kernel6x16(float* a, int aRow, float* packed, int kc, float* tile)
    {
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector256<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        float* a0 = a, a1 = a + aRow, a2 = a + 2L * aRow, a3 = a + 3L * aRow, a4 = a + 4L * aRow, a5 = a + 5L * aRow;
        for (var kk = 0; kk < kc; kk++)
        {
            var b0 = Vector256.Load(packed + kk * Nr);
            var b1 = Vector256.Load(packed + kk * Nr + 8);
            var x = Vector256.Create(a0[kk]); c00 = Fmadd(x, b0, c00); c01 = Fmadd(x, b1, c01);
            x = Vector256.Create(a1[kk]); c10 = Fmadd(x, b0, c10); c11 = Fmadd(x, b1, c11);
            x = Vector256.Create(a2[kk]); c20 = Fmadd(x, b0, c20); c21 = Fmadd(x, b1, c21);
            x = Vector256.Create(a3[kk]); c30 = Fmadd(x, b0, c30); c31 = Fmadd(x, b1, c31);
            x = Vector256.Create(a4[kk]); c40 = Fmadd(x, b0, c40); c41 = Fmadd(x, b1, c41);
            x = Vector256.Create(a5[kk]); c50 = Fmadd(x, b0, c50); c51 = Fmadd(x, b1, c51);
        }
        c00.Store(tile); c01.Store(tile + 8); c10.Store(tile + 16); c11.Store(tile + 24);
        c20.Store(tile + 32); c21.Store(tile + 40); c30.Store(tile + 48); c31.Store(tile + 56);
        c40.Store(tile + 64); c41.Store(tile + 72); c50.Store(tile + 80); c51.Store(tile + 88);
    }

    /// <summary>Edge rows (fewer than 6) or a strided A (transposed operand): same sums, same order, per row.</summary>
    private static void KernelGeneric(float* a, int aRow, int aCol, int mr, float* packed, int kc, float* tile)
    {
        for (var r = 0; r < mr; r++)
        {
            Vector256<float> lo = default, hi = default;
            var ar = a + (long)r * aRow;
            for (var kk = 0; kk < kc; kk++)
            {
                var x = Vector256.Create(ar[(long)kk * aCol]);
                lo = Fmadd(x, Vector256.Load(packed + kk * Nr), lo);
                hi = Fmadd(x, Vector256.Load(packed + kk * Nr + 8), hi);
            }
            lo.Store(tile + r * Nr);
            hi.Store(tile + r * Nr + 8);
        }
    }

    private static void Store(float* tile, float* c, int ldc, int mr, int nw, bool add)
    {
        for (var r = 0; r < mr; r++)
        {
            var dst = c + (long)r * ldc;
            var src = tile + r * Nr;
            if (nw == Nr)
            {
                var lo = Vector256.Load(src);
                var hi = Vector256.Load(src + 8);
                if (add) { lo += Vector256.Load(dst); hi += Vector256.Load(dst + 8); }
                lo.Store(dst);
                hi.Store(dst + 8);
                continue;
            }
            for (var j = 0; j < nw; j++) dst[j] = add ? dst[j] + src[j] : src[j];
        }
    }
}
