// 2-D allreduce: the chain reduce of `reduce` (rows east, the last column north; the sum lands on PE (W-1, 0)), then
// that PE multicasts the sum back to every PE (row 0 westwards, every column southwards) on a fifth color. Every PE
// ends with the sum of all W x H vectors.
using Wafer.Fabric.Config;
using Wafer.Fabric.Engine;
using Wafer.Fabric.Pe;
using Wafer.Kernels.Proofs;

namespace Wafer.Kernels.Collectives;

public sealed class AllReduce : IFabricDemo
{
    public const int StartTask = 10;
    private const int BroadcastColor = 4;
    public string Name => "allreduce";
    public string Description => "2-D allreduce: chain reduce to PE (W-1,0), then a 2-D multicast of the sum back to every PE";
    public SizeOptions Reads => SizeOptions.Width | SizeOptions.Height | SizeOptions.Length;

    public DemoResult Run(WaferConfig wafer, DemoSize size, SimulatorOptions options)
    {
        var w = size.Width > 0 ? size.Width : Math.Min(8, wafer.WidthPes);
        var h = size.Height > 0 ? size.Height : Math.Min(8, wafer.HeightPes);
        var n = size.Length > 0 ? size.Length : 32;
        var layout = new FabricLayout(w, h);
        ChainReduce.Routes(layout, w, h);
        Multicast.FromRowZeroEnd(layout, w, h, w - 1, BroadcastColor);
        var codes = new Dictionary<(int, int), PeCode>();
        layout.SetCode((x, y) =>
        {
            if (!codes.TryGetValue((x, y), out var code)) codes[(x, y)] = code = Code(x, y, w, h, n);
            return code;
        });
        var sim = new Simulator(wafer, layout, options);
        var data = Collectives.VectorInputs.LoadAndRun(sim, size.Seed, w, h, n, StartTask);
        var got = sim.Host.MemcpyD2H("v", 0, 0, w, h, n);
        double maxErr = 0, tol = 0;
        for (var i = 0; i < n; i++)
        {
            double sum = 0, mag = 0;
            for (var p = 0; p < w * h; p++) { sum += data[p * n + i]; mag += Math.Abs(data[p * n + i]); }
            tol = Math.Max(tol, 2e-6 * mag);
            for (var p = 0; p < w * h; p++) maxErr = Math.Max(maxErr, Math.Abs(got[p * n + i] - sum));
        }
        var parameters = new Dictionary<string, object> { ["width"] = w, ["height"] = h, ["length"] = n };
        return new DemoResult(sim, maxErr, tol, parameters, new Dictionary<string, double>(), CollectiveModels.AllReduce(wafer, w, h, n));
    }

    private static PeCode Code(int x, int y, int w, int h, int n)
    {
        var code = new PeCode($"allreduce-{x}-{y}").SymbolF32("v", n);
        ChainReduce.DeclareQueues(code, x, y, w, h);
        var isRoot = x == w - 1 && y == 0;
        var single = w * h == 1;
        if (!single)
        {
            if (isRoot) code.OutputQueue(Multicast.OutQueue, BroadcastColor);
            else code.InputQueue(Multicast.InQueue, BroadcastColor);
        }
        code.LocalTask(StartTask, ctx =>
        {
            var v = ctx.Mem("v");
            ChainReduce.IssueReduce(ctx, v, x, y, w, h, n);
            if (single) return;
            if (isRoot) ctx.Fmovs(Dsd.FabOut(BroadcastColor, n, Multicast.OutQueue), v);
            else ctx.Fmovs(v, Dsd.FabIn(BroadcastColor, n, Multicast.InQueue));
        });
        return code;
    }
}
