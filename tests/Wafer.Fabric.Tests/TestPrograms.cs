// Small fabric programs shared by the fabric tests.
using Wafer.Fabric.Config;
using Wafer.Fabric.Engine;
using Wafer.Fabric.Pe;
using Wafer.Fabric.Routing;

namespace Wafer.Fabric.Tests;

internal static class TestPrograms
{
    public static WaferConfig Wafer(int w, int h, int hop = 1, int ramp = 2) =>
        WaferPresets.Tiny with { WidthPes = w, HeightPes = h, HopLatencyCycles = hop, RampLatencyCycles = ramp };

    /// <summary>A row of PEs: PE 0 sends <paramref name="n"/> values of "src" East on color 0; the last PE stores them into "dst";
    /// PEs in between forward. Returns the simulator (not yet run) with the sender launched.</summary>
    public static Simulator Row(int width, int n, int hop = 1, int ramp = 2, int threads = 1, int sinkTaskCycles = 0, SimulatorOptions? options = null)
    {
        var layout = new FabricLayout(width, 1);
        var sender = new PeCode("sender").SymbolF32("src", Enumerable.Range(0, n).Select(i => (float)i + 1).ToArray())
            .OutputQueue(2, 0)
            .LocalTask(10, ctx => ctx.Fmovs(Dsd.FabOut(0, n, 2), ctx.Mem("src")));
        PeCode sink;
        if (sinkTaskCycles == 0)
            sink = new PeCode("sink").SymbolF32("dst", n).InputQueue(1, 0)
                .LocalTask(10, ctx => ctx.Fmovs(ctx.Mem("dst"), Dsd.FabIn(0, n, 1)));
        else
        {
            // A slow sink: a data task per wavelet that stores it and spends sinkTaskCycles of scalar work.
            var count = 0;
            sink = new PeCode("slow-sink").SymbolF32("dst", n).InputQueue(1, 0)
                .DataTask(0, ctx => { ctx.StoreF32(ctx.Address("dst") + 4 * (count++ % n), ctx.ArgF32); ctx.Scalar(sinkTaskCycles); });
            sink.LocalTask(10, _ => { });
        }
        layout.SetCode(0, 0, sender);
        layout.SetCode(width - 1, 0, sink);
        layout.Route(0, 0, 0, Ports.Ramp, Ports.East);
        for (var x = 1; x < width - 1; x++) layout.Route(x, 0, 0, Ports.West, Ports.East);
        layout.Route(width - 1, 0, 0, Ports.West, Ports.Ramp);
        var sim = new Simulator(Wafer(width, 1, hop, ramp), layout, options ?? new SimulatorOptions { Threads = threads });
        sim.Launch(10, 0, 0, 1, 1);
        if (sinkTaskCycles == 0) sim.Launch(10, width - 1, 0, 1, 1);
        return sim;
    }
}
