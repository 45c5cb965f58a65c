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
    private const int Mc = 96;  // rows of A per block: 96 x 256 fp32 = 96 KB, stays in L2 across the panels

    /// <summary>Threads used for large products (results do not depend on it).</summary>
    public static int Threads { get; set; } = Environment.ProcessorCount;

    /// <summary>C[m, n] (+)= sum_k A[m, k] B[k, n]. A(m, k) = a[m * aRow + k * aCol]; B(k, n) = b[k * bRow + n * bCol];
    /// C is row-major with leading dimension ldc. With <paramref name="accumulate"/> false C is overwritten.</summary>
    public static void Multiply(int m, int n, int k, ReadOnlySpan<float> a, int aRow, int aCol, ReadOnlySpan<float> b, int bRow, int bCol,
        Span<float> c, int ldc, bool accumulate) => Multiply(m, n, k, a, aRow, aCol, b, bRow, bCol, c, ldc, accumulate, Threads);

    /// <summary>As above on at most `threads` threads (1 inside work that is already parallel).</summary>
    public static void Multiply(int m, int n, int k, ReadOnlySpan<float> a, int aRow, int aCol, ReadOnlySpan<float> b, int bRow, int bCol,
        Span<float> c, int ldc, bool accumulate, int threads)
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
        var parallel = flops >= 4_000_000 && threads > 1;
        // Plain A with many rows (a forward or input-gradient product over tokens) and a B small enough to pack once per
        // thread (<= 2 MB): one block of rows per thread, so a thread's output rows are the rows it reads in the next
        // product (they stay in its core's caches). Otherwise two panel ranges per thread, claimed dynamically, and
        // every panel packed once.
        var rowParts = parallel && aCol == 1 && m >= threads * Mc && (long)k * n <= 512 * 1024 ? threads : 1;
        var parts = !parallel ? 1 : rowParts > 1 ? rowParts : Math.Min(2 * threads, panels);
        fixed (float* pa = a)
        fixed (float* pb = b)
        fixed (float* pc = c)
        {
            var job = new Job(m, n, k, pa, aRow, aCol, pb, bRow, bCol, pc, ldc, accumulate, panels, parts, rowParts > 1);
            if (parts == 1) job.Run(0);
            else WorkerPool.Run(parts, threads, job.Run);
        }
    }

    private static void CheckExtent(int length, int rows, int cols, int rowStride, int colStride, string name)
    {
        if (rows == 0 || cols == 0) return;
        var last = (long)(rows - 1) * rowStride + (long)(cols - 1) * colStride;
        if (rowStride < 0 || colStride < 0 || last >= length) throw new ArgumentException($"{name} ({length} elements) is too small for {rows} x {cols} with strides {rowStride}, {colStride}");
    }

    private sealed class Job(int m, int n, int k, float* a, int aRow, int aCol, float* b, int bRow, int bCol, float* c, int ldc, bool accumulate, int panels, int parts, bool splitRows)
    {
        private void Tile(int m0, int p, int k0, int kc, float* panel, float* tile, bool add)
        {
            var mr = Math.Min(Mr, m - m0);
            var aTile = a + (long)m0 * aRow + (long)k0 * aCol;
            var nw = Math.Min(Nr, n - p * Nr);
            var cTile = c + (long)m0 * ldc + p * Nr;
            if (mr == Mr && nw == Nr)
            {
                Kernel6x16(aTile, aRow, aCol, panel, kc, cTile, ldc, add);
                return;
            }
            KernelGeneric(aTile, aRow, aCol, mr, panel, kc, tile);
            Store(tile, cTile, ldc, mr, nw, add);
        }

        /// <summary>Per-thread packing buffer, allocated once (no allocation per product).</summary>
        [ThreadStatic] private static float[]? t_packed;

        /// <summary>Panels packed together per K block: 16 panels x 256 x 16 floats = 256 KB, within L2.</summary>
        private const int PanelsPerBlock = 16;

        public void Run(int part)
        {
            int p0 = 0, p1 = panels, r0 = 0, r1 = m;
            if (splitRows)
            {
                var tiles = (m + Mr - 1) / Mr;
                r0 = (int)((long)tiles * part / parts) * Mr;
                r1 = Math.Min(m, (int)((long)tiles * (part + 1) / parts) * Mr);
            }
            else
            {
                p0 = (int)((long)panels * part / parts);
                p1 = (int)((long)panels * (part + 1) / parts);
            }
            var packed = t_packed ??= new float[PanelsPerBlock * Kc * Nr];
            var tile = stackalloc float[Mr * Nr];
            fixed (float* pk = packed)
                for (var q0 = p0; q0 < p1; q0 += PanelsPerBlock)
                {
                    var q1 = Math.Min(p1, q0 + PanelsPerBlock);
                    for (var k0 = 0; k0 < k; k0 += Kc)
                    {
                        var kc = Math.Min(Kc, k - k0);
                        for (var p = q0; p < q1; p++) Pack(pk + (p - q0) * Kc * Nr, b, bRow, bCol, k0, kc, p * Nr, Math.Min(Nr, n - p * Nr));
                        var add = accumulate || k0 > 0;
                        if (aCol == 1)
                        {
                            // BLIS order: one packed B panel stays in L1 while the row tiles of a block of A (sized
                            // for L2 with the packed panels) stream past it.
                            for (var mb = r0; mb < r1; mb += Mc)
                                for (var p = q0; p < q1; p++)
                                    for (var m0 = mb; m0 < Math.Min(r1, mb + Mc); m0 += Mr)
                                        Tile(m0, p, k0, kc, pk + (p - q0) * Kc * Nr, tile, add);
                        }
                        else
                        {
                            // A transposed (a weight gradient's dout^T): each A tile touches kc cache lines, so keep it
                            // in L1 across the panels of the block instead.
                            for (var m0 = r0; m0 < r1; m0 += Mr)
                                for (var p = q0; p < q1; p++)
                                    Tile(m0, p, k0, kc, pk + (p - q0) * Kc * Nr, tile, add);
                        }
                    }
                }
        }
    }

    /// <summary>packed[kk * 16 + j] = B(k0 + kk, n0 + j), zero past column n.</summary>
    private static void Pack(float* packed, float* b, int bRow, int bCol, int k0, int kc, int n0, int nw)
    {
        var kk = 0;
        if (bRow == 1 && nw == Nr && Avx.IsSupported)
        {
            // B transposed in memory (a forward product's weight): each column is contiguous in k; 8 x 8 transposes.
            for (; kk + 8 <= kc; kk += 8)
                for (var half = 0; half < 2; half++)
                {
                    var src = b + (long)(n0 + 8 * half) * bCol + k0 + kk;
                    Transpose8x8(src, bCol, packed + kk * Nr + 8 * half, Nr);
                }
        }
        for (; kk < kc; kk++)
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

    /// <summary>dst[i * ldd + j] = src[j * lds + i] for an 8 x 8 block (unpack, shuffle, lane permute).</summary>
    private static void Transpose8x8(float* src, int lds, float* dst, int ldd)
    {
        var r0 = Avx.LoadVector256(src); var r1 = Avx.LoadVector256(src + lds);
        var r2 = Avx.LoadVector256(src + 2L * lds); var r3 = Avx.LoadVector256(src + 3L * lds);
        var r4 = Avx.LoadVector256(src + 4L * lds); var r5 = Avx.LoadVector256(src + 5L * lds);
        var r6 = Avx.LoadVector256(src + 6L * lds); var r7 = Avx.LoadVector256(src + 7L * lds);
        var t0 = Avx.UnpackLow(r0, r1); var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3); var t3 = Avx.UnpackHigh(r2, r3);
        var t4 = Avx.UnpackLow(r4, r5); var t5 = Avx.UnpackHigh(r4, r5);
        var t6 = Avx.UnpackLow(r6, r7); var t7 = Avx.UnpackHigh(r6, r7);
        var u0 = Avx.Shuffle(t0, t2, 0x44); var u1 = Avx.Shuffle(t0, t2, 0xEE);
        var u2 = Avx.Shuffle(t1, t3, 0x44); var u3 = Avx.Shuffle(t1, t3, 0xEE);
        var u4 = Avx.Shuffle(t4, t6, 0x44); var u5 = Avx.Shuffle(t4, t6, 0xEE);
        var u6 = Avx.Shuffle(t5, t7, 0x44); var u7 = Avx.Shuffle(t5, t7, 0xEE);
        Avx.Store(dst, Avx.Permute2x128(u0, u4, 0x20));
        Avx.Store(dst + ldd, Avx.Permute2x128(u1, u5, 0x20));
        Avx.Store(dst + 2L * ldd, Avx.Permute2x128(u2, u6, 0x20));
        Avx.Store(dst + 3L * ldd, Avx.Permute2x128(u3, u7, 0x20));
        Avx.Store(dst + 4L * ldd, Avx.Permute2x128(u0, u4, 0x31));
        Avx.Store(dst + 5L * ldd, Avx.Permute2x128(u1, u5, 0x31));
        Avx.Store(dst + 6L * ldd, Avx.Permute2x128(u2, u6, 0x31));
        Avx.Store(dst + 7L * ldd, Avx.Permute2x128(u3, u7, 0x31));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Fmadd(Vector256<float> x, Vector256<float> y, Vector256<float> acc) =>
        Fma.IsSupported ? Fma.MultiplyAdd(x, y, acc) : Vector256.FusedMultiplyAdd(x, y, acc);

    /// <summary>tile[6 x 16] = A[6 x kc] times the packed panel; A(r, kk) = a[r * aRow + kk * aCol], so a transposed A
    /// (a weight gradient's dout^T, aRow = 1) is read in place, six neighbouring floats per step.</summary>
    private static void Kernel6x16(float* a, int aRow, int aCol, float* packed, int kc, float* c, int ldc, bool add)
    {
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector256<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        nint r1 = aRow, r2 = 2 * (nint)aRow, r3 = 3 * (nint)aRow, r4 = 4 * (nint)aRow, r5 = 5 * (nint)aRow, step = aCol;
        var end = packed + kc * Nr;
        for (; packed < end; packed += Nr, a += step)
        {
            var b0 = Vector256.Load(packed);
            var b1 = Vector256.Load(packed + 8);
            var x = Vector256.Create(a[0]); c00 = Fmadd(x, b0, c00); c01 = Fmadd(x, b1, c01);
            x = Vector256.Create(a[r1]); c10 = Fmadd(x, b0, c10); c11 = Fmadd(x, b1, c11);
            x = Vector256.Create(a[r2]); c20 = Fmadd(x, b0, c20); c21 = Fmadd(x, b1, c21);
            x = Vector256.Create(a[r3]); c30 = Fmadd(x, b0, c30); c31 = Fmadd(x, b1, c31);
            x = Vector256.Create(a[r4]); c40 = Fmadd(x, b0, c40); c41 = Fmadd(x, b1, c41);
            x = Vector256.Create(a[r5]); c50 = Fmadd(x, b0, c50); c51 = Fmadd(x, b1, c51);
        }
        // Straight into C (the sum of this K block added to what C holds when accumulating): same sums as via a tile.
        Put(c, c00, c01, add); Put(c + ldc, c10, c11, add); Put(c + 2L * ldc, c20, c21, add);
        Put(c + 3L * ldc, c30, c31, add); Put(c + 4L * ldc, c40, c41, add); Put(c + 5L * ldc, c50, c51, add);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Put(float* dst, Vector256<float> lo, Vector256<float> hi, bool add)
    {
        if (add) { lo += Vector256.Load(dst); hi += Vector256.Load(dst + 8); }
        lo.Store(dst);
        hi.Store(dst + 8);
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
