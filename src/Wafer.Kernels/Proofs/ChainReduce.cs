// Chain reduce of a vector over a W x H grid: partial sums flow east along every row (fabin + local -> fabout), then
// the last column's row totals flow north; PE (W-1, 0) ends with the sum of all W*H vectors.
using Wafer.Fabric;
using Wafer.Fabric.Config;
using Wafer.Fabric.Engine;
using Wafer.Fabric.Pe;

namespace Wafer.Kernels.Proofs;

public sealed class ChainReduce : IFabricDemo
{
    public const int StartTask = 10;
    private const int RowBase = 0, ColumnBase = 2;
    public string Name => "reduce";
    public string Description => "chain reduce: row chains east, then the last column's chain north; the sum lands on PE (W-1, 0)";
    public SizeOptions Reads => SizeOptions.Width | SizeOptions.Height | SizeOptions.Length;

    public DemoResult Run(WaferConfig wafer, DemoSize size, SimulatorOptions options)
    {
        var w = size.Width > 0 ? size.Width : Math.Min(8, wafer.WidthPes);
        var h = size.Height > 0 ? size.Height : Math.Min(8, wafer.HeightPes);
        var n = size.Length > 0 ? size.Length : 32;
        var layout = new FabricLayout(w, h);
        Routes(layout, w, h);
        var codes = new Dictionary<(int, int, int, int), PeCode>();
        layout.SetCode((x, y) =>
        {
            var key = (x == 0 ? 0 : x == w - 1 ? 2 : 1, x & 1, x == w - 1 ? (y == 0 ? 0 : y == h - 1 ? 2 : 1) : -1, y & 1);
            if (!codes.TryGetValue(key, out var code)) codes[key] = code = Code(x, y, w, h, n);
            return code;
        });
        var sim = new Simulator(wafer, layout, options);
        var data = Collectives.VectorInputs.LoadAndRun(sim, size.Seed, w, h, n, StartTask);
        var got = sim.Host.MemcpyD2H("v", w - 1, 0, 1, 1, n);
        double maxErr = 0, tol = 0;
        for (var i = 0; i < n; i++)
        {
            double sum = 0, mag = 0;
            for (var p = 0; p < w * h; p++) { sum += data[p * n + i]; mag += Math.Abs(data[p * n + i]); }
            maxErr = Math.Max(maxErr, Math.Abs(got[i] - sum));
            tol = Math.Max(tol, 2e-6 * mag);
        }
        var parameters = new Dictionary<string, object> { ["width"] = w, ["height"] = h, ["length"] = n };
        return new DemoResult(sim, maxErr, tol, parameters, new Dictionary<string, double>(), CycleModels.Reduce(wafer, w, h, n));
    }

    private static PeCode Code(int x, int y, int w, int h, int n)
    {
        var code = new PeCode($"reduce-{x}-{y}").SymbolF32("v", n);
        DeclareQueues(code, x, y, w, h);
        code.LocalTask(StartTask, ctx => IssueReduce(ctx, ctx.Mem("v"), x, y, w, h, n));
        return code;
    }

    /// <summary>The queues PE (x, y) uses for the reduce: row chain in/out, and on the last column the column chain.</summary>
    internal static void DeclareQueues(PeCode code, int x, int y, int w, int h)
    {
        int rIn = Chains.RowColor(x - 1, RowBase), rOut = Chains.RowColor(x, RowBase);
        int cIn = Chains.ColumnColor(y + 1, ColumnBase), cOut = Chains.ColumnColor(y, ColumnBase);
        var lastColumn = x == w - 1;
        if (x > 0) code.InputQueue(Chains.RowInQueue, rIn);
        if (!lastColumn) code.OutputQueue(Chains.RowOutQueue, rOut);
        if (lastColumn && y < h - 1) code.InputQueue(Chains.ColumnInQueue, cIn);
        if (lastColumn && y > 0) code.OutputQueue(Chains.ColumnOutQueue, cOut);
    }

    /// <summary>Routes of the reduce: every row chain east on colors 0/1, the last column's chain north on 2/3.</summary>
    internal static void Routes(FabricLayout layout, int w, int h)
    {
        for (var y = 0; y < h; y++) Chains.RowChain(layout, y, w, RowBase);
        Chains.ColumnChain(layout, w - 1, h, ColumnBase);
    }

    /// <summary>PE (x, y)'s part of the reduce of v: row partial sums east, then the last column's north; the total
    /// lands in v on PE (w - 1, 0).</summary>
    internal static void IssueReduce(TaskContext ctx, Dsd v, int x, int y, int w, int h, int n)
    {
        int rIn = Chains.RowColor(x - 1, RowBase), rOut = Chains.RowColor(x, RowBase);
        int cIn = Chains.ColumnColor(y + 1, ColumnBase), cOut = Chains.ColumnColor(y, ColumnBase);
        if (x != w - 1)
        {
            if (x == 0) ctx.Fmovs(Dsd.FabOut(rOut, n, Chains.RowOutQueue), v);
            else ctx.Fadds(Dsd.FabOut(rOut, n, Chains.RowOutQueue), Dsd.FabIn(rIn, n, Chains.RowInQueue), v);
            return;
        }
        if (x > 0) ctx.Fadds(v, Dsd.FabIn(rIn, n, Chains.RowInQueue), v);
        if (h == 1) return;
        if (y == h - 1) ctx.Fmovs(Dsd.FabOut(cOut, n, Chains.ColumnOutQueue), v);
        else if (y > 0) ctx.Fadds(Dsd.FabOut(cOut, n, Chains.ColumnOutQueue), Dsd.FabIn(cIn, n, Chains.ColumnInQueue), v);
        else ctx.Fadds(v, Dsd.FabIn(cIn, n, Chains.ColumnInQueue), v);
    }
}
