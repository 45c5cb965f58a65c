// A mostly idle fabric: one stream of wavelets crosses row 0 of the full rectangle from west to east while every
// other PE idles. It measures that idle PEs cost the simulator nothing (docs/design.md §2.1 activity set).
using Wafer.Core;
using Wafer.Fabric.Config;
using Wafer.Fabric.Engine;
using Wafer.Fabric.Pe;
using Wafer.Fabric.Routing;

namespace Wafer.Kernels.Proofs;

public sealed class RowStream : IFabricDemo
{
    public const int StartTask = 10;
    private const int Color = 0;
    public string Name => "stream";
    public string Description => "mostly idle fabric: a vector streams along row 0 of the whole rectangle; every other PE idles";
    public SizeOptions Reads => SizeOptions.Width | SizeOptions.Height | SizeOptions.Length;

    public DemoResult Run(WaferConfig wafer, DemoSize size, SimulatorOptions options)
    {
        var w = size.Width > 0 ? size.Width : wafer.WidthPes;
        var h = size.Height > 0 ? size.Height : wafer.HeightPes;
        var n = size.Length > 0 ? size.Length : 256;
        if (w < 2) throw new Wafer.Core.WaferInputException($"{Name}: needs a width of at least 2 PEs (got {w})");
        var layout = new FabricLayout(w, h);
        layout.Route(0, 0, Color, Ports.Ramp, Ports.East);
        for (var x = 1; x < w - 1; x++) layout.Route(x, 0, Color, Ports.West, Ports.East);
        layout.Route(w - 1, 0, Color, Ports.West, Ports.Ramp);
        layout.SetCode(0, 0, new PeCode("source").SymbolF32("v", n).OutputQueue(Chains.RowOutQueue, Color)
            .LocalTask(StartTask, ctx => ctx.Fmovs(Dsd.FabOut(Color, n, Chains.RowOutQueue), ctx.Mem("v"))));
        layout.SetCode(w - 1, 0, new PeCode("sink").SymbolF32("v", n).InputQueue(Chains.RowInQueue, Color)
            .LocalTask(StartTask, ctx => ctx.Fmovs(ctx.Mem("v"), Dsd.FabIn(Color, n, Chains.RowInQueue))));
        var sim = new Simulator(wafer, layout, options);
        var data = Enumerable.Range(0, n).Select(i => (float)Math.Cos(i + size.Seed)).ToArray();
        sim.Host.MemcpyH2D("v", 0, 0, 1, 1, data, n);
        sim.Launch(StartTask, 0, 0, w, 1);
        sim.Run();
        var got = sim.Host.MemcpyD2H("v", w - 1, 0, 1, 1, n);
        var maxErr = got.Zip(data, (a, b) => (double)Math.Abs(a - b)).Max();
        var parameters = new Dictionary<string, object> { ["width"] = w, ["height"] = h, ["length"] = n };
        return new DemoResult(sim, maxErr, 0, parameters, new Dictionary<string, double>(), CycleModels.Stream(wafer, w, n));
    }
}
