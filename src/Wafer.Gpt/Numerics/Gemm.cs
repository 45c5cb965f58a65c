// Single-precision matrix multiply, ours (there is no BLAS in .NET), in BLIS's shape: A packed into 6-row micro-panels,
// B packed into 16-column panels per K block, a 6 x 16 register-blocked micro-kernel on Vector256 + FMA (two panels at
// once in a 6 x 32 one on Vector512 where the CPU has AVX-512: Gemm.Wide.cs), the work split
// over threads by rows or by column panels. Every output element is summed in the same order whatever the thread
// count, so results are bitwise reproducible. An optional bias row is added in the first K block's store.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Wafer.Gpt.Numerics;

public static unsafe partial class Gemm
{
    internal const int Mr = 6;  // rows per micro-tile: 6 x 2 accumulators + 2 B vectors + 1 broadcast = 15 ymm registers
    internal const int Nr = 16; // columns per panel: two Vector256<float>
    private const int Kc = 256; // K block: a 16 x 256 fp32 panel is 16 KB, in L1 while a 6-row tile of A streams by
    private const int KcOne = 384; // deepest K done as one block (24 KB panels: from L2 at need, 2 vectors per 6 cycles)
    private const int Mc = 96;  // rows of A per block: 96 x 256 fp32 = 96 KB of packed A, stays in L2 across the panels

    /// <summary>Most floats of packed A a thread holds at once (8 MB); taller products are done in row bands this
    /// size, each repacking B.</summary>
    internal const int MaxPackedA = 2 * 1024 * 1024;

    /// <summary>The largest B (floats) that products split by rows pack once per thread; larger ones are split by
    /// column panels, each panel packed once.</summary>
    internal const int RowSplitMaxB = 512 * 1024;

    /// <summary>C[m, n] (+)= sum_k A[m, k] B[k, n]. A(m, k) = a[m * aRow + k * aCol]; B(k, n) = b[k * bRow + n * bCol];
    /// C is row-major with leading dimension ldc. With <paramref name="accumulate"/> false C is overwritten. Large
    /// products run on up to `threads` threads (1 inside work that is already parallel); results do not depend on it.</summary>
    public static void Multiply(int m, int n, int k, ReadOnlySpan<float> a, int aRow, int aCol, ReadOnlySpan<float> b, int bRow, int bCol,
        Span<float> c, int ldc, bool accumulate, int threads) =>
        Multiply(m, n, k, a, aRow, aCol, b, bRow, bCol, c, ldc, accumulate, [], threads);

    /// <summary>C[m, n] = bias[n] + sum_k A[m, k] B[k, n] when not accumulating; bias empty or of length n.</summary>
    public static void Multiply(int m, int n, int k, ReadOnlySpan<float> a, int aRow, int aCol, ReadOnlySpan<float> b, int bRow, int bCol,
        Span<float> c, int ldc, bool accumulate, ReadOnlySpan<float> bias, int threads) =>
        Multiply(m, n, k, a, aRow, aCol, b, bRow, bCol, c, ldc, accumulate, bias, [], threads);

    /// <summary>As above; with a multiplier (laid out as C, leading dimension ldc; no bias, not accumulating) C[m, n] =
    /// multiplier[m, n] * sum_k A[m, k] B[k, n], each tile scaled as it is stored (an elementwise product after a
    /// product, e.g. GELU's backward, without a pass of its own over C).</summary>
    public static void Multiply(int m, int n, int k, ReadOnlySpan<float> a, int aRow, int aCol, ReadOnlySpan<float> b, int bRow, int bCol,
        Span<float> c, int ldc, bool accumulate, ReadOnlySpan<float> bias, ReadOnlySpan<float> multiplier, int threads)
    {
        if (!multiplier.IsEmpty && !bias.IsEmpty) throw new ArgumentException("a multiplier takes no bias");
        Multiply(m, n, k, a, aRow, aCol, b, bRow, bCol, c, ldc, accumulate, bias, multiplier, TileOperand.Multiplier, threads);
    }

    /// <summary>What a C-shaped operand does to each tile as it is stored after the last K block.</summary>
    public enum TileOperand
    {
        /// <summary>C = operand * (sum): an elementwise product after the product (GELU's backward).</summary>
        Multiplier,
        /// <summary>C = (bias + sum) + operand: a residual connection after the product, without a pass of its own.</summary>
        Addend,
    }

    /// <summary>C[m, n] = bias[n] + sum_k A[m, k] B[k, n], then combined with operand[m, n] (laid out as C, leading
    /// dimension ldc; not accumulating; not overlapping C) as each tile is stored.</summary>
    public static void Multiply(int m, int n, int k, ReadOnlySpan<float> a, int aRow, int aCol, ReadOnlySpan<float> b, int bRow, int bCol,
        Span<float> c, int ldc, bool accumulate, ReadOnlySpan<float> bias, ReadOnlySpan<float> operand, TileOperand kind, int threads) =>
        Multiply(m, n, k, a, aRow, aCol, b, bRow, bCol, c, ldc, accumulate, bias, operand, kind, threads, MaxPackedA, Wide);

    /// <summary>As above, holding at most maxPackedA floats of packed A per thread (tests make it small to exercise the
    /// row bands of a tall product), with panel pairs through the 512-bit kernel when wide (tests compare the two).</summary>
    internal static void Multiply(int m, int n, int k, ReadOnlySpan<float> a, int aRow, int aCol, ReadOnlySpan<float> b, int bRow, int bCol,
        Span<float> c, int ldc, bool accumulate, ReadOnlySpan<float> bias, ReadOnlySpan<float> operand, TileOperand kind, int threads, int maxPackedA,
        bool wide)
    {
        if (wide && !WideRuns) throw new PlatformNotSupportedException("the 512-bit kernel needs a CPU with AVX-512F");
        if (!operand.IsEmpty && (accumulate || operand.Length < (long)(m - 1) * ldc + n || operand.Overlaps(c)))
            throw new ArgumentException($"an {kind.ToString().ToLowerInvariant()} needs C's layout ({operand.Length} elements for {m} x {n}, ldc {ldc}), no accumulation and no overlap with C");
        if (m <= 0 || n <= 0) return;
        CheckExtent(a.Length, m, k, aRow, aCol, "A");
        CheckExtent(b.Length, k, n, bRow, bCol, "B");
        if (c.Length < (long)(m - 1) * ldc + n || ldc < n) throw new ArgumentException($"C is too small for {m} x {n} with ldc {ldc}");
        if (!bias.IsEmpty && (bias.Length < n || accumulate)) throw new ArgumentException($"bias has {bias.Length} elements for {n} columns{(accumulate ? " (and a bias needs accumulate false)" : "")}");
        if (k == 0)
        {
            if (!accumulate)
                for (var i = 0; i < m; i++)
                {
                    var row = c.Slice(i * ldc, n);
                    if (bias.IsEmpty) row.Clear(); // the sum is zero: so is the scaled sum
                    else bias[..n].CopyTo(row);
                    if (kind == TileOperand.Addend && !operand.IsEmpty) Vec.AddTo(row, operand.Slice(i * ldc, n));
                }
            return;
        }
        // Already one of several concurrent parts: one thread, or two when this part is a free-running batch shard and
        // the other shard is waiting, and would take half of a split product (HelpBoard).
        if (WorkerPool.InPart) threads = HelpBoard.OtherWaiting ? 2 : 1;
        var panels = (n + Nr - 1) / Nr;
        var flops = 2L * m * n * k;
        var parallel = flops >= 4_000_000 && threads > 1;
        // Many rows and a B small enough to pack once per thread (<= 2 MB): one band of rows per thread, so each packs
        // only its own A and a thread's output rows are the rows it reads in the next product (they stay in its
        // core's caches). Otherwise column-panel ranges claimed dynamically, every panel packed once.
        var rowParts = parallel && m >= threads * Mc && (long)k * n <= RowSplitMaxB ? threads : 1;
        var parts = !parallel ? 1 : rowParts > 1 ? rowParts : Math.Min(2 * threads, panels);
        fixed (float* pa = a)
        fixed (float* pb = b)
        fixed (float* pc = c)
        fixed (float* pbias = bias)
        fixed (float* pop = operand)
        {
            // One job object per calling thread, reused: attention issues thousands of small products per step and
            // allocating a job and a delegate for each showed up as per-call overhead.
            var job = t_job ??= new Job();
            job.Set(m, n, k, pa, aRow, aCol, pb, bRow, bCol, pc, ldc, accumulate, bias.IsEmpty ? null : pbias, operand.IsEmpty ? null : pop,
                kind == TileOperand.Addend, panels, parts, rowParts > 1, maxPackedA, wide);
            if (parts == 1) job.Run(0);
            else WorkerPool.Run(parts, threads, job.RunPart);
        }
    }

    private static void CheckExtent(int length, int rows, int cols, int rowStride, int colStride, string name)
    {
        if (rows == 0 || cols == 0) return;
        var last = (long)(rows - 1) * rowStride + (long)(cols - 1) * colStride;
        if (rowStride < 0 || colStride < 0 || last >= length) throw new ArgumentException($"{name} ({length} elements) is too small for {rows} x {cols} with strides {rowStride}, {colStride}");
    }

    [ThreadStatic] private static Job? t_job;

    private sealed class Job
    {
        private int m, n, k, aRow, aCol, bRow, bCol, ldc, panels, parts;
        private float* a, b, c, bias, operand;
        private bool accumulate, splitRows, addOperand;
        private int maxPackedA;
        private bool wide;

        /// <summary>Run as a delegate, made once per job object.</summary>
        public readonly Action<int> RunPart;

        public Job() => RunPart = Run;

        public void Set(int m, int n, int k, float* a, int aRow, int aCol, float* b, int bRow, int bCol, float* c, int ldc,
            bool accumulate, float* bias, float* operand, bool addOperand, int panels, int parts, bool splitRows, int maxPackedA, bool wide)
        {
            this.maxPackedA = maxPackedA;
            this.wide = wide;
            this.operand = operand;
            this.addOperand = addOperand;
            this.m = m; this.n = n; this.k = k; this.a = a; this.aRow = aRow; this.aCol = aCol;
            this.b = b; this.bRow = bRow; this.bCol = bCol; this.c = c; this.ldc = ldc; this.accumulate = accumulate;
            this.bias = bias; this.panels = panels; this.parts = parts; this.splitRows = splitRows;
        }

        /// <summary>Per-thread packing buffers, grown when needed (no allocation per product).</summary>
        [ThreadStatic] private static float[]? t_packedB;
        [ThreadStatic] private static float[]? t_packedA;

        /// <summary>Panels packed together per K block: 16 panels x 256 x 16 floats = 256 KB, within L2.</summary>
        private const int PanelsPerBlock = 16;

        /// <summary>One part of the product: its rows (row split) or its column panels, in bands of rows whose packed A
        /// fits maxPackedA; per band, A is packed once (unless read in place), then for each group of panels and each
        /// K block, the panels are packed and multiplied against the band (RunBlock).</summary>
        public void Run(int part)
        {
            var (r0, r1, p0, p1) = PartRange(part);
            if (r0 >= r1 || p0 >= p1) return;
            // One K block up to KcOne deep (a weight gradient's 384 rows of one batch shard; qkv's 3C = 384): two blocks
            // would store C and load it back once more.
            var kcb = k <= KcOne ? k : Kc;
            var kBlocks = (k + kcb - 1) / kcb;
            // Rows per band: as many whole Mc blocks as maxPackedA allows (at least one).
            var bandRows = Math.Max(Mc, maxPackedA / (kBlocks * kcb) / Mc * Mc);
            var bandTiles = (Math.Min(bandRows, r1 - r0) + Mr - 1) / Mr;
            var packedB = t_packedB ??= new float[PanelsPerBlock * KcOne * Nr];
            // A row-major (aCol 1) is read in place: its six rows stream from L1/L2 and packing them measured slower;
            // any other layout is packed (a transposed A, a weight gradient's dout^T, touches kc cache lines per tile in
            // place, which measured slower than packing it).
            var packA = aCol != 1;
            var needA = (packA ? (long)bandTiles * Mr * kcb * kBlocks : Mr * kcb) + 8; // + 8: the transposed-A packer stores 8 floats for 6
            if (t_packedA is null || t_packedA.Length < needA) t_packedA = new float[needA];
            var tile = stackalloc float[Mr * Nr];
            fixed (float* pk = packedB, pak = t_packedA)
                for (var band0 = r0; band0 < r1; band0 += bandRows)
                {
                    var band = new Band(band0, Math.Min(r1, band0 + bandRows), kcb, kBlocks, packA, pk, pak, tile);
                    if (packA) PackBand(band);
                    for (var q0 = p0; q0 < p1; q0 += PanelsPerBlock)
                        for (var kb = 0; kb < kBlocks; kb++)
                            RunBlock(band, q0, Math.Min(p1, q0 + PanelsPerBlock), kb);
                }
        }

        /// <summary>Rows [r0, r1) and panels [p0, p1) of a part: a band of whole 6-row tiles (row split), or a range of
        /// panels over all rows.</summary>
        private (int R0, int R1, int P0, int P1) PartRange(int part)
        {
            if (!splitRows) return (0, m, (int)((long)panels * part / parts), (int)((long)panels * (part + 1) / parts));
            var tiles = (m + Mr - 1) / Mr;
            return ((int)((long)tiles * part / parts) * Mr, Math.Min(m, (int)((long)tiles * (part + 1) / parts) * Mr), 0, panels);
        }

        /// <summary>Rows [Row0, Row1) of A with their packing buffers: A block kb's tile t at PackedA + (kb * Tiles + t) * Kcb * Mr
        /// when A is packed, else the band's edge rows (fewer than 6) packed at PackedA per K block.</summary>
        private readonly struct Band(int row0, int row1, int kcb, int kBlocks, bool packA, float* packedB, float* packedA, float* tile)
        {
            public readonly int Row0 = row0, Row1 = row1, Kcb = kcb, KBlocks = kBlocks;
            public readonly int Tiles = (row1 - row0 + Mr - 1) / Mr;
            public readonly bool PackA = packA;
            public readonly float* PackedB = packedB, PackedA = packedA, Tile = tile;
        }

        /// <summary>Packs every K block of the band's rows of A (a transposed A in groups of eight tiles where it can).</summary>
        private void PackBand(in Band band)
        {
            for (var kb = 0; kb < band.KBlocks; kb++)
                for (var t = 0; t < band.Tiles;)
                {
                    var m0 = band.Row0 + t * Mr;
                    var kc = Math.Min(band.Kcb, k - kb * band.Kcb);
                    var to = band.PackedA + ((long)kb * band.Tiles + t) * band.Kcb * Mr;
                    if (aRow == 1 && aCol >= GroupTiles * Mr && kc > 1 && m0 + GroupTiles * Mr <= band.Row1)
                    {
                        PackATransposedGroup(to, band.Kcb * Mr, a, aCol, m0, kb * band.Kcb, kc);
                        t += GroupTiles;
                        continue;
                    }
                    PackA(to, a, aRow, aCol, m0, Math.Min(Mr, band.Row1 - m0), kb * band.Kcb, kc);
                    t++;
                }
        }

        /// <summary>K block kb of panels [q0, q1) against the band: packs the panels (and a row-major A's edge rows), then
        /// in BLIS order one packed panel stays in L1 while the band's row tiles (a block of A sized for L2 with the
        /// packed panels) stream past it.</summary>
        private void RunBlock(in Band band, int q0, int q1, int kb)
        {
            var k0 = kb * band.Kcb;
            var kc = Math.Min(band.Kcb, k - k0);
            // A large B (a weight matrix out of cache, gpt2-size): the next K block's rows of B, and of A when it is read
            // in place, are asked for during this block's kernel calls, a few lines per call (it shortened gpt2-124m's
            // step; nano's products never get here).
            var prefetchAhead = (long)k * n > RowSplitMaxB;
            // A transposed B (a forward product's weight, W^T) is packed by 8 x 8 transposes that read 16 of W's rows at
            // once, 32 bytes from each in turn; out of cache, the prefetchers follow that poorly. Read in order first,
            // row after row (a large B has its next K block prefetched instead, below).
            if (bRow == 1 && !prefetchAhead) CacheWarm.Runs(b + (long)q0 * Nr * bCol + k0, bCol, Math.Min(n, q1 * Nr) - q0 * Nr, kc);
            PackPanels(band.PackedB, band.Kcb * Nr, b, bRow, bCol, k0, kc, q0, q1, n);
            // The edge rows of a row-major A (the band's last, partial tile: reading them in place would run past A)
            // packed with zero rows once here for all panels, not once per kernel call (for gpt2-124m that is 192 panels
            // x 3 K blocks of repacking saved).
            var edge = band.Row1 - (band.Row1 - band.Row0) % Mr;
            if (!band.PackA && edge < band.Row1) PackA(band.PackedA, a, aRow, aCol, edge, band.Row1 - edge, k0, kc);
            var ahead = default(NextBlock);
            if (prefetchAhead && kb + 1 < band.KBlocks)
                ahead = new NextBlock(a, aRow, band.PackA ? band.Row0 : band.Row1, band.Row1, b, bRow, bCol, k0 + kc,
                    Math.Min(band.Kcb, k - k0 - kc), q0, q1, n, band.Tiles * (q1 - q0));
            for (var mb = band.Row0; mb < band.Row1; mb += Mc)
                for (var p = q0; p < q1; p++)
                    p += RunPanel(band, kb, k0, kc, q0, q1, p, mb, Math.Min(band.Row1, mb + Mc), ref ahead);
        }

        /// <summary>Panel p (and p + 1 when the two go through the 512-bit kernel together; returns 1 then, else 0) times
        /// rows [mb, rowEnd) of the band for K block kb: whole tiles in one kernel call, then the edge tiles (fewer than 6
        /// rows or 16 columns) one at a time through the 6 x 16 scratch.</summary>
        private int RunPanel(in Band band, int kb, int k0, int kc, int q0, int q1, int p, int mb, int rowEnd, ref NextBlock ahead)
        {
            var add = accumulate || k0 > 0;
            var epilogue = operand != null && kb == band.KBlocks - 1; // the sums are whole after the last K block
            var rowBias = k0 == 0 ? bias : null;
            var aBlock = band.PackedA + (long)kb * band.Tiles * band.Kcb * Mr;
            var panel = band.PackedB + (p - q0) * band.Kcb * Nr;
            var nw = Math.Min(Nr, n - p * Nr);
            var whole = (rowEnd - mb) / Mr;
            // Two whole panels side by side go through the 512-bit kernel where there is one.
            var pair = wide && p + 1 < q1 && n - p * Nr >= 2 * Nr && whole > 0;
            var m0 = mb;
            if (nw == Nr)
            {
                // The block's whole tiles in one call: a call per tile spent its arguments, prologue and the driver's
                // bookkeeping on every tile.
                var colBias = rowBias == null ? null : rowBias + p * Nr;
                var op = epilogue ? operand + (long)mb * ldc + p * Nr : null;
                var cBlock = c + (long)mb * ldc + p * Nr;
                float* aCol0 = band.PackA ? aBlock + (long)((mb - band.Row0) / Mr) * band.Kcb * Mr : a + (long)mb * aRow + k0;
                nint aR = band.PackA ? 1 : aRow, aS = band.PackA ? Mr : 1, aT = band.PackA ? (nint)band.Kcb * Mr : (nint)Mr * aRow;
                if (pair) KernelColumnWide(aCol0, aR, aS, aT, panel, (nint)band.Kcb * Nr, kc, cBlock, ldc, add, colBias, whole, op, addOperand, ref ahead);
                else KernelColumn(aCol0, aR, aS, aT, panel, kc, cBlock, ldc, add, colBias, whole, op, addOperand, ref ahead);
                m0 += whole * Mr;
            }
            // What is left are edge tiles: both panels' when a pair went above.
            for (var e = p; e <= (pair ? p + 1 : p); e++)
            {
                var ePanel = band.PackedB + (e - q0) * band.Kcb * Nr;
                var eWidth = Math.Min(Nr, n - e * Nr);
                var eBias = rowBias == null ? null : rowBias + e * Nr;
                for (var m1 = m0; m1 < rowEnd; m1 += Mr)
                {
                    var mr = Math.Min(Mr, band.Row1 - m1);
                    float* aTile = band.PackedA;
                    nint aR = 1, aS = Mr;
                    if (band.PackA) aTile = aBlock + (long)((m1 - band.Row0) / Mr) * band.Kcb * Mr;
                    else if (mr == Mr) { aTile = a + (long)m1 * aRow + k0; aR = aRow; aS = 1; }
                    // else the edge rows packed in RunBlock, at PackedA
                    var cTile = c + (long)m1 * ldc + e * Nr;
                    var opTile = epilogue ? operand + (long)m1 * ldc + e * Nr : null;
                    ahead.Issue();
                    // The operand's lines, wanted right after the kernel (missed there, they stalled the store of every
                    // tile).
                    if (opTile != null) PrefetchRows(opTile, ldc, mr);
                    Kernel6x16(aTile, aR, aS, ePanel, kc, band.Tile, Nr, false, null);
                    Store(band.Tile, cTile, ldc, mr, eWidth, add, eBias);
                    if (opTile != null) CombineTile(cTile, opTile, ldc, mr, eWidth, addOperand);
                }
            }
            return pair ? 1 : 0;
        }
    }

    /// <summary>Prefetches (into L2) the lines of the next K block that the packers and the kernel will read: B's rows
    /// (row-major: the group's panel chunks of each row; transposed: each column's K range) and A's rows read in place
    /// (rows [a0, a1)), spread over the block's kernel calls.</summary>
    private struct NextBlock
    {
        private readonly long _bRowStep, _aRowStep;
        private readonly int _bLines, _bPerRow, _aLines, _aPerRow, _perCall;
        private int _next, _x;
        private float* _bRow, _aRow;

        public NextBlock(float* a, int aRow, int a0, int a1, float* b, int bRow, int bCol, int k0, int kc, int q0, int q1, int n, int calls)
        {
            _next = 0; _x = 0;
            var kLines = (kc + Nr - 1) / Nr;
            // Lines are walked row by row (row r's x-th line at row start + x line steps), counters stepped rather than
            // derived from one index by a division and a remainder per line: with the 512-bit kernel a tile takes
            // half the time, and those divisions had become a visible share of the step.
            // Row-major B: row k's lines of the group's panels; transposed B: column j's lines of the K block.
            if (bCol == 1) { _bPerRow = q1 - q0; _bLines = kc * _bPerRow; _bRow = b + (long)k0 * bRow + q0 * Nr; _bRowStep = bRow; }
            else { _bPerRow = kLines; _bLines = (Math.Min(n, q1 * Nr) - q0 * Nr) * kLines; _bRow = b + (long)q0 * Nr * bCol + k0; _bRowStep = bCol; }
            _aPerRow = kLines;
            _aLines = (a1 - a0) * kLines;
            _aRow = a + (long)a0 * aRow + k0;
            _aRowStep = aRow;
            _perCall = (_bLines + _aLines + calls - 1) / Math.Max(1, calls);
        }

        public void Issue()
        {
            if (!Sse.IsSupported) return; // (a default NextBlock has nothing to issue: _perCall 0)
            for (var j = 0; j < _perCall && _next < _bLines + _aLines; j++, _next++)
            {
                if (_next < _bLines)
                {
                    Sse.Prefetch1(_bRow + _x * Nr);
                    if (++_x == _bPerRow) { _x = 0; _bRow += _bRowStep; }
                }
                else
                {
                    Sse.Prefetch1(_aRow + _x * Nr);
                    if (++_x == _aPerRow) { _x = 0; _aRow += _aRowStep; }
                }
            }
        }
    }

    /// <summary>packed[kk * 6 + r] = A(m0 + r, k0 + kk) for r below mr, zero for the rows past the matrix.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // optimized from the first call: tier-0 code calls the Vector256 helpers as functions
    private static void PackA(float* packed, float* a, int aRow, int aCol, int m0, int mr, int k0, int kc)
    {
        var src = a + (long)m0 * aRow + (long)k0 * aCol;
        if (mr == Mr && aRow == 1 && aCol >= 8)
        {
            // A transposed in memory (a weight gradient's dout^T): the six rows are neighbours at every k. The last
            // step copies exactly six (an 8-wide load there could read past the matrix).
            // Pointers stepped along, not indexed (a multiply and sign extensions per k otherwise).
            nint step = aCol;
            var last = packed + (kc - 1) * Mr;
            for (; packed < last; packed += Mr, src += step) Vector256.Store(Vector256.Load(src), packed);
            for (var r = 0; r < Mr; r++) packed[r] = src[r];
            return;
        }
        if (mr == Mr && aCol == 1)
        {
            float* s0 = src, s1 = src + aRow, s2 = src + 2L * aRow, s3 = src + 3L * aRow, s4 = src + 4L * aRow, s5 = src + 5L * aRow;
            for (var kk = 0; kk < kc; kk++)
            {
                var d = packed + kk * Mr;
                d[0] = s0[kk]; d[1] = s1[kk]; d[2] = s2[kk]; d[3] = s3[kk]; d[4] = s4[kk]; d[5] = s5[kk];
            }
            return;
        }
        for (var kk = 0; kk < kc; kk++)
            for (var r = 0; r < Mr; r++)
                packed[kk * Mr + r] = r < mr ? src[(long)r * aRow + (long)kk * aCol] : 0f;
    }

    /// <summary>Tiles a transposed A is packed in at once (PackATransposedGroup): 8 x 6 = 48 neighbouring floats, three
    /// cache lines, at every k.</summary>
    private const int GroupTiles = 8;

    /// <summary>PackA of GroupTiles whole tiles of a transposed A (A(m, k) = a[k * aCol + m], a weight gradient's dout^T),
    /// tile j at packed + j * tileStride, the same values. Each k's 48 floats are read together, so each of A's lines is
    /// fetched once: tile by tile, a tile's kc rows (2 KB apart for d fch) had left L1 before the next tile read the rest
    /// of their lines.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // optimized from the first call: tier-0 code calls the Vector256 helpers as functions
    private static void PackATransposedGroup(float* packed, nint tileStride, float* a, int aCol, int m0, int k0, int kc)
    {
        var src = a + m0 + (long)k0 * aCol;
        nint step = aCol;
        float* d0 = packed, d1 = d0 + tileStride, d2 = d1 + tileStride, d3 = d2 + tileStride;
        float* d4 = d3 + tileStride, d5 = d4 + tileStride, d6 = d5 + tileStride, d7 = d6 + tileStride;
        // 8-wide loads and stores for six floats: the two extra stored land where the next k's six go and are overwritten
        // by them (the two extra read at the last column come from the next row: in the matrix while k < kc - 1). The last
        // k copies exactly six (an 8-wide store there would reach into the next tile).
        for (var kk = 0; kk < kc - 1; kk++, src += step, d0 += Mr, d1 += Mr, d2 += Mr, d3 += Mr, d4 += Mr, d5 += Mr, d6 += Mr, d7 += Mr)
        {
            Vector256.Load(src).Store(d0);
            Vector256.Load(src + 6).Store(d1);
            Vector256.Load(src + 12).Store(d2);
            Vector256.Load(src + 18).Store(d3);
            Vector256.Load(src + 24).Store(d4);
            Vector256.Load(src + 30).Store(d5);
            Vector256.Load(src + 36).Store(d6);
            Vector256.Load(src + 42).Store(d7);
        }
        for (var r = 0; r < Mr; r++)
        {
            d0[r] = src[r]; d1[r] = src[6 + r]; d2[r] = src[12 + r]; d3[r] = src[18 + r];
            d4[r] = src[24 + r]; d5[r] = src[30 + r]; d6[r] = src[36 + r]; d7[r] = src[42 + r];
        }
    }

    /// <summary>Panels q0 .. q1 - 1 of B's rows k0 .. k0 + kc - 1 into packed (panel q at (q - q0) * Kc * 16). A row-major
    /// B is read row by row across all the panels: reading one panel's 64-byte column strip at a time (rows up to 2 KB
    /// apart) was slower on a B out of cache.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // optimized from the first call: tier-0 code calls the Vector256 helpers as functions
    private static void PackPanels(float* packed, int panelStride, float* b, int bRow, int bCol, int k0, int kc, int q0, int q1, int n)
    {
        // Panels [q0, full) by rows: a row-major B's panels with all 16 columns inside it; the rest one by one.
        var full = bCol == 1 ? Math.Min(q1, n / Nr) : q0;
        // Pointers stepped along (the JIT kept a multiply and two sign extensions per panel for the indexed form, 11
        // instructions around 4 moves).
        nint stride = panelStride;
        for (var kk = 0; kk < kc && full > q0; kk++)
        {
            var from = b + (long)(k0 + kk) * bRow + q0 * Nr;
            var end = from + (full - q0) * Nr;
            for (var to = packed + kk * Nr; from < end; from += Nr, to += stride)
            {
                Vector256.Store(Vector256.Load(from), to);
                Vector256.Store(Vector256.Load(from + 8), to + 8);
            }
        }
        for (var p = Math.Max(q0, full); p < q1; p++) Pack(packed + (p - q0) * panelStride, b, bRow, bCol, k0, kc, p * Nr, Math.Min(Nr, n - p * Nr));
    }

    /// <summary>packed[kk * 16 + j] = B(k0 + kk, n0 + j), zero past column n.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // optimized from the first call: tier-0 code calls the Vector256 helpers as functions
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
    internal static void Transpose8x8(float* src, int lds, float* dst, int ldd)
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

    /// <summary>C[6 x 16] (+)= A (6 x kc) times the packed panel (kc x 16), then + bias when given. A(r, kk) =
    /// a[r * aRow + kk * aStep]: packed micro-panels (aRow 1, aStep 6) or a row-major A read in place (aRow = lda, aStep 1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)] // optimized from the first call (tier-0 code calls the Vector256 helpers as functions); kept out of the driver
    internal static void Kernel6x16(float* a, nint aRow, nint aStep, float* packed, int kc, float* c, int ldc, bool add, float* bias) =>
        Tile(a, aRow, aStep, packed, kc, c, ldc, add, bias);

    /// <summary>What the driver does for one whole tile, on `tiles` tiles one below the other (tile t's A at a + t *
    /// aTileStep, its C and operand at c and op + 6 t ldc): the next block's prefetch, the operand's lines asked for,
    /// Kernel6x16's tile, the operand combined.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static void KernelColumn(float* a, nint aRow, nint aStep, nint aTileStep, float* packed, int kc, float* c, int ldc, bool add, float* bias,
        int tiles, float* op, bool addOperand, ref NextBlock ahead)
    {
        var down = (nint)Mr * ldc;
        for (var t = 0; t < tiles; t++, a += aTileStep, c += down)
        {
            ahead.Issue();
            if (op != null) PrefetchRows(op, ldc, Mr); // wanted right after the tile (missed there, they stalled its store)
            Tile(a, aRow, aStep, packed, kc, c, ldc, add, bias);
            if (op == null) continue;
            CombineTile(c, op, ldc, Mr, Nr, addOperand);
            op += down;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Tile(float* a, nint aRow, nint aStep, float* packed, int kc, float* c, int ldc, bool add, float* bias)
    {
        nint r1 = aRow, r2 = 2 * aRow, r3 = 3 * aRow, r4 = 4 * aRow, r5 = 5 * aRow;
        // Fetch the tile of C now so that its lines arrive while the loop below runs: stored (or loaded and stored)
        // only at the end, a C out of cache otherwise stalled every tile on its 12 line misses.
        PrefetchRows(c, ldc, Mr);
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector256<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        // Four k steps an iteration: one step an iteration spent a loop's bookkeeping on every 12 FMAs, which
        // measured slower. Each accumulator still
        // takes its k terms in order: the sums are the same.
        var end = packed + kc * Nr;
        var end4 = packed + (kc & ~3) * Nr;
        for (; packed < end4; packed += 4 * Nr, a += 4 * aStep)
        {
            Step(a, r1, r2, r3, r4, r5, packed, ref c00, ref c01, ref c10, ref c11, ref c20, ref c21, ref c30, ref c31, ref c40, ref c41, ref c50, ref c51);
            Step(a + aStep, r1, r2, r3, r4, r5, packed + Nr, ref c00, ref c01, ref c10, ref c11, ref c20, ref c21, ref c30, ref c31, ref c40, ref c41, ref c50, ref c51);
            Step(a + 2 * aStep, r1, r2, r3, r4, r5, packed + 2 * Nr, ref c00, ref c01, ref c10, ref c11, ref c20, ref c21, ref c30, ref c31, ref c40, ref c41, ref c50, ref c51);
            Step(a + 3 * aStep, r1, r2, r3, r4, r5, packed + 3 * Nr, ref c00, ref c01, ref c10, ref c11, ref c20, ref c21, ref c30, ref c31, ref c40, ref c41, ref c50, ref c51);
        }
        for (; packed < end; packed += Nr, a += aStep)
            Step(a, r1, r2, r3, r4, r5, packed, ref c00, ref c01, ref c10, ref c11, ref c20, ref c21, ref c30, ref c31, ref c40, ref c41, ref c50, ref c51);
        if (bias != null)
        {
            var blo = Vector256.Load(bias);
            var bhi = Vector256.Load(bias + 8);
            c00 += blo; c01 += bhi; c10 += blo; c11 += bhi; c20 += blo; c21 += bhi;
            c30 += blo; c31 += bhi; c40 += blo; c41 += bhi; c50 += blo; c51 += bhi;
        }
        // Straight into C (the sum of this K block added to what C holds when accumulating).
        Put(c, c00, c01, add); Put(c + ldc, c10, c11, add); Put(c + 2L * ldc, c20, c21, add);
        Put(c + 3L * ldc, c30, c31, add); Put(c + 4L * ldc, c40, c41, add); Put(c + 5L * ldc, c50, c51, add);
    }

    /// <summary>One k step of the 6 x 16 tile: A's six values at a[0], a[r1] .. a[r5] times the panel's 16 at packed.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Step(float* a, nint r1, nint r2, nint r3, nint r4, nint r5, float* packed,
        ref Vector256<float> c00, ref Vector256<float> c01, ref Vector256<float> c10, ref Vector256<float> c11,
        ref Vector256<float> c20, ref Vector256<float> c21, ref Vector256<float> c30, ref Vector256<float> c31,
        ref Vector256<float> c40, ref Vector256<float> c41, ref Vector256<float> c50, ref Vector256<float> c51)
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

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Put(float* dst, Vector256<float> lo, Vector256<float> hi, bool add)
    {
        if (add) { lo += Vector256.Load(dst); hi += Vector256.Load(dst + 8); }
        lo.Store(dst);
        hi.Store(dst + 8);
    }

    /// <summary>Prefetches the first and last float of `rows` rows of 16 (a tile's lines), row i at p + i ld.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PrefetchRows(float* p, nint ld, int rows)
    {
        if (!Sse.IsSupported) return;
        for (var end = p + rows * ld; p < end; p += ld)
        {
            Sse.Prefetch0(p);
            Sse.Prefetch0(p + Nr - 1);
        }
    }

    /// <summary>c[r, j] = op[r, j] * c[r, j], or c[r, j] + op[r, j] when adding, over a tile just stored (still in L1).
    /// Whole rows take one of two loops chosen once, with pointers stepped, instead of a choice per vector and a
    /// multiply per row (the step time is about the same either way; this form reads more simply).</summary>
    private static void CombineTile(float* c, float* op, nint ldc, int mr, int nw, bool add)
    {
        var end = c + mr * ldc;
        if (nw < Nr)
        {
            for (; c < end; c += ldc, op += ldc)
                for (var j = 0; j < nw; j++) c[j] = add ? c[j] + op[j] : op[j] * c[j];
            return;
        }
        if (add)
            for (; c < end; c += ldc, op += ldc)
            {
                (Vector256.Load(c) + Vector256.Load(op)).Store(c);
                (Vector256.Load(c + 8) + Vector256.Load(op + 8)).Store(c + 8);
            }
        else
            for (; c < end; c += ldc, op += ldc)
            {
                (Vector256.Load(op) * Vector256.Load(c)).Store(c);
                (Vector256.Load(op + 8) * Vector256.Load(c + 8)).Store(c + 8);
            }
    }

    /// <summary>An edge tile (fewer than 6 rows or 16 columns) from its 6 x 16 scratch: the same sums as the kernel's
    /// own store, bias included.</summary>
    private static void Store(float* tile, float* c, int ldc, int mr, int nw, bool add, float* bias)
    {
        for (var r = 0; r < mr; r++)
        {
            var dst = c + (long)r * ldc;
            var src = tile + r * Nr;
            for (var j = 0; j < nw; j++)
            {
                var v = bias == null ? src[j] : src[j] + bias[j];
                dst[j] = add ? v + dst[j] : v;
            }
        }
    }
}
