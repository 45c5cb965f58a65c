// MeshGEMV (WaferLLM, OSDI'25): y[1, N] = x[1, M] A[M, N] in fp16 on a W x H grid. PE (px, py) holds the chunk px of x
// (Mt = M / W values) and the block A[px chunk, py chunk] (Mt x Nt, Nt = N / H); it computes its partial y chunk with
// Mt @fmach over rows of the block (4-wide fp16 SIMD), then every row of PEs allreduces its partial chunks with the
// centred K-tree (CenteredKTree, K = 2 by default): PE (px, py) ends with y chunk py. WaferLLM lays the same product out
// transposed (x chunks down columns, the allreduce along columns); on a symmetric mesh the cycles are the same.
// --length = Mt, --block = Nt, --outputs = K (levels), width/height the grid.
using Wafer.Core;
using Wafer.Fabric;
using Wafer.Fabric.Config;
using Wafer.Fabric.Engine;
using Wafer.Fabric.Pe;

namespace Wafer.Kernels.Collectives;

public sealed class MeshGemv : IFabricDemo
{
    public const int StartTask = 10;
    public string Name => "meshgemv";
    public string Description => "MeshGEMV (WaferLLM): fp16 x·A with blocks of A per PE (--length Mt, --block Nt), then a centred K-tree allreduce along rows (--outputs K, default 2)";
    public SizeOptions Reads => SizeOptions.Width | SizeOptions.Height | SizeOptions.Length | SizeOptions.Block | SizeOptions.Outputs;

    /// <summary>The group size of a K-level tree over w PEs: the smallest g with g^K >= w.</summary>
    public static int FanIn(int w, int k)
    {
        var g = 2;
        while (Math.Pow(g, k) < w) g++;
        return g;
    }

    public DemoResult Run(WaferConfig wafer, DemoSize size, SimulatorOptions options)
    {
        var w = size.Width > 0 ? size.Width : Math.Min(8, wafer.WidthPes);
        var h = size.Height > 0 ? size.Height : Math.Min(2, wafer.HeightPes);
        var mt = size.Length > 0 ? size.Length : 16;
        var nt = size.Block > 0 ? size.Block : 16;
        var k = size.Outputs > 0 ? size.Outputs : 2;
        if (w > wafer.WidthPes || h > wafer.HeightPes) throw new WaferInputException($"{Name}: {w} x {h} PEs do not fit the {wafer.WidthPes} x {wafer.HeightPes} wafer");
        var tree = new CenteredKTree(w, k, FanIn(w, k), baseColor: 0);
        if (tree.BroadcastQueue >= wafer.InputQueueDepthWords.Length)
            throw new WaferInputException($"{Name}: {tree.Levels} levels need {tree.BroadcastQueue + 1} input queues; the PE has {wafer.InputQueueDepthWords.Length}");
        var layout = new FabricLayout(w, h);
        for (var y = 0; y < h; y++) tree.Routes(layout, y);
        var codes = new Dictionary<int, PeCode>();
        layout.SetCode((x, _) =>
        {
            if (!codes.TryGetValue(x, out var code)) codes[x] = code = Code(tree, x, mt, nt);
            return code;
        });
        var sim = new Simulator(wafer, layout, options);
        var rng = new Random(Seeds.For(size.Seed, w, h));
        // fp16 inputs in [0, 1) (as WaferLLM's benchmark); the host keeps the fp16-rounded values for the reference.
        var xs = new float[w * mt];
        var a = new float[w * mt * h * nt]; // A[m, n], m = px * mt + i, n = py * nt + j
        for (var i = 0; i < xs.Length; i++) xs[i] = (float)(Half)rng.NextDouble();
        for (var i = 0; i < a.Length; i++) a[i] = (float)(Half)rng.NextDouble();
        var n = h * nt;
        var blocks = new float[w * h * mt * nt];
        var xPerPe = new float[w * h * mt];
        for (var py = 0; py < h; py++)
            for (var px = 0; px < w; px++)
            {
                var pe = py * w + px;
                for (var i = 0; i < mt; i++)
                {
                    xPerPe[pe * mt + i] = xs[px * mt + i];
                    for (var j = 0; j < nt; j++) blocks[(pe * mt + i) * nt + j] = a[(px * mt + i) * n + py * nt + j];
                }
            }
        sim.Host.MemcpyH2DF16("A", 0, 0, w, h, blocks, mt * nt);
        sim.Host.MemcpyH2DF16("x", 0, 0, w, h, xPerPe, mt);
        sim.Launch(StartTask);
        sim.Run();
        var got = sim.Host.MemcpyD2HF16("y", 0, 0, w, h, nt);
        double maxErr = 0, tol = 0;
        for (var py = 0; py < h; py++)
            for (var j = 0; j < nt; j++)
            {
                double sum = 0;
                for (var m = 0; m < w * mt; m++) sum += (double)xs[m] * a[m * n + py * nt + j];
                // fp16 rounds every product-add on a PE and every add of the reduction: about (Mt + W) half-ulps of the sum.
                tol = Math.Max(tol, (mt + w + 2) * Math.Abs(sum) * Math.Pow(2, -11));
                for (var px = 0; px < w; px++) maxErr = Math.Max(maxErr, Math.Abs(got[(py * w + px) * nt + j] - sum));
            }
        var parameters = new Dictionary<string, object>
        {
            ["width"] = w, ["height"] = h, ["mt"] = mt, ["nt"] = nt, ["levels"] = tree.Levels, ["fanIn"] = FanIn(w, k), ["rootX"] = tree.RootX,
        };
        return new DemoResult(sim, maxErr, tol, parameters, new Dictionary<string, double>(), Model(wafer, tree, w, mt, nt));
    }

    /// <summary>Symbol layout: y first, then x, then A starting 8 bytes past a 16-byte boundary, so that y and every row
    /// of A (when Nt is a multiple of 8) sit 4 banks apart and the @fmach runs at full width (docs/sources.md §2.3).</summary>
    internal static (int Y, int X, int A) Addresses(int mt, int nt)
    {
        var y = 0;
        var x = (2 * nt + 3) & ~3;
        var a = (x + 2 * mt + 3) & ~3;
        var pad = ((8 - a % 16) + 16) % 16;
        return (y, x, a + pad);
    }

    private static PeCode Code(CenteredKTree tree, int px, int mt, int nt)
    {
        var (yAddr, xAddr, aAddr) = Addresses(mt, nt);
        var code = new PeCode($"meshgemv-{px}").Symbol("y", 2 * nt).Symbol("x", aAddr - xAddr).Symbol("A", 2 * mt * nt);
        tree.DeclareQueues(code, px);
        code.LocalTask(StartTask, ctx =>
        {
            var y = Dsd.Mem1D(yAddr, nt);
            // y = A[0, :] x[0], then y += A[i, :] x[i]: one loop step (1 scalar cycle) and one @fmach per row.
            ctx.Fmulh(y, Dsd.Mem1D(aAddr, nt), Operand.Mem(xAddr));
            for (var i = 1; i < mt; i++)
            {
                ctx.Scalar(1);
                ctx.Fmach(y, y, Dsd.Mem1D(aAddr + 2 * i * nt, nt), ScalarOperand.Mem(xAddr + 2 * i));
            }
            tree.Issue(ctx, y, px, nt);
        });
        return code;
    }

    /// <summary>The local product: TS, then an @fmulh and Mt - 1 loop steps and @fmach, each SU + ceil(Nt / width)
    /// (the fp16 width, halved where A's row and y break the bank rule); then the allreduce (CenteredKTree.ModelCycles).</summary>
    public static long Model(WaferConfig c, CenteredKTree tree, int w, int mt, int nt)
    {
        long ts = c.TaskStartCycles, su = c.DsdOpStartupCycles;
        var (yAddr, _, aAddr) = Addresses(mt, nt);
        // fmulh reads one vector operand (no conflict); fmach reads y and the row.
        long Op(int row) => OpCycles.Memory(c, nt, c.SimdWidthFp16, row > 0 ? yAddr : -1, aAddr + 2 * row * nt);
        var compute = ts;
        for (var i = 0; i < mt; i++) compute += (i > 0 ? 1 : 0) + Op(i);
        var issue = new long[w];
        Array.Fill(issue, compute);
        return tree.ModelCycles(c, issue, nt);
    }
}
