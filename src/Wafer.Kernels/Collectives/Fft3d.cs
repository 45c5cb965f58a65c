// 3-D complex FFT in fp32 by pencil decomposition on P x P PEs (the decomposition of Orenes-Vera et al., "Wafer-Scale
// Fast Fourier Transforms", arXiv:2209.15040): an N x N x N grid, N = P q, PE (px, py) starting with the q x q pencils
// along z of its x block px and y block py. Three phases of 1-D FFTs, each over all q² pencils a PE holds at once (a
// butterfly is a few vector ops of length q² over the pencils: values are stored [position][pencil][re, im]), with a
// transpose between them:
//   1. FFT along z; 2. a row all-to-all (AllToAll, colors 0-3): PE (px, py) gets the z positions of block px from the
//   PEs of its row, i.e. pencils along x; a local reorder to [x][z, y]; 3. FFT along x; 4. a column all-to-all (colors
//   4-7): the x positions of block py, i.e. pencils along y; a local reorder to [y][x, z]; 5. FFT along y.
// Each 1-D FFT is radix-2, decimation in frequency, natural order in and bit-reversed order out; the host reads the
// spectrum back through the bit reversal. The transposes are the pattern the stencil and the reduces do not exercise:
// every PE sends a chunk to every PE of its row, then of its column.
using System.Numerics;
using Wafer.Core;
using Wafer.Fabric.Config;
using Wafer.Fabric.Engine;
using Wafer.Fabric.Pe;

namespace Wafer.Kernels.Collectives;

public sealed class Fft3d : IFabricDemo
{
    public const int StartTask = 10;
    /// <summary>Row transpose: colors 0-3, input queues 0/1 (6 deep), output queues 2/3 (6 deep). Column transpose:
    /// colors 4-7, input queues 2/3 (4 deep), output queues 0/1 (2 deep: enough for one value a cycle with the execute
    /// register while R <= 2).</summary>
    private static readonly AllToAllLanes RowLanes = AllToAll.Lanes;
    private static readonly AllToAllLanes ColumnLanes = new(4, 6, 2, 3, 0, 1);

    public string Name => "fft3d";
    public string Description => "3-D complex FFT (fp32) of an N^3 grid (--length N) on P x P PEs (--width P): z, x, y pencils with row and column all-to-all transposes";
    public SizeOptions Reads => SizeOptions.Width | SizeOptions.Length;

    public DemoResult Run(WaferConfig wafer, DemoSize size, SimulatorOptions options)
    {
        var p = size.Width > 0 ? size.Width : Math.Min(4, Math.Min(wafer.WidthPes, wafer.HeightPes));
        var n = size.Length > 0 ? size.Length : 2 * p;
        if (p > wafer.WidthPes || p > wafer.HeightPes) throw new WaferInputException($"{Name}: {p} x {p} PEs do not fit the {wafer.WidthPes} x {wafer.HeightPes} wafer");
        if (n < 2 || !BitOperations.IsPow2(n)) throw new WaferInputException($"{Name}: --length N must be a power of two >= 2 (is {n})");
        if (n % p != 0) throw new WaferInputException($"{Name}: --length N ({n}) must be a multiple of --width P ({p}): each PE holds an N/P x N/P block of pencils");
        int q = n / p, m = q * q;
        var bytes = 4L * (4L * n * m + 2L * m);
        if (bytes > wafer.UsableSramBytesPerPe)
            throw new WaferInputException($"{Name}: the {n}^3 grid on {p} x {p} PEs needs {bytes:N0} bytes of SRAM per PE (two {n} x {m} complex arrays and a temporary); a PE has {wafer.UsableSramBytesPerPe:N0}: use more PEs");
        var layout = new FabricLayout(p, p);
        AllToAll.Route(layout, p, p, columns: false, RowLanes);
        AllToAll.Route(layout, p, p, columns: true, ColumnLanes);
        layout.SetCode((x, y) => Code(x, y, p, n));
        var sim = new Simulator(wafer, layout, options);

        // The grid, x-major: grid[(X n + Y) n + Z]; PE (px, py) holds A[z][xl q + yl] = grid[px q + xl][py q + yl][z].
        var rng = new Random(Seeds.For(size.Seed, p, n));
        var grid = new Complex[n * n * n];
        for (var i = 0; i < grid.Length; i++) grid[i] = new Complex((float)(rng.NextDouble() * 2 - 1), (float)(rng.NextDouble() * 2 - 1));
        var perPe = 2 * n * m;
        var input = new float[p * p * perPe];
        for (var py = 0; py < p; py++)
            for (var px = 0; px < p; px++)
                for (var z = 0; z < n; z++)
                    for (var xl = 0; xl < q; xl++)
                        for (var yl = 0; yl < q; yl++)
                        {
                            var v = grid[((px * q + xl) * n + py * q + yl) * n + z];
                            var at = (py * p + px) * perPe + (z * m + xl * q + yl) * 2;
                            input[at] = (float)v.Real;
                            input[at + 1] = (float)v.Imaginary;
                        }
        sim.Host.MemcpyH2D("a", 0, 0, p, p, input, perPe);
        sim.Launch(StartTask);
        sim.Run();
        var got = sim.Host.MemcpyD2H("a", 0, 0, p, p, perPe);

        var spectrum = Reference(grid, n);
        var scale = spectrum.Max(c => c.Magnitude);
        double maxErr = 0;
        var bits = BitOperations.Log2((uint)n);
        for (var py = 0; py < p; py++)
            for (var px = 0; px < p; px++)
                for (var yPos = 0; yPos < n; yPos++)
                    for (var xl = 0; xl < q; xl++)
                        for (var zl = 0; zl < q; zl++)
                        {
                            // After the three phases PE (px, py) holds A[yPos][xl q + zl]: frequencies through the bit reversal.
                            int kx = Reverse(py * q + xl, bits), ky = Reverse(yPos, bits), kz = Reverse(px * q + zl, bits);
                            var expected = spectrum[(kx * n + ky) * n + kz];
                            var at = (py * p + px) * perPe + (yPos * m + xl * q + zl) * 2;
                            maxErr = Math.Max(maxErr, Complex.Abs(new Complex(got[at], got[at + 1]) - expected));
                        }
        // fp32 rounding grows with the number of butterfly levels a value passes (3 log2 N) on values up to `scale`.
        var tolerance = 4e-7 * 3 * bits * scale;
        var parameters = new Dictionary<string, object> { ["pes"] = p, ["n"] = n, ["pencilsPerPe"] = m };
        var extra = new Dictionary<string, double>
        {
            ["points"] = (double)n * n * n,
            ["flopsCounted"] = 5.0 * n * n * n * 3 * bits, // 5 N log2 N per 1-D FFT, the usual FFT count
        };
        return new DemoResult(sim, maxErr, tolerance, parameters, extra, Model(wafer, p, n));
    }

    private static int Reverse(int v, int bits)
    {
        var r = 0;
        for (var b = 0; b < bits; b++) r |= ((v >> b) & 1) << (bits - 1 - b);
        return r;
    }

    /// <summary>The 3-D DFT in double, one axis at a time (O(3 N^4)): F[kx][ky][kz] = sum x[X][Y][Z] e^(-2 pi i (kx X + ky Y
    /// + kz Z) / N).</summary>
    internal static Complex[] Reference(Complex[] grid, int n)
    {
        var roots = Enumerable.Range(0, n).Select(k => Complex.FromPolarCoordinates(1, -2 * Math.PI * k / n)).ToArray();
        var cur = (Complex[])grid.Clone();
        for (var axis = 0; axis < 3; axis++)
        {
            var next = new Complex[cur.Length];
            int stride = axis == 0 ? n * n : axis == 1 ? n : 1;
            for (var i = 0; i < cur.Length; i++)
            {
                var k = i / stride % n;
                var lineStart = i - k * stride;
                var sum = Complex.Zero;
                for (var j = 0; j < n; j++) sum += cur[lineStart + j * stride] * roots[k * j % n];
                next[i] = sum;
            }
            cur = next;
        }
        return cur;
    }

    private static PeCode Code(int px, int py, int p, int n)
    {
        int q = n / p, m = q * q, chunk = 2 * q * m;
        var code = new PeCode($"fft3d-{px}-{py}").SymbolF32("a", 2 * n * m).SymbolF32("b", 2 * n * m).SymbolF32("t", 2 * m);
        AllToAll.BindQueues(code, px, p, RowLanes);
        AllToAll.BindQueues(code, py, p, ColumnLanes);
        code.LocalTask(StartTask, ctx =>
        {
            int a = ctx.Address("a"), b = ctx.Address("b"), t = ctx.Address("t");
            Fft(ctx, a, t, n, m);
            AllToAll.Issue(ctx, px, p, chunk, a, b, RowLanes);
            // Chunk s came from PE (s, py): [zl][xl][yl] for x = s q + xl; into A as [x][zl q + yl].
            for (var s = 0; s < p; s++)
                for (var zl = 0; zl < q; zl++)
                    for (var xl = 0; xl < q; xl++)
                        ctx.Fmovs(Dsd.Mem1D(a, 2 * q, 1, ((s * q + xl) * m + zl * q) * 2), Dsd.Mem1D(b, 2 * q, 1, s * chunk + (zl * q + xl) * q * 2));
            Fft(ctx, a, t, n, m);
            AllToAll.Issue(ctx, py, p, chunk, a, b, ColumnLanes);
            // Chunk s came from PE (px, s): [xl][zl][yl] for y = s q + yl; into A as [y][xl q + zl], one part at a time.
            for (var s = 0; s < p; s++)
                for (var yl = 0; yl < q; yl++)
                    for (var part = 0; part < 2; part++)
                        ctx.Fmovs(Dsd.Mem1D(a, m, 2, (s * q + yl) * m * 2 + part), Dsd.Mem1D(b, m, 2 * q, s * chunk + yl * 2 + part));
            Fft(ctx, a, t, n, m);
        });
        return code;
    }

    /// <summary>Radix-2 decimation-in-frequency FFT of length n over the m pencils of A ([position][pencil][re, im] at
    /// byte address a), t a temporary of m complex values. Per butterfly (u, v = u + h, twiddle w = e^(-2 pi i j / 2h)):
    /// t = u - v, u = u + v, v = t w (a copy when j = 0); each line a vector op over the m pencils.</summary>
    private static void Fft(TaskContext ctx, int a, int t, int n, int m)
    {
        Dsd Re(int pos) => Dsd.Mem1D(a, m, 2, 2 * m * pos);
        Dsd Im(int pos) => Dsd.Mem1D(a, m, 2, 2 * m * pos + 1);
        Dsd tRe = Dsd.Mem1D(t, m, 2, 0), tIm = Dsd.Mem1D(t, m, 2, 1);
        for (var h = n / 2; h >= 1; h /= 2)
            for (var block = 0; block < n; block += 2 * h)
                for (var j = 0; j < h; j++)
                {
                    int u = block + j, v = u + h;
                    ctx.Fsubs(tRe, Re(u), Re(v));
                    ctx.Fsubs(tIm, Im(u), Im(v));
                    ctx.Fadds(Re(u), Re(u), Re(v));
                    ctx.Fadds(Im(u), Im(u), Im(v));
                    if (j == 0)
                    {
                        ctx.Fmovs(Re(v), tRe);
                        ctx.Fmovs(Im(v), tIm);
                        continue;
                    }
                    var angle = -Math.PI * j / h;
                    float wr = (float)Math.Cos(angle), wi = (float)Math.Sin(angle);
                    ctx.Fmuls(Re(v), tRe, wr);
                    ctx.Fmacs(Re(v), Re(v), tIm, -wi);
                    ctx.Fmuls(Im(v), tRe, wi);
                    ctx.Fmacs(Im(v), Im(v), tIm, wr);
                }
    }

    /// <summary>Cycle model (docs/kernels.md): every PE does the same local work, so the phases add up. An FFT is its ops'
    /// SU + ceil(m / width) each (stride-2 operands keep the full width; no bank rule applies to strided sources); the
    /// row transpose is AllToAll.Finish from the cycle the FFT ends, per px; the row reorder p q² copies of 2q values; the
    /// column transpose starts on column px when its PEs are done (all at once) and takes AllToAll.Finish's time per py;
    /// the column reorder 2 p q copies of q² values whose source stride 2q caps the width; then the last FFT.</summary>
    public static long Model(WaferConfig c, int p, int n)
    {
        int q = n / p, m = q * q, chunk = 2 * q * m;
        long Op(int len, int width) => OpCycles.Memory(c, len, width);
        int add = c.SimdWidthFp32Add, mul = c.SimdWidthFp32Mul;
        long fft = 0;
        for (var h = n / 2; h >= 1; h /= 2)
            fft += (long)(n / (2 * h)) * (h * 4 * Op(m, add) + 2 * Op(m, add) + (h - 1) * 4 * Op(m, mul));
        var start = c.TaskStartCycles + fft;
        var rowDone = AllToAll.Finish(c, p, chunk, start).Max();
        var rowReorder = (long)p * q * q * Op(2 * q, add);
        var columnStart = rowDone + rowReorder + fft;
        var columnDone = AllToAll.Finish(c, p, chunk, columnStart).Max();
        var columnWidth = Math.Min(Dsd.Mem1D(0, m, 2 * q).StrideWidthCap(add), Dsd.Mem1D(0, m, 2).StrideWidthCap(add));
        var columnReorder = 2L * p * q * Op(m, columnWidth);
        return columnDone + columnReorder + fft;
    }
}
