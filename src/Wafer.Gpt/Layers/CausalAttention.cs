// Causal multi-head self-attention on a fused qkv tensor, forward and backward (llm.c's attention_forward/backward),
// one kernel per (batch, head). The operands the 6 x 16 micro-kernel reads as 16-wide panels (k, v; k, q, dout) are
// copied once into zero-padded buffers laid out for it; the row operands (q; dout) are read in place and whole output
// tiles written in place (copying them in and out showed in a nano step's profile). All six products (scores,
// att·V; dout·Vᵀ, dS·K, dSᵀ·Q, attᵀ·dout) call that kernel directly, skipping the key panels above the diagonal.
// Calling Gemm.Multiply per product instead (about 20 calls per head, each packing its operands) spent most of the
// time packing at nano's size (T 64, HS 32).
// Shapes: inp (B, T, 3C) holding q, k, v; out (B, T, C); HS = C / NH; att (B, NH, Tr, Tw): each head's softmax in the
// kernel's padded layout (AttRows x AttStride; rows T.. and columns past the diagonal hold zeros or unused values), so
// neither pass copies it.
// (batch, head) pairs run in parallel, each writing only its own slices, in a fixed order: results do not depend on
// the thread count.
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Wafer.Gpt.Numerics;

namespace Wafer.Gpt.Layers;

public static unsafe class CausalAttention
{
    private const int Mr = Gemm.Mr, Nr = Gemm.Nr;

    private static int Threads(int b, int t, int c, int threads) => (long)b * t * t * c < 200_000 ? 1 : threads;

    /// <summary>Rows of a head's saved softmax: T rounded up to the micro-kernel's 6.</summary>
    public static int AttRows(int t) => (t + Mr - 1) / Mr * Mr;

    /// <summary>Row stride of a head's saved softmax: AttRows rounded up to the micro-kernel's 16 (at least AttRows, so
    /// a 6-key tile of the transposed softmax stays inside a row).</summary>
    public static int AttStride(int t) => (AttRows(t) + Nr - 1) / Nr * Nr;

    /// <summary>Floats of the saved softmax for B sequences of T tokens and NH heads:
    /// att[((b NH + h) AttRows + i) AttStride + j] = softmax of query i over key j (zero for j > i).</summary>
    public static long AttLength(int b, int t, int nh) => (long)b * nh * AttRows(t) * AttStride(t);

    /// <summary>out = softmax(q kᵀ / sqrt(HS), causal) v per head; att keeps the softmax for backward.</summary>
    public static void Forward(Span<float> output, Span<float> att, ReadOnlySpan<float> inp, int b, int t, int c, int nh, int threads) =>
        Forward(output, att, inp, b, t, c, nh, threads, Gemm.Wide);

    /// <summary>As above; wide: two panels a call through the 512-bit kernel (tests compare it with the 256-bit one).</summary>
    internal static void Forward(Span<float> output, Span<float> att, ReadOnlySpan<float> inp, int b, int t, int c, int nh, int threads, bool wide)
    {
        if (wide && !Gemm.WideRuns) throw new PlatformNotSupportedException("the 512-bit kernel needs a CPU with AVX-512F");
        CheckShapes(inp.Length, b, t, c, nh);
        Check(output.Length, (long)b * t * c, "output");
        Check(att.Length, AttLength(b, t, nh), "att");
        fixed (float* po = output, pa = att, pi = inp)
        {
            nint o = (nint)po, at = (nint)pa, ip = (nint)pi;
            WorkerPool.Run(b * nh, Threads(b, t, c, threads), bh => ForwardHead((float*)o, (float*)at, (float*)ip, bh / nh, bh % nh, t, c, nh, wide));
        }
    }

    /// <summary>dinp = the q, k, v gradients of out for dout (overwritten, not accumulated).</summary>
    public static void Backward(Span<float> dinp, ReadOnlySpan<float> dout, ReadOnlySpan<float> inp, ReadOnlySpan<float> att, int b, int t, int c, int nh, int threads) =>
        Backward(dinp, dout, inp, att, b, t, c, nh, threads, Gemm.Wide);

    /// <summary>As above, choosing the kernel as Forward does.</summary>
    internal static void Backward(Span<float> dinp, ReadOnlySpan<float> dout, ReadOnlySpan<float> inp, ReadOnlySpan<float> att, int b, int t, int c, int nh, int threads, bool wide)
    {
        if (wide && !Gemm.WideRuns) throw new PlatformNotSupportedException("the 512-bit kernel needs a CPU with AVX-512F");
        CheckShapes(inp.Length, b, t, c, nh);
        Check(dinp.Length, (long)b * t * 3 * c, "dinp");
        Check(dout.Length, (long)b * t * c, "dout");
        Check(att.Length, AttLength(b, t, nh), "att");
        fixed (float* pd = dinp, po = dout, pi = inp, pa = att)
        {
            nint d = (nint)pd, o = (nint)po, ip = (nint)pi, at = (nint)pa;
            WorkerPool.Run(b * nh, Threads(b, t, c, threads), bh => BackwardHead((float*)d, (float*)o, (float*)ip, (float*)at, bh / nh, bh % nh, t, c, nh, wide));
        }
    }

    private static void CheckShapes(int inpLength, int b, int t, int c, int nh)
    {
        if (b <= 0 || t <= 0 || nh <= 0 || c % nh != 0) throw new ArgumentException($"CausalAttention: B {b}, T {t}, C {c}, NH {nh} is not a valid shape");
        Check(inpLength, (long)b * t * 3 * c, "inp");
    }

    private static void Check(int length, long need, string name)
    {
        if (length < need) throw new ArgumentException($"CausalAttention: {name} has {length} elements, the shape needs {need}");
    }

    /// <summary>One thread's padded buffers for a head: rows padded to a multiple of 6 (Tr), keys to a multiple of 16
    /// that is at least Tr (Tw, so a 6-key tile of a transposed operand stays inside a row), channels to 16 (Hp).</summary>
    private sealed class Scratch
    {
        public readonly int T, Hs, Tr, Tw, Hp;
        public readonly float[] Rows;      // (6, HS): the last, partial row tile of q (forward) or dout (backward)
        public readonly float[] TPanels;   // Tw / 16 panels of (HS, 16): k (forward) or v (backward) transposed
        public readonly float[] N1, N2, N3; // Hp / 16 panels of (Tw, 16): v (forward); k, q, dout (backward)
        public readonly float[] S;         // (Tr, Tw): dS (backward)
        public readonly float[] O;         // (6, Hp): a tile's output rows when they cannot be written in place

        public Scratch(int t, int hs)
        {
            T = t; Hs = hs;
            Tr = AttRows(t);
            Tw = AttStride(t);
            Hp = (hs + Nr - 1) / Nr * Nr;
            Rows = new float[Mr * hs];
            TPanels = new float[Tw * hs];
            N1 = new float[Hp * Tw]; N2 = new float[Hp * Tw]; N3 = new float[Hp * Tw];
            S = new float[Tr * Tw];
            O = new float[Mr * Hp];
        }

        [ThreadStatic] private static Scratch? t_scratch;

        public static Scratch For(int t, int hs)
        {
            var s = t_scratch;
            if (s is null || s.T != t || s.Hs != hs) t_scratch = s = new Scratch(t, hs);
            return s;
        }
    }

    private static void ForwardHead(float* output, float* att, float* inp, int bi, int h, int t, int c, int nh, bool wide)
    {
        int c3 = 3 * c, hs = c / nh;
        var scale = 1f / MathF.Sqrt(hs);
        var s = Scratch.For(t, hs);
        int tw = s.Tw, hp = s.Hp;
        var q = inp + (long)bi * t * c3 + h * hs;
        var outHead = output + (long)bi * t * c + h * hs;
        var p = att + ((long)bi * nh + h) * s.Tr * tw;
        fixed (float* rows = s.Rows, kt = s.TPanels, vn = s.N1, o = s.O)
        {
            PackTransposed(kt, q + c, c3, t, hs, tw);
            PackRows(vn, q + 2 * c, c3, t, hs, tw, hp);
            for (var r0 = 0; r0 < t; r0 += Mr)
            {
                // Rows [r0, r0 + 6) see keys [0, kEnd): the panels past kEnd are above the diagonal.
                var kEnd = Math.Min(t, r0 + Mr);
                var panels = (kEnd + Nr - 1) / Nr;
                var a = RowTile(q, c3, r0, kEnd, hs, rows, out var aRow);
                Panels(a, aRow, 1, kt, hs * Nr, panels, hs, p + r0 * tw, tw, wide);
                for (var i = r0; i < kEnd; i++) SoftmaxRow(p + i * tw, i + 1, tw, scale);
                ChannelPanelsInto(p + r0 * tw, tw, 1, vn, tw, kEnd, outHead, c, r0, kEnd - r0, hs, hp, o, wide);
            }
        }
    }

    private static void BackwardHead(float* dinp, float* dout, float* inp, float* att, int bi, int h, int t, int c, int nh, bool wide)
    {
        int c3 = 3 * c, hs = c / nh;
        var scale = 1f / MathF.Sqrt(hs);
        var s = Scratch.For(t, hs);
        int tw = s.Tw, hp = s.Hp;
        var q = inp + (long)bi * t * c3 + h * hs;
        var dq = dinp + (long)bi * t * c3 + h * hs;
        var dO = dout + (long)bi * t * c + h * hs;
        var p = att + ((long)bi * nh + h) * s.Tr * tw; // rows past T are not read here
        // The sequence's q, k, v rows were saved by the forward pass and are out of cache by now; each head reads its
        // slices of them (2 of every 24 lines of a nano row), a pattern the prefetchers follow poorly, so they are read
        // in order once, as one stream, before the first head (CacheWarm).
        if (h == 0 && (long)t * c3 <= WarmMaxFloats) CacheWarm.Range(q, (long)t * c3);
        // The head's saved softmax likewise (contiguous, but read in row tiles between kernel calls).
        if ((long)t * tw <= WarmMaxFloats) CacheWarm.Range(p, (long)t * tw);
        fixed (float* rows = s.Rows, vt = s.TPanels, kn = s.N1, qn = s.N2, dn = s.N3, ds = s.S, o = s.O)
        {
            PackTransposed(vt, q + 2 * c, c3, t, hs, tw);
            PackRows(kn, q + c, c3, t, hs, tw, hp);
            PackRows(qn, q, c3, t, hs, tw, hp);
            PackRows(dn, dO, c, t, hs, tw, hp);
            // Query rows: datt = dout vᵀ; dS = the softmax's backward (in place, the scale folded in); dq = dS k.
            for (var r0 = 0; r0 < t; r0 += Mr)
            {
                var kEnd = Math.Min(t, r0 + Mr);
                var panels = (kEnd + Nr - 1) / Nr;
                var a = RowTile(dO, c, r0, kEnd, hs, rows, out var aRow);
                Panels(a, aRow, 1, vt, hs * Nr, panels, hs, ds + r0 * tw, tw, wide);
                for (var i = r0; i < kEnd; i++) SoftmaxBackwardRow(ds + i * tw, p + i * tw, i + 1, tw, scale);
                ChannelPanelsInto(ds + r0 * tw, tw, 1, kn, tw, kEnd, dq, c3, r0, kEnd - r0, hs, hp, o, wide);
            }
            // Key rows [j0, j0 + 6) gather from queries [j0, T) (dS and att are zero above the diagonal): dk = dSᵀ q,
            // dv = attᵀ dout. The transposed A is read in place: its six rows are neighbours in each row of dS / att.
            for (var j0 = 0; j0 < t; j0 += Mr)
                ChannelPanelsInto(ds + j0 * tw + j0, 1, tw, qn + j0 * Nr, tw, t - j0, dq + c, c3, j0, Math.Min(Mr, t - j0), hs, hp, o, wide);
            for (var j0 = 0; j0 < t; j0 += Mr)
                ChannelPanelsInto(p + j0 * tw + j0, 1, tw, dn + j0 * Nr, tw, t - j0, dq + 2 * c, c3, j0, Math.Min(Mr, t - j0), hs, hp, o, wide);
        }
    }

    /// <summary>The most floats read ahead at once (a sequence's q, k, v rows, a head's softmax): 2 MB, well inside the
    /// ~8 MB of cache this host's co-tenants leave one thread (BENCHMARKS.md); more would be evicted before it is used
    /// (gpt3-xl's T = 2048: 50 MB of q, k, v a sequence, 16 MB of softmax a head).</summary>
    private const long WarmMaxFloats = 512 * 1024;

    /// <summary>The A of an HS-deep product for rows [r0, r0 + 6) of a head whose row i starts at src + i stride: read in
    /// place when all six rows are inside the sequence; the last, partial tile is copied into tile (zero rows after it),
    /// as reading on would run into the next sequence's rows (or past the tensor).</summary>
    private static float* RowTile(float* src, int stride, int r0, int end, int hs, float* tile, out nint aRow)
    {
        aRow = stride;
        if (end - r0 == Mr) return src + (long)r0 * stride;
        CopyRows(tile, src + (long)r0 * stride, stride, end - r0, hs, Mr);
        aRow = hs;
        return tile;
    }

    /// <summary>6 output rows x all Hp channels: A (6 x kc; A(r, kk) = a[r aRow + kk aStep]) times each channel panel of
    /// a (Tw, 16)-panel operand (panel d at panels + d Tw 16, already offset to its first key), for output rows [r0, r0 +
    /// rows) of a head whose row i starts at dst + i ldd: straight into
    /// those rows when the tile is whole and HS fills whole 16-channel panels (the kernel writes exactly the head's
    /// columns); otherwise into scratch o and the rows' HS values copied out, so nothing outside the head's rows and
    /// columns is written (the next sequence's rows may belong to the other thread).</summary>
    private static void ChannelPanelsInto(float* a, nint aRow, nint aStep, float* panels, int tw, int kc, float* dst, int ldd,
        int r0, int rows, int hs, int hp, float* o, bool wide)
    {
        if (rows == Mr && hs == hp)
        {
            Panels(a, aRow, aStep, panels, tw * Nr, hp / Nr, kc, dst + (long)r0 * ldd, ldd, wide);
            return;
        }
        Panels(a, aRow, aStep, panels, tw * Nr, hp / Nr, kc, o, hp, wide);
        CopyOut(o, hp, dst + (long)r0 * ldd, ldd, rows, hs);
    }

    /// <summary>6 rows of A (A(r, kk) = a[r aRow + kk aStep]) times `count` packed 16-column panels (panel j at panels + j
    /// panelStride, kc deep) into o's 16 count columns (leading dim ldo): two panels a call through Gemm's 512-bit kernel
    /// where there is one (the same sums).</summary>
    private static void Panels(float* a, nint aRow, nint aStep, float* panels, int panelStride, int count, int kc, float* o, int ldo, bool wide)
    {
        var j = 0;
        if (wide)
            for (; j + 2 <= count; j += 2)
                Gemm.Kernel6x32(a, aRow, aStep, panels + (long)j * panelStride, panelStride, kc, o + j * Nr, ldo, false, null);
        for (; j < count; j++) Gemm.Kernel6x16(a, aRow, aStep, panels + (long)j * panelStride, kc, o + j * Nr, ldo, false, null);
    }

    /// <summary>A short row copy (HS floats): Span.CopyTo (memmove) for rows this short showed in a nano step's profile.</summary>
    private static void Copy(float* src, float* dst, int count)
    {
        var j = 0;
        for (; j + 8 <= count; j += 8) Vector256.Store(Vector256.Load(src + j), dst + j);
        for (; j < count; j++) dst[j] = src[j];
    }

    private static void CopyOut(float* o, int hp, float* dst, int stride, int t, int hs)
    {
        for (var i = 0; i < t; i++) Copy(o + i * hp, dst + (long)i * stride, hs);
    }

    /// <summary>dst (rows, HS) = the head's t rows of src (row stride `stride`), zero rows after them.</summary>
    private static void CopyRows(float* dst, float* src, int stride, int t, int hs, int rows)
    {
        for (var i = 0; i < t; i++) Copy(src + (long)i * stride, dst + i * hs, hs);
        new Span<float>(dst + t * hs, (rows - t) * hs).Clear();
    }

    /// <summary>Panels of 16 keys, each (HS, 16): dst[(j / 16) HS 16 + d 16 + j % 16] = src[j, d], zero for keys past t.</summary>
    private static void PackTransposed(float* dst, float* src, int stride, int t, int hs, int tw)
    {
        for (var j0 = 0; j0 < tw; j0 += 8)
        {
            var panel = dst + j0 / Nr * hs * Nr + j0 % Nr;
            if (j0 >= t)
            {
                // Keys past the sequence: zeros, 8 at a time (element by element with a test each, these two padding
                // groups of a T = 64 head cost more than its 32 transposes).
                for (var z = 0; z < hs; z++) Vector256<float>.Zero.Store(panel + z * Nr);
                continue;
            }
            var d = 0;
            if (j0 + 8 <= t && System.Runtime.Intrinsics.X86.Avx.IsSupported)
                for (; d + 8 <= hs; d += 8) Gemm.Transpose8x8(src + (long)j0 * stride + d, stride, panel + d * Nr, Nr);
            for (; d < hs; d++)
                for (var j = 0; j < 8; j++)
                    panel[d * Nr + j] = j0 + j < t ? src[(long)(j0 + j) * stride + d] : 0f;
        }
    }

    /// <summary>Panels of 16 channels, each (Tw, 16): dst[(d / 16) Tw 16 + j 16 + d % 16] = src[j, d], zero past t
    /// rows and HS channels.</summary>
    private static void PackRows(float* dst, float* src, int stride, int t, int hs, int tw, int hp)
    {
        for (var d0 = 0; d0 < hp; d0 += Nr)
        {
            var panel = dst + d0 * tw;
            var width = Math.Min(Nr, hs - d0);
            for (var j = 0; j < t; j++)
            {
                var row = src + (long)j * stride + d0;
                var to = panel + j * Nr;
                if (width == Nr)
                {
                    Vector256.Store(Vector256.Load(row), to);
                    Vector256.Store(Vector256.Load(row + 8), to + 8);
                    continue;
                }
                for (var x = 0; x < width; x++) to[x] = row[x];
                for (var x = width; x < Nr; x++) to[x] = 0f;
            }
            ZeroTail(panel, t * Nr, tw * Nr); // Nr = 16 floats a row: both multiples of 8
        }
    }

    /// <summary>row[0 .. len) = softmax(scale * row[0 .. len)), zero from len to width (a multiple of 8). The last,
    /// partial vector is masked (its lanes past len count as -inf) instead of finished one float at a time. The maximum is
    /// taken with the raw max instruction and reduced across lanes in registers: Vector256.Max's NaN and signed-zero
    /// handling and a scalar MathF.Max over the lanes made this ~6 of a head's ~14 us forward (scores are finite; a
    /// -0 / +0 tie gives the same exponentials).</summary>
    private static void SoftmaxRow(float* row, int len, int width, float scale)
    {
        var vectors = (len + 7) / 8;
        var tailMask = TailMask(len);
        var vmax = Vector256.Create(float.NegativeInfinity);
        for (var v = 0; v < vectors; v++)
        {
            var x = Vector256.Load(row + 8 * v);
            if (v == vectors - 1) x = Vector256.ConditionalSelect(tailMask, x, Vector256.Create(float.NegativeInfinity));
            vmax = Vector256.MaxNative(vmax, x);
        }
        var vs = Vector256.Create(scale);
        var vm = LaneMax(vmax) * vs; // scale > 0: the largest score stays the largest
        var acc = Vector256<float>.Zero;
        for (var v = 0; v < vectors; v++)
        {
            var e = FastMath.Exp(Vector256.Load(row + 8 * v) * vs - vm);
            if (v == vectors - 1) e = Vector256.ConditionalSelect(tailMask, e, Vector256<float>.Zero);
            e.Store(row + 8 * v);
            acc += e;
        }
        var vi = Vector256.Create(1f / Vector256.Sum(acc)); // the sum is >= 1: its largest term is e^0
        for (var v = 0; v < vectors; v++) (Vector256.Load(row + 8 * v) * vi).Store(row + 8 * v);
        ZeroTail(row, 8 * vectors, width);
    }

    /// <summary>The largest lane of x in every lane (three swaps and maxes in registers).</summary>
    private static Vector256<float> LaneMax(Vector256<float> x)
    {
        if (!Avx.IsSupported)
        {
            var m = float.NegativeInfinity;
            for (var i = 0; i < 8; i++) m = MathF.Max(m, x[i]);
            return Vector256.Create(m);
        }
        x = Vector256.MaxNative(x, Avx.Permute2x128(x, x, 1));
        x = Vector256.MaxNative(x, Avx.Permute(x, 0b01_00_11_10));
        return Vector256.MaxNative(x, Avx.Permute(x, 0b10_11_00_01));
    }

    /// <summary>row[from .. width) = 0, both multiples of 8 (a few vector stores; Span.Clear's call cost more here).</summary>
    private static void ZeroTail(float* row, int from, int width)
    {
        for (var j = from; j < width; j += 8) Vector256<float>.Zero.Store(row + j);
    }

    /// <summary>All ones in the lanes of the last vector of a row of len values that lie inside it.</summary>
    private static Vector256<float> TailMask(int len)
    {
        var inside = len - (len - 1) / 8 * 8; // 1 .. 8
        return Vector256.LessThan(Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7), Vector256.Create(inside)).AsSingle();
    }

    /// <summary>ds[j] = a[j] (ds[j] - sum_i a[i] ds[i]) * scale over [0, len), in place (ds holds datt on entry);
    /// zero from len to width.</summary>
    private static void SoftmaxBackwardRow(float* ds, float* a, int len, int width, float scale)
    {
        var acc = Vector256<float>.Zero;
        var j = 0;
        for (; j + 8 <= len; j += 8) acc += Vector256.Load(a + j) * Vector256.Load(ds + j);
        var weighted = Vector256.Sum(acc);
        for (; j < len; j++) weighted += a[j] * ds[j];
        var vw = Vector256.Create(weighted);
        var vs = Vector256.Create(scale);
        // The same per-element arithmetic over every vector the row's len values touch, the last one's lanes past len
        // set to zero (its a lanes are zero already, but ds there is not); then zeros to width.
        var vectors = (len + 7) / 8;
        for (var v = 0; v < vectors; v++)
        {
            var r = Vector256.Load(a + 8 * v) * (Vector256.Load(ds + 8 * v) - vw) * vs;
            if (v == vectors - 1) r = Vector256.ConditionalSelect(TailMask(len), r, Vector256<float>.Zero);
            r.Store(ds + 8 * v);
        }
        ZeroTail(ds, 8 * vectors, width);
    }
}
