// Row broadcast: PE (0, y) multicasts its vector along row y (rx RAMP/WEST, tx {RAMP, EAST}); every PE of the row
// receives it into memory with a fabin DSD. Rows work in parallel.
using Wafer.Fabric;
using Wafer.Fabric.Config;
using Wafer.Fabric.Engine;
using Wafer.Fabric.Pe;
using Wafer.Fabric.Routing;

namespace Wafer.Kernels.Proofs;

public sealed class RowBroadcast : IFabricDemo
{
    public const int StartTask = 10;
    private const int Color = 0;
    public string Name => "broadcast";
    public string Description => "row broadcast: PE (0,y) multicasts a vector to every PE of its row";
    public SizeOptions Reads => SizeOptions.Width | SizeOptions.Height | SizeOptions.Length;

    public DemoResult Run(WaferConfig wafer, DemoSize size, SimulatorOptions options)
    {
        var w = size.Width > 0 ? size.Width : Math.Min(8, wafer.WidthPes);
        var h = size.Height > 0 ? size.Height : Math.Min(8, wafer.HeightPes);
        var n = size.Length > 0 ? size.Length : 32;
        var layout = new FabricLayout(w, h);
        for (var y = 0; y < h; y++)
            for (var x = 0; x < w; x++)
            {
                if (w == 1) break;
                if (x == 0) layout.Route(x, y, Color, Ports.Ramp, Ports.East);
                else if (x == w - 1) layout.Route(x, y, Color, Ports.West, Ports.Ramp);
                else layout.Route(x, y, Color, Ports.West, Ports.Ramp | Ports.East);
            }
        var root = new PeCode("root").SymbolF32("src", n).SymbolF32("dst", n)
            .LocalTask(StartTask, ctx => ctx.Fmovs(ctx.Mem("dst"), ctx.Mem("src")));
        if (w > 1)
        {
            root.OutputQueue(Chains.RowOutQueue, Color);
            root.LocalTask(StartTask + 1, ctx => ctx.Fmovs(Dsd.FabOut(Color, n, Chains.RowOutQueue), ctx.Mem("src")));
        }
        var leaf = new PeCode("leaf").SymbolF32("dst", n).InputQueue(Chains.RowInQueue, Color)
            .LocalTask(StartTask, ctx => ctx.Fmovs(ctx.Mem("dst"), Dsd.FabIn(Color, n, Chains.RowInQueue)));
        layout.SetCode((x, _) => x == 0 ? root : leaf);
        var sim = new Simulator(wafer, layout, options);

        var data = new float[h * n];
        for (var y = 0; y < h; y++)
        {
            var rng = new Random(Seeds.For(size.Seed, 0, y));
            for (var i = 0; i < n; i++) data[y * n + i] = (float)rng.NextDouble();
        }
        sim.Host.MemcpyH2D("src", 0, 0, 1, h, data, n);
        sim.Launch(StartTask);
        if (w > 1) sim.Launch(StartTask + 1, 0, 0, 1, h);
        sim.Run();
        var got = sim.Host.MemcpyD2H("dst", 0, 0, w, h, n);
        double maxErr = 0;
        for (var y = 0; y < h; y++)
            for (var x = 0; x < w; x++)
                for (var i = 0; i < n; i++)
                    maxErr = Math.Max(maxErr, Math.Abs(got[(y * w + x) * n + i] - data[y * n + i]));
        var parameters = new Dictionary<string, object> { ["width"] = w, ["height"] = h, ["length"] = n };
        return new DemoResult(sim, maxErr, 0, parameters, new Dictionary<string, double>(), CycleModels.Broadcast(wafer, w, n));
    }
}
